package org.rtgate.im.examples;

// The 2014 Android docs' snippets (reference/avos-realtime-v1-docs.txt,
// Android sections), unchanged except these imports: the app imported
// com.avos.avoscloud.* and android.content.Context.
import java.util.Arrays;
import java.util.List;
import org.rtgate.im.AVGroupMessage;
import org.rtgate.im.AVMessage;
import org.rtgate.im.AVOSCloud;
import org.rtgate.im.Group;
import org.rtgate.im.SessionManager;

/** The docs' snippets, one method each, in the order the docs give them. */
public final class DocsSnippets {
    private DocsSnippets() {}

    /** 打开Session */
    public static void open(String selfId, List<String> watchedIds) {
        SessionManager session =
        SessionManager.getInstance(selfId);//获取SessionManager实例,以便于后续的操作
        session.setSignatureFactory(new SomeSignatureFactory(AVOSCloud.applicationId));
        session.open(watchedIds); //打开Session,同时关注一些peer Id
    }

    /** 关注和取消关注 */
    public static void watch(String selfId, List<String> peerIds) {
        SessionManager session = SessionManager.getInstance(selfId);
        session.watchPeers(peerIds);
    }

    public static void unwatch(String selfId, List<String> peerIds) {
        SessionManager session = SessionManager.getInstance(selfId);
        session.unwatchPeers(peerIds);
    }

    /** 发送消息 */
    public static void send(String selfId, String msg, List<String> peers, boolean isTransient) {
        SessionManager session = SessionManager.getInstance(selfId);
        session.sendMessage(new AVMessage(msg, peers, isTransient));
        //isTransient表示的是否是一个即时消息,如果是true,则表示只有当接收方为在线才能看到这个消息;如为false,则接收方可以通过推送,离线消息等方式收到这则消息
    }

    /** 新建一个聊天室 */
    public static Group createGroup(String selfId) {
        Group group = SessionManager.getInstance(selfId).getGroup();//新建一个聊天室
        //Group group = SessionManager.getInstance(selfId).getGroup(groupId); 加入一个已经存在的聊天室
        group.join();
        return group;
    }

    /** 加入一个已经存在的聊天室 */
    public static void joinGroup(String selfId, String groupId) {
        Group group = SessionManager.getInstance(selfId).getGroup(groupId);
        group.join();
    }

    /** 邀请和踢出 */
    public static void inviteAndKick(String selfId, String groupId) {
        Group group = SessionManager.getInstance(selfId).getGroup(groupId);
        List<String> toInvite = Arrays.asList("peerId1","peerId2","peerId3");
        group.inviteMember(toInvite);
        List<String> toKickOff = Arrays.asList("badBoy1","badBoy2");
        group.kickMembers(toKickOff);
    }

    /** 向聊天室发送消息 */
    public static void sendToGroup(String selfId, String groupId) {
        Group group = SessionManager.getInstance(selfId).getGroup(groupId);
        group.sendMessage(new AVGroupMessage("hello world"));
    }
}

package org.rtgate.im.examples;

// As in the docs, with only the imports changed (android.content.Context and
// com.avos.avoscloud.* before).
import java.util.List;
import org.rtgate.im.AVMessage;
import org.rtgate.im.AVMessageReceiver;
import org.rtgate.im.Context;
import org.rtgate.im.Session;

/** The docs' AVMessageReceiver subclass: every callback the docs list. */
public class ChatDemoMessageReceiver extends AVMessageReceiver {
    /**
     * 当服务器成功与客户端打开session时产生本次回调。在session.open调用成功以后会
     *
     * @param session
     */
    @Override
    public void onSessionOpen(Context context, Session session) {
        ChatLog.add(session.getSelfPeerId() + " open");
    }

    /**
     * 在session 暂停时调用,一般都是由网络连接丢失导致的隐性调用
     *
     * @param session
     */
    @Override
    public void onSessionPaused(Context context, Session session) {
        ChatLog.add(session.getSelfPeerId() + " paused");
    }

    /**
     * Session 恢复时,一般都是网络连接恢复以后的
     *
     * 恢复之后可以通知UI,尝试重发失败消息等
     * @param session
     */
    @Override
    public void onSessionResumed(Context context, Session session) {
        ChatLog.add(session.getSelfPeerId() + " resumed");
    }

    /**
     * 从某个Peer接收到消息时,会收到一次调用
     *
     * @param session
     * @param msg 包含更多信息,包括来自服务器的timestamp,表示消息发送时间
     */
    @Override
    public void onMessage(Context context, Session session, AVMessage msg) {
        ChatLog.add(session.getSelfPeerId() + " got " + msg.getMessage() + " from " + msg.getFromPeerId());
    }

    /**
     * 服务器反馈消息已经成功发送时,会收到调用
     *
     * @param session
     * @param msg
     */
    @Override
    public void onMessageSent(Context context, Session session, AVMessage msg) {
        ChatLog.add(session.getSelfPeerId() + " sent " + msg.getMessage());
    }

    /**
     * 在消息发送失败时,产生的调用
     *
     * @param session
     * @param msg
     */
    @Override
    public void onMessageFailure(Context context, Session session, AVMessage msg) {
        ChatLog.add(session.getSelfPeerId() + " failed " + msg.getMessage());
    }

    /**
     * 当关注的一些peers上线时,产生的调用
     *
     * @param session
     * @param peerIds
     */
    @Override
    public void onStatusOnline(Context context, Session session, List<String> peerIds) {
        ChatLog.add(session.getSelfPeerId() + " online " + peerIds);
    }

    /**
     * 当关注的一些peers下线时,产生的调用
     *
     * @param session
     * @param peerIds
     */
    @Override
    public void onStatusOffline(Context context, Session session, List<String> peerIds) {
        ChatLog.add(session.getSelfPeerId() + " offline " + peerIds);
    }

    /**
     * 当与服务器发生交互的过程中的任何错误,都在这里被返回
     *
     * @param session
     * @param e
     */
    @Override
    public void onError(Context context, Session session, Throwable e) {
        ChatLog.add(session.getSelfPeerId() + " error " + e.getMessage());
    }
}

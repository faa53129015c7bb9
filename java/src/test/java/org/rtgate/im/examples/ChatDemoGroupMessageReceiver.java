package org.rtgate.im.examples;

import java.util.List;
import org.rtgate.im.AVGroupMessage;
import org.rtgate.im.AVGroupMessageReceiver;
import org.rtgate.im.Context;
import org.rtgate.im.Group;

/** An AVGroupMessageReceiver as the 2014 demos wrote one. */
public class ChatDemoGroupMessageReceiver extends AVGroupMessageReceiver {
    @Override
    public void onJoined(Context context, Group group) {
        ChatLog.add(group.getSelfId() + " joined " + group.getGroupId());
    }

    @Override
    public void onInvited(Context context, Group group, String byPeerId) {
        ChatLog.add(group.getSelfId() + " invited to " + group.getGroupId() + " by " + byPeerId);
    }

    @Override
    public void onKicked(Context context, Group group, String byPeerId) {
        ChatLog.add(group.getSelfId() + " kicked from " + group.getGroupId() + " by " + byPeerId);
    }

    @Override
    public void onMessageSent(Context context, Group group, AVGroupMessage message) {
        ChatLog.add(group.getSelfId() + " sent " + message.getMessage() + " to " + group.getGroupId());
    }

    @Override
    public void onMessageFailure(Context context, Group group, AVGroupMessage message) {
        ChatLog.add(group.getSelfId() + " failed " + message.getMessage() + " to " + group.getGroupId());
    }

    @Override
    public void onMessage(Context context, Group group, AVGroupMessage msg) {
        ChatLog.add(group.getSelfId() + " got " + msg.getMessage() + " in " + group.getGroupId() + " from " + msg.getFromPeerId());
    }

    @Override
    public void onQuit(Context context, Group group) {
        ChatLog.add(group.getSelfId() + " quit " + group.getGroupId());
    }

    @Override
    public void onReject(Context context, Group group, String op, List<String> targetIds) {
        ChatLog.add(group.getSelfId() + " rejected " + op + " " + targetIds);
    }

    @Override
    public void onMemberJoin(Context context, Group group, List<String> joinedPeerIds) {
        ChatLog.add(group.getSelfId() + " sees " + joinedPeerIds + " join " + group.getGroupId());
    }

    @Override
    public void onMemberLeft(Context context, Group group, List<String> leftPeerIds) {
        ChatLog.add(group.getSelfId() + " sees " + leftPeerIds + " leave " + group.getGroupId());
    }

    @Override
    public void onError(Context context, Group group, Throwable e) {
        ChatLog.add(group.getSelfId() + " group error " + e.getMessage());
    }
}

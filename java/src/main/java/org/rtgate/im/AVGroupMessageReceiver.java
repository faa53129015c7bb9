package org.rtgate.im;

import java.util.List;

/**
 * Receives group events and messages (the 2014 Android SDK's abstract group
 * receiver). Register one with {@link RealtimeConfig.Builder#groupMessageReceiver}.
 * Runs on the callback executor like {@link AVMessageReceiver}, in order
 * with it. Group messages are acknowledged after {@link #onMessage} returns.
 */
public abstract class AVGroupMessageReceiver {
    /** This peer joined the group (after {@link Group#join()}; a new group has its id now). */
    public abstract void onJoined(Context context, Group group);

    /** Another member (byPeerId) added this peer to the group. */
    public abstract void onInvited(Context context, Group group, String byPeerId);

    /** Another member (byPeerId) removed this peer from the group. */
    public abstract void onKicked(Context context, Group group, String byPeerId);

    /** A group message was acknowledged by the server. */
    public abstract void onMessageSent(Context context, Group group, AVGroupMessage message);

    /** A group message could not be sent; {@link AVMessage#getFailure()} says why. */
    public abstract void onMessageFailure(Context context, Group group, AVGroupMessage message);

    /** A message from another member. */
    public abstract void onMessage(Context context, Group group, AVGroupMessage msg);

    /** This peer left the group (after {@link Group#quit()}). */
    public abstract void onQuit(Context context, Group group);

    /**
     * The server refused op ("join", "invite" or "kick") on the group: a bad
     * signature, an unknown group, not a member, or the group is full.
     */
    public abstract void onReject(Context context, Group group, String op, List<String> targetIds);

    /** Peers joined the group (also this peer, when it joins). */
    public abstract void onMemberJoin(Context context, Group group, List<String> joinedPeerIds);

    /** Peers left or were removed from the group. */
    public abstract void onMemberLeft(Context context, Group group, List<String> leftPeerIds);

    /** Any other error of a group operation (a signature factory that threw, a server error). */
    public abstract void onError(Context context, Group group, Throwable e);
}

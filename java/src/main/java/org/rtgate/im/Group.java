package org.rtgate.im;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A chat group (v1 "room"), got from {@link Session#getGroup()} (a new
 * group, created by {@link #join()}) or {@link Session#getGroup(String)}.
 * Every method is asynchronous and reports to the config's
 * {@link AVGroupMessageReceiver}. Thread-safe.
 */
public final class Group {
    private final SessionManager session;
    private volatile String groupId;

    Group(SessionManager session, String groupId) {
        this.session = session;
        this.groupId = groupId;
    }

    /** The group id, or null for a new group not yet joined. */
    public String getGroupId() {
        return groupId;
    }

    void setGroupId(String id) {
        this.groupId = id;
    }

    /** The peer id of the session this group object belongs to. */
    public String getSelfId() {
        return session.getSelfPeerId();
    }

    /** The session this group belongs to. */
    public Session getSession() {
        return session;
    }

    /** Joins the group, creating it when it has no id yet (onJoined, or onReject). */
    public void join() {
        session.groupOp(this, "join", Collections.<String>emptyList());
    }

    /** Adds peers to the group (the members get onMemberJoin, the peers onInvited; or onReject). */
    public void inviteMember(List<String> peerIds) {
        session.groupOp(this, "invite", new ArrayList<>(peerIds));
    }

    /** Removes peers from the group (the remaining members get onMemberLeft, the peers onKicked). */
    public void kickMembers(List<String> peerIds) {
        session.groupOp(this, "kick", new ArrayList<>(peerIds));
    }

    /** Leaves the group (onQuit). */
    public void quit() {
        session.groupOp(this, "leave", Collections.<String>emptyList());
    }

    /** Sends a message to the other members (onMessageSent or onMessageFailure). */
    public void sendMessage(AVGroupMessage message) {
        message.setGroupId(groupId);
        session.sendGroup(this, message);
    }

    /** A history query for this group's messages. */
    public AVHistoryMessageQuery getHistoryMessageQuery() {
        return new AVHistoryMessageQuery(session.config, groupId);
    }

    @Override
    public String toString() {
        return "Group{" + groupId + " of " + session.getSelfPeerId() + "}";
    }
}

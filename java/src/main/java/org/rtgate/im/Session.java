package org.rtgate.im;

import java.util.List;

/**
 * A peer's realtime session, as the receivers see it. {@link SessionManager}
 * is the implementation; every method is asynchronous except
 * {@link #setSignatureFactory} and the getters, and reports through the
 * receivers of the session's {@link RealtimeConfig}.
 */
public interface Session {
    /** Opens the session and watches peerIds (onSessionOpen, then onStatusOnline). */
    void open(List<String> peerIds);

    /** Closes the session; it is not resumed until open is called again. */
    void close();

    /** Watches more peers (session add); their online subset is reported with onStatusOnline. */
    void watchPeers(List<String> peerIds);

    /** Stops watching peers (session remove). */
    void unwatchPeers(List<String> peerIds);

    /** Sends a message to its toPeerIds (onMessageSent or onMessageFailure). */
    void sendMessage(AVMessage message);

    /** True between onSessionOpen and close (also while paused). */
    boolean isOpen();

    /** True while the connection is down and the session waits to resume. */
    boolean isPaused();

    /** The watched peers known to be online now. */
    List<String> getOnlinePeers();

    /** Every watched peer. */
    List<String> getAllPeers();

    /** This session's peer id. */
    String getSelfPeerId();

    /** Sets the factory asked for a signature before open, watch and group operations. */
    void setSignatureFactory(SignatureFactory factory);

    /** A new group, created on the server by {@link Group#join()}. */
    Group getGroup();

    /** The group with this id. */
    Group getGroup(String groupId);
}

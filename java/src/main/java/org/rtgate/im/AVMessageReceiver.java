package org.rtgate.im;

import java.util.List;

/**
 * Receives everything the server says about a session (the 2014 Android
 * SDK's abstract receiver): session state, messages, acks, presence and
 * errors. Register one with {@link RealtimeConfig.Builder#messageReceiver}.
 * Methods run one at a time, in the order the events happened, on the
 * config's callback executor. A persistent message is acknowledged to the
 * server after {@link #onMessage} returns, so a message the app did not
 * finish handling is delivered again (and only once: the SDK drops ids it
 * has already handled).
 */
public abstract class AVMessageReceiver {
    /** The session opened (after {@link Session#open}). */
    public abstract void onSessionOpen(Context context, Session session);

    /** The connection was lost; the SDK reconnects and then calls onSessionResumed. */
    public abstract void onSessionPaused(Context context, Session session);

    /** The session is open again after a pause (with its watch list). */
    public abstract void onSessionResumed(Context context, Session session);

    /** A message from a peer; msg carries the server's id, time and offline flag. */
    public abstract void onMessage(Context context, Session session, AVMessage msg);

    /** The server acknowledged a sent message (a transient one: it was written to the connection). */
    public abstract void onMessageSent(Context context, Session session, AVMessage msg);

    /** A message could not be sent; {@link AVMessage#getFailure()} says why. */
    public abstract void onMessageFailure(Context context, Session session, AVMessage msg);

    /** Watched peers came online. */
    public abstract void onStatusOnline(Context context, Session session, List<String> peerIds);

    /** Watched peers went offline. */
    public abstract void onStatusOffline(Context context, Session session, List<String> peerIds);

    /** Any other error: a refused signature, a server error, a failed connection. */
    public abstract void onError(Context context, Session session, Throwable e);

    /**
     * The recipient acknowledged a message sent with
     * {@link AVMessage#setRequestReceipt(boolean)}; its receiptTimestamp is
     * set. Does nothing unless overridden (the 2014 SDK had no receipts).
     */
    public void onMessageDelivered(Context context, Session session, AVMessage msg) {}

    /** The session was closed by {@link Session#close()}. Does nothing unless overridden. */
    public void onSessionClosed(Context context, Session session) {}
}

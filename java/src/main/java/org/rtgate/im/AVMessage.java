package org.rtgate.im;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A direct message. The app fills message, toPeerIds and transient (and
 * optionally requestReceipt) before {@link Session#sendMessage}; the SDK
 * fills the rest: for a received message the server's id, fromPeerId,
 * timestamp and offline flag; for a sent one the server's id and timestamp
 * (from the ack) and, when a receipt arrives, receiptTimestamp.
 * Instances are not synchronized; the SDK writes them before the callback
 * that hands them to the app.
 */
public class AVMessage {
    private String message;
    private List<String> toPeerIds = new ArrayList<>();
    private boolean isTransient;
    private boolean requestReceipt;
    private String fromPeerId;
    private String messageId;
    private String clientId;
    private long timestamp;
    private boolean offline;
    private long receiptTimestamp;
    private Throwable failure;

    /** An empty message; set its fields before sending. */
    public AVMessage() {}

    /** A persistent message to peers. */
    public AVMessage(String message, List<String> toPeerIds) {
        this(message, toPeerIds, false);
    }

    /**
     * A message to peers; isTransient = true sends it only to peers online
     * now (no ack, no offline storage, no receipt).
     */
    public AVMessage(String message, List<String> toPeerIds, boolean isTransient) {
        this.message = message;
        setToPeerIds(toPeerIds);
        this.isTransient = isTransient;
    }

    public String getMessage() {
        return message;
    }

    public void setMessage(String message) {
        this.message = message;
    }

    public List<String> getToPeerIds() {
        return Collections.unmodifiableList(toPeerIds);
    }

    public void setToPeerIds(List<String> toPeerIds) {
        this.toPeerIds = toPeerIds == null ? new ArrayList<String>() : new ArrayList<>(toPeerIds);
    }

    public boolean isTransient() {
        return isTransient;
    }

    public void setTransient(boolean isTransient) {
        this.isTransient = isTransient;
    }

    /** Whether the sender asked for a delivery receipt ({@code r}). */
    public boolean isRequestReceipt() {
        return requestReceipt;
    }

    /**
     * Asks for a delivery receipt: when the single recipient acknowledges the
     * (persistent) message, the sender's receiver gets onMessageDelivered.
     */
    public void setRequestReceipt(boolean requestReceipt) {
        this.requestReceipt = requestReceipt;
    }

    public String getFromPeerId() {
        return fromPeerId;
    }

    public void setFromPeerId(String fromPeerId) {
        this.fromPeerId = fromPeerId;
    }

    /** The server's message id (null until acked; null for a transient message sent). */
    public String getMessageId() {
        return messageId;
    }

    void setMessageId(String messageId) {
        this.messageId = messageId;
    }

    /** The client id sent with a persistent message (it makes a repeated send idempotent). */
    public String getClientId() {
        return clientId;
    }

    /** Sets the client id; by default the SDK picks a random one. */
    public void setClientId(String clientId) {
        this.clientId = clientId;
    }

    /** Server time in ms: when it received the message. */
    public long getTimestamp() {
        return timestamp;
    }

    void setTimestamp(long timestamp) {
        this.timestamp = timestamp;
    }

    /** True for a message redelivered from the inbox (it was sent while this peer was away). */
    public boolean isOffline() {
        return offline;
    }

    void setOffline(boolean offline) {
        this.offline = offline;
    }

    /** Time in ms at which the recipient acknowledged the message (0: no receipt yet). */
    public long getReceiptTimestamp() {
        return receiptTimestamp;
    }

    void setReceiptTimestamp(long t) {
        this.receiptTimestamp = t;
    }

    /** Why the message failed (set before onMessageFailure), or null. */
    public Throwable getFailure() {
        return failure;
    }

    void setFailure(Throwable failure) {
        this.failure = failure;
    }

    /** fill copies what the server sent in a delivered direct frame. */
    void fill(Command c) {
        message = c.msg;
        fromPeerId = c.fromPeerId;
        messageId = c.id;
        timestamp = c.timestamp;
        isTransient = c.transientFlag;
        offline = c.offline;
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "{id=" + messageId + ", from=" + fromPeerId + ", to=" + toPeerIds
                + ", transient=" + isTransient + ", offline=" + offline + ", message=" + message + "}";
    }
}

package org.rtgate.im;

/**
 * A group message: an {@link AVMessage} addressed to a group instead of
 * peers. {@link Group#sendMessage} sets the group; a received one carries
 * the group id, the sender and the server's id and time.
 */
public class AVGroupMessage extends AVMessage {
    private String groupId;

    /** An empty group message. */
    public AVGroupMessage() {}

    /** A persistent group message. */
    public AVGroupMessage(String message) {
        setMessage(message);
    }

    /** A group message; isTransient = true delivers it to members online now only. */
    public AVGroupMessage(String message, boolean isTransient) {
        setMessage(message);
        setTransient(isTransient);
    }

    /** The group (roomId) of the message. */
    public String getGroupId() {
        return groupId;
    }

    public void setGroupId(String groupId) {
        this.groupId = groupId;
    }

    @Override
    public String toString() {
        return "AVGroupMessage{group=" + groupId + ", " + super.toString() + "}";
    }
}

package org.rtgate.im;

import java.util.Collections;
import java.util.List;

/** One record of the message history REST API (spec/rest.md). Immutable. */
public final class AVHistoryMessage {
    private final String messageId;
    private final String conversationId;
    private final String fromPeerId;
    private final List<String> toPeerIds;
    private final String groupId;
    private final String message;
    private final long timestamp;

    AVHistoryMessage(String messageId, String conversationId, String fromPeerId, List<String> toPeerIds,
            String groupId, String message, long timestamp) {
        this.messageId = messageId;
        this.conversationId = conversationId;
        this.fromPeerId = fromPeerId;
        this.toPeerIds = Collections.unmodifiableList(toPeerIds);
        this.groupId = groupId;
        this.message = message;
        this.timestamp = timestamp;
    }

    public String getMessageId() {
        return messageId;
    }

    public String getConversationId() {
        return conversationId;
    }

    public String getFromPeerId() {
        return fromPeerId;
    }

    /** Recipients of a direct message (empty for a group message). */
    public List<String> getToPeerIds() {
        return toPeerIds;
    }

    /** The group of a group message, else null. */
    public String getGroupId() {
        return groupId;
    }

    public String getMessage() {
        return message;
    }

    public long getTimestamp() {
        return timestamp;
    }
}

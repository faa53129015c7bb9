package org.rtgate.im;

/**
 * An error the SDK reports to onError or as a message's failure: a close
 * code or an {@code error} reply of the server (code &gt; 0), a lost
 * connection, a timeout, or a refused local check.
 */
public class RealtimeException extends Exception {
    private static final long serialVersionUID = 1L;

    /** No server code: a local or connection error. */
    public static final int NONE = 0;
    /** The signature of an open was refused (close 4108). */
    public static final int SIGNATURE_REFUSED = 4108;
    /** A message text over 5120 UTF-8 bytes. */
    public static final int TOO_LONG = 4109;
    /**
     * Too many watches: the connection's watch entries, or its app's on
     * the server, would pass their bound (close 4110; an rtgate code, not
     * a v1 one).
     */
    public static final int TOO_MANY_WATCHES = 4110;
    /** A malformed peer id (close 4103). */
    public static final int BAD_PEER_ID = 4103;
    /** An unknown app id (close 4100). */
    public static final int UNKNOWN_APP = 4100;

    private final int code;

    public RealtimeException(int code, String message) {
        super(message);
        this.code = code;
    }

    public RealtimeException(int code, String message, Throwable cause) {
        super(message, cause);
        this.code = code;
    }

    /** The server's close or error code, or {@link #NONE}. */
    public int getCode() {
        return code;
    }
}

package org.rtgate.im;

import java.util.ArrayList;
import java.util.List;

/**
 * One protocol command (spec/protocol.md "Fields per kind"): the v1 field
 * names, typed. Empty strings, zero numbers, false booleans and null lists
 * are "absent". Package-private: the wire form of the SDK, used by
 * {@link Codec} and {@link SessionManager} only.
 */
final class Command {
    /** {@code cmd}: session, direct, ack, presence, room, rcp, ackreq, error; null for the keepalive. */
    String cmd;
    /** {@code op} of session and room commands. */
    String op;
    /** The session this command belongs to (C→S: the issuer; S→C: the addressee). */
    String peerId;
    String appId;
    /** Android push installation id (C→S, optional). */
    String installationId;
    /** Watch list of session open/add/remove/query; the peers of presence. */
    List<String> sessionPeerIds;
    /** Online subset in opened/added/query-result. */
    List<String> onlineSessionPeerIds;
    /** presence: on/off. */
    String status;
    String fromPeerId;
    List<String> toPeerIds;
    String roomId;
    List<String> roomPeerIds;
    String byPeerId;
    String msg;
    /** direct C→S: client id; direct S→C: server id; ack S→C: echo of the client id; rcp: message uid. */
    String id;
    /** ack C→S: exact ids (written when non-null). */
    List<String> ids;
    /** ack S→C: the server's message id. */
    String uid;
    /** direct S→C: server time in ms. */
    long timestamp;
    /** ack/rcp: time in ms. */
    long timeMs;
    /** Signature timestamp (seconds) as text, for open/add/room commands. */
    String sigTime;
    /** Signature. */
    String s;
    /** Nonce. */
    String n;
    boolean sp;
    boolean transientFlag;
    boolean r;
    boolean offline;
    long c;
    long code;
    String reason;
    /** Request serial, echoed on replies; 0 = absent. */
    long i;

    static Command of(String cmd, String op, String peerId) {
        Command c = new Command();
        c.cmd = cmd;
        c.op = op;
        c.peerId = peerId;
        return c;
    }

    /** kind returns the JS v1 key: cmd + op ("{}" for the keepalive). */
    String kind() {
        if (cmd == null) {
            return "{}";
        }
        if ("session".equals(cmd) || "room".equals(cmd)) {
            return cmd + (op == null ? "" : op);
        }
        return cmd;
    }

    static List<String> copy(List<String> l) {
        return l == null ? null : new ArrayList<>(l);
    }

    @Override
    public String toString() {
        return Codec.toJson(this);
    }
}

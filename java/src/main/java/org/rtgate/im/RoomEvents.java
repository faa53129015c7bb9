package org.rtgate.im;

import java.util.Collections;
import java.util.List;

/**
 * Turns room frames into {@link AVGroupMessageReceiver} calls (the 2015
 * semantics of spec/groups-signatures.md): a reply to this session's own
 * join/leave, or a push about another member. Called on the session's loop
 * thread only.
 */
final class RoomEvents {
    private RoomEvents() {}

    /** dispatch handles room frame c; p is the request it answers, or null for a push. */
    static void dispatch(SessionManager s, Receivers rx, RealtimeConfig config, Command c, Pending p) {
        final String gid = c.roomId;
        final Group g;
        if (p != null && p.group != null) {
            g = p.group;
            if (g.getGroupId() == null && gid != null) {
                s.register(gid, g); // a new group got its id
            }
        } else if (gid != null) {
            g = s.getGroup(gid);
        } else {
            return;
        }
        final List<String> peers = c.roomPeerIds == null ? Collections.<String>emptyList() : c.roomPeerIds;
        final String by = c.byPeerId;
        final boolean self = p != null || by == null || by.equals(s.getSelfPeerId());
        final Context ctx = config.context;
        switch (c.op) {
            case "joined":
                if (self) {
                    rx.group(r -> r.onJoined(ctx, g));
                } else {
                    rx.group(r -> r.onInvited(ctx, g, by));
                }
                break;
            case "left":
                if (self) {
                    rx.group(r -> r.onQuit(ctx, g));
                } else {
                    rx.group(r -> r.onKicked(ctx, g, by));
                }
                break;
            case "members-joined":
                rx.group(r -> r.onMemberJoin(ctx, g, peers));
                break;
            case "members-left":
                rx.group(r -> r.onMemberLeft(ctx, g, peers));
                break;
            case "reject": {
                final String op = p == null ? "" : p.cmd.op;
                rx.group(r -> r.onReject(ctx, g, op, peers));
                break;
            }
            default:
                break; // invited/kicked replies: the members (this peer too) get members-joined/left
        }
    }
}

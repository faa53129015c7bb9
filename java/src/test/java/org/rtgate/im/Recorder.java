package org.rtgate.im;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A receiver (direct and group) that records every callback with the peer
 * it was for, and lets a test wait for one. Thread-safe.
 */
final class Recorder extends AVMessageReceiver {
    /** One callback. */
    static final class Event {
        final String type;
        final String peer;
        final AVMessage msg;
        final List<String> peers;
        final Throwable error;
        final Group group;
        final String by;
        final String op;

        Event(String type, String peer, AVMessage msg, List<String> peers, Throwable error, Group group, String by, String op) {
            this.type = type;
            this.peer = peer;
            this.msg = msg;
            this.peers = peers == null ? null : new ArrayList<>(peers);
            this.error = error;
            this.group = group;
            this.by = by;
            this.op = op;
        }

        String text() {
            return msg == null ? null : msg.getMessage();
        }

        @Override
        public String toString() {
            return type + "(" + peer + (msg != null ? ", " + msg : "") + (peers != null ? ", " + peers : "")
                    + (error != null ? ", " + error : "") + (group != null ? ", " + group.getGroupId() : "")
                    + (by != null ? ", by " + by : "") + (op != null ? ", op " + op : "") + ")";
        }
    }

    private final List<Event> events = new ArrayList<>();
    final AVGroupMessageReceiver group = new GroupRecorder();

    private synchronized void add(Event e) {
        events.add(e);
        notifyAll();
    }

    private void add(String type, Session s, AVMessage m, List<String> peers, Throwable err) {
        add(new Event(type, s.getSelfPeerId(), m, peers, err, null, null, null));
    }

    private void addGroup(String type, Group g, AVMessage m, List<String> peers, Throwable err, String by, String op) {
        add(new Event(type, g.getSelfId(), m, peers, err, g, by, op));
    }

    synchronized List<Event> all() {
        return new ArrayList<>(events);
    }

    /** all returns the events of type for peer. */
    synchronized List<Event> all(String type, String peer) {
        List<Event> out = new ArrayList<>();
        for (Event e : events) {
            if (e.type.equals(type) && e.peer.equals(peer)) {
                out.add(e);
            }
        }
        return out;
    }

    /** await waits (5 s) for the first event of type for peer matching pred, after any it returned already for the same key. */
    Event await(String type, String peer, Predicate<Event> pred) throws InterruptedException {
        return await(type, peer, pred, 5000);
    }

    Event await(String type, String peer) throws InterruptedException {
        return await(type, peer, e -> true, 5000);
    }

    private final List<Event> taken = new ArrayList<>();

    synchronized Event await(String type, String peer, Predicate<Event> pred, long ms) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        while (true) {
            for (Event e : events) {
                if (e.type.equals(type) && e.peer.equals(peer) && pred.test(e) && !containsIdentity(taken, e)) {
                    taken.add(e);
                    return e;
                }
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError("timed out waiting for " + type + " of " + peer + "; events: " + events);
            }
            wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        }
    }

    private static boolean containsIdentity(List<Event> l, Event e) {
        for (Event x : l) {
            if (x == e) {
                return true;
            }
        }
        return false;
    }

    /** message waits for peer's message with this text. */
    Event message(String peer, String text) throws InterruptedException {
        return await("message", peer, e -> text.equals(e.text()));
    }

    /** none checks that no event of type for peer matching pred arrives within ms. */
    synchronized void none(String type, String peer, Predicate<Event> pred, long ms) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        while (true) {
            for (Event e : events) {
                if (e.type.equals(type) && e.peer.equals(peer) && pred.test(e)) {
                    throw new AssertionError("unexpected " + e);
                }
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return;
            }
            wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        }
    }

    @Override
    public void onSessionOpen(Context context, Session session) {
        add("open", session, null, null, null);
    }

    @Override
    public void onSessionPaused(Context context, Session session) {
        add("paused", session, null, null, null);
    }

    @Override
    public void onSessionResumed(Context context, Session session) {
        add("resumed", session, null, null, null);
    }

    @Override
    public void onMessage(Context context, Session session, AVMessage msg) {
        add("message", session, msg, null, null);
    }

    @Override
    public void onMessageSent(Context context, Session session, AVMessage msg) {
        add("sent", session, msg, null, null);
    }

    @Override
    public void onMessageFailure(Context context, Session session, AVMessage msg) {
        add("failure", session, msg, null, msg.getFailure());
    }

    @Override
    public void onStatusOnline(Context context, Session session, List<String> peerIds) {
        add("online", session, null, peerIds, null);
    }

    @Override
    public void onStatusOffline(Context context, Session session, List<String> peerIds) {
        add("offline", session, null, peerIds, null);
    }

    @Override
    public void onError(Context context, Session session, Throwable e) {
        add("error", session, null, null, e);
    }

    @Override
    public void onMessageDelivered(Context context, Session session, AVMessage msg) {
        add("delivered", session, msg, null, null);
    }

    @Override
    public void onSessionClosed(Context context, Session session) {
        add("closed", session, null, null, null);
    }

    private final class GroupRecorder extends AVGroupMessageReceiver {
        @Override
        public void onJoined(Context context, Group g) {
            addGroup("joined", g, null, null, null, null, null);
        }

        @Override
        public void onInvited(Context context, Group g, String byPeerId) {
            addGroup("invited", g, null, null, null, byPeerId, null);
        }

        @Override
        public void onKicked(Context context, Group g, String byPeerId) {
            addGroup("kicked", g, null, null, null, byPeerId, null);
        }

        @Override
        public void onMessageSent(Context context, Group g, AVGroupMessage message) {
            addGroup("gsent", g, message, null, null, null, null);
        }

        @Override
        public void onMessageFailure(Context context, Group g, AVGroupMessage message) {
            addGroup("gfailure", g, message, null, message.getFailure(), null, null);
        }

        @Override
        public void onMessage(Context context, Group g, AVGroupMessage msg) {
            addGroup("gmessage", g, msg, null, null, null, null);
        }

        @Override
        public void onQuit(Context context, Group g) {
            addGroup("quit", g, null, null, null, null, null);
        }

        @Override
        public void onReject(Context context, Group g, String op, List<String> targetIds) {
            addGroup("reject", g, null, targetIds, null, null, op);
        }

        @Override
        public void onMemberJoin(Context context, Group g, List<String> joinedPeerIds) {
            addGroup("memberJoin", g, null, joinedPeerIds, null, null, null);
        }

        @Override
        public void onMemberLeft(Context context, Group g, List<String> leftPeerIds) {
            addGroup("memberLeft", g, null, leftPeerIds, null, null, null);
        }

        @Override
        public void onError(Context context, Group g, Throwable e) {
            addGroup("gerror", g, null, null, e, null, null);
        }
    }
}

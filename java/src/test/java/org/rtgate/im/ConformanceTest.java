package org.rtgate.im;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.rtgate.im.Peers.list;
import static org.rtgate.im.Peers.open;
import static org.rtgate.im.Peers.uid;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The conformance scenarios a v1 client can run (spec/semantics.md,
 * spec/groups-signatures.md), through the SDK's public API, over v1 JSON
 * (no subprotocol), rtgate.json.1 and rtgate.msgpack.1, against one real
 * rtgate in dev mode.
 */
class ConformanceTest {
    static RtgateServer server;

    @BeforeAll
    static void start() throws Exception {
        server = RtgateServer.start();
    }

    @AfterAll
    static void stop() throws Exception {
        server.close(); // fails unless rtgate exits 0 after SIGTERM
    }

    private static RealtimeConfig cfg(RealtimeConfig.Dialect d, Recorder rec) {
        return Peers.config(server, "dev", d, rec);
    }

    @ParameterizedTest
    @EnumSource(RealtimeConfig.Dialect.class)
    void sessionsAndPresence(RealtimeConfig.Dialect d) throws Exception {
        Recorder rec = new Recorder();
        RealtimeConfig cfg = cfg(d, rec);
        String a = uid("alice"), b = uid("bob");
        SessionManager alice = open(cfg, rec, a, b);
        assertTrue(alice.isOpen());
        assertEquals(list(b), alice.getAllPeers());
        assertTrue(alice.getOnlinePeers().isEmpty());
        SessionManager bob = open(cfg, rec, b);
        assertEquals(list(b), rec.await("online", a).peers);
        assertEquals(list(b), alice.getOnlinePeers());
        bob.close();
        rec.await("closed", b);
        assertFalse(bob.isOpen());
        assertEquals(list(b), rec.await("offline", a).peers);
        assertTrue(alice.getOnlinePeers().isEmpty());
        // The same instance opens again.
        bob.open(Collections.<String>emptyList());
        rec.await("open", b, e -> true);
        rec.await("online", a);
        alice.close();
        bob.close();
    }

    @ParameterizedTest
    @EnumSource(RealtimeConfig.Dialect.class)
    void watchUnwatch(RealtimeConfig.Dialect d) throws Exception {
        Recorder rec = new Recorder();
        RealtimeConfig cfg = cfg(d, rec);
        String a = uid("alice"), b = uid("bob");
        SessionManager bob = open(cfg, rec, b);
        SessionManager alice = open(cfg, rec, a);
        alice.watchPeers(list(b));
        assertEquals(list(b), rec.await("online", a).peers);
        alice.sendMessage(new AVMessage("watched", list(b)));
        rec.message(b, "watched");
        alice.unwatchPeers(list(b));
        // v1 rule: a message to a peer not watched is acked and not delivered.
        alice.sendMessage(new AVMessage("unwatched", list(b)));
        rec.await("sent", a, e -> "unwatched".equals(e.text()));
        rec.none("message", b, e -> "unwatched".equals(e.text()), 500);
        assertTrue(alice.getAllPeers().isEmpty());
        alice.close();
        bob.close();
    }

    @ParameterizedTest
    @EnumSource(RealtimeConfig.Dialect.class)
    void directTransient(RealtimeConfig.Dialect d) throws Exception {
        Recorder rec = new Recorder();
        RealtimeConfig cfg = cfg(d, rec);
        String a = uid("alice"), b = uid("bob"), c = uid("carol");
        SessionManager bob = open(cfg, rec, b);
        SessionManager alice = open(cfg, rec, a, b, c);
        alice.sendMessage(new AVMessage("now or never", list(b, c), true));
        Recorder.Event sent = rec.await("sent", a);
        assertTrue(sent.msg.isTransient());
        Recorder.Event got = rec.message(b, "now or never");
        assertTrue(got.msg.isTransient());
        assertEquals(a, got.msg.getFromPeerId());
        // carol was offline: a transient message is not kept for her.
        SessionManager carol = open(cfg, rec, c);
        rec.none("message", c, e -> true, 500);
        alice.close();
        bob.close();
        carol.close();
    }

    @ParameterizedTest
    @EnumSource(RealtimeConfig.Dialect.class)
    void persistentOfflineRedelivery(RealtimeConfig.Dialect d) throws Exception {
        Recorder rec = new Recorder();
        RealtimeConfig cfg = cfg(d, rec);
        String a = uid("alice"), c = uid("carol");
        SessionManager alice = open(cfg, rec, a, c);
        for (int k = 1; k <= 3; k++) {
            alice.sendMessage(new AVMessage("offline " + k, list(c)));
            rec.await("sent", a, e -> e.msg.getMessageId() != null);
        }
        // carol's receiver throws on the first message the first time: that
        // one is not acknowledged and comes back at the next open.
        Recorder rec2 = new Recorder();
        AtomicInteger throwsLeft = new AtomicInteger(1);
        RealtimeConfig cfg2 = RealtimeConfig.builder(server.base(), "dev").dialect(d).messageReceiver(new Forward(rec2) {
            @Override
            public void onMessage(Context context, Session session, AVMessage msg) {
                if (msg.getMessage().equals("offline 1") && throwsLeft.getAndDecrement() > 0) {
                    throw new IllegalStateException("app failed");
                }
                super.onMessage(context, session, msg);
            }
        }).build();
        SessionManager carol = open(cfg2, rec2, c);
        for (int k = 2; k <= 3; k++) {
            Recorder.Event e = rec2.message(c, "offline " + k);
            assertTrue(e.msg.isOffline());
            assertEquals(a, e.msg.getFromPeerId());
        }
        carol.close();
        rec2.await("closed", c);
        carol.open(Collections.<String>emptyList());
        rec2.await("open", c);
        Recorder.Event again = rec2.message(c, "offline 1");
        assertTrue(again.msg.isOffline());
        rec2.none("message", c, e -> !e.text().equals("offline 1") && rec2.all("message", c).size() > 3, 300);
        carol.close();
        rec2.await("closed", c);
        // Everything was acknowledged: a fresh instance (no de-duplication memory) gets nothing.
        Recorder rec3 = new Recorder();
        RealtimeConfig cfg3 = cfg(d, rec3);
        SessionManager carol3 = open(cfg3, rec3, c);
        rec3.none("message", c, e -> true, 500);
        assertEquals(3, rec2.all("message", c).size(), "each message shown once: " + rec2.all("message", c));
        carol3.close();
        alice.close();
    }

    @ParameterizedTest
    @EnumSource(RealtimeConfig.Dialect.class)
    void receipts(RealtimeConfig.Dialect d) throws Exception {
        Recorder rec = new Recorder();
        RealtimeConfig cfg = cfg(d, rec);
        String a = uid("alice"), b = uid("bob");
        SessionManager bob = open(cfg, rec, b);
        SessionManager alice = open(cfg, rec, a, b);
        AVMessage m = new AVMessage("did you get it", list(b));
        m.setRequestReceipt(true);
        alice.sendMessage(m);
        String id = rec.await("sent", a).msg.getMessageId();
        rec.message(b, "did you get it");
        Recorder.Event r = rec.await("delivered", a);
        assertEquals(id, r.msg.getMessageId());
        assertTrue(r.msg.getReceiptTimestamp() > 0);
        alice.close();
        bob.close();
    }

    @ParameterizedTest
    @EnumSource(RealtimeConfig.Dialect.class)
    void groupsAndEvents(RealtimeConfig.Dialect d) throws Exception {
        Recorder rec = new Recorder();
        RealtimeConfig cfg = cfg(d, rec);
        String a = uid("alice"), b = uid("bob"), c = uid("carol");
        SessionManager alice = open(cfg, rec, a);
        SessionManager bob = open(cfg, rec, b);
        SessionManager carol = open(cfg, rec, c);
        Group g = alice.getGroup();
        g.join();
        rec.await("joined", a);
        String gid = g.getGroupId();
        assertNotNull(gid);
        assertEquals(list(a), rec.await("memberJoin", a).peers);
        g.inviteMember(list(b));
        Recorder.Event inv = rec.await("invited", b);
        assertEquals(a, inv.by);
        assertEquals(gid, inv.group.getGroupId());
        assertEquals(list(b), rec.await("memberJoin", a, e -> e.peers.contains(b)).peers);
        // carol joins by id.
        Group gc = carol.getGroup(gid);
        gc.join();
        rec.await("joined", c);
        rec.await("memberJoin", a, e -> e.peers.contains(c));
        rec.await("memberJoin", b, e -> e.peers.contains(c));
        // A group message reaches every other member, once.
        g.sendMessage(new AVGroupMessage("hello group"));
        Recorder.Event sent = rec.await("gsent", a);
        assertNotNull(sent.msg.getMessageId());
        for (String p : list(b, c)) {
            Recorder.Event e = rec.await("gmessage", p, x -> "hello group".equals(x.text()));
            assertEquals(gid, ((AVGroupMessage) e.msg).getGroupId());
            assertEquals(a, e.msg.getFromPeerId());
        }
        rec.none("gmessage", a, e -> true, 200);
        // kick bob: bob is told, the rest see him leave.
        g.kickMembers(list(b));
        assertEquals(a, rec.await("kicked", b).by);
        rec.await("memberLeft", a, e -> e.peers.contains(b));
        rec.await("memberLeft", c, e -> e.peers.contains(b));
        // carol quits.
        gc.quit();
        rec.await("quit", c);
        rec.await("memberLeft", a, e -> e.peers.contains(c));
        // Refused: joining a group that does not exist, inviting into a group one is not in.
        Group none = bob.getGroup("000000000000000000000000");
        none.join();
        assertEquals("join", rec.await("reject", b).op);
        bob.getGroup(gid).inviteMember(list(c));
        Recorder.Event rej = rec.await("reject", b, e -> "invite".equals(e.op));
        assertEquals(list(c), rej.peers);
        // History over REST: the group message is there.
        List<AVHistoryMessage> h = g.getHistoryMessageQuery().find();
        assertEquals(1, h.size(), "history " + h);
        assertEquals("hello group", h.get(0).getMessage());
        assertEquals(gid, h.get(0).getGroupId());
        alice.close();
        bob.close();
        carol.close();
    }

    @ParameterizedTest
    @EnumSource(RealtimeConfig.Dialect.class)
    void limits(RealtimeConfig.Dialect d) throws Exception {
        Recorder rec = new Recorder();
        RealtimeConfig cfg = cfg(d, rec);
        String a = uid("alice"), b = uid("bob");
        SessionManager bob = open(cfg, rec, b);
        SessionManager alice = open(cfg, rec, a, b);
        char[] big = new char[5120 / 2];
        Arrays.fill(big, 'é'); // 2 UTF-8 bytes each: exactly 5120 bytes
        String max = new String(big);
        alice.sendMessage(new AVMessage(max, list(b)));
        assertEquals(max, rec.await("message", b).text());
        alice.sendMessage(new AVMessage(max + "x", list(b)));
        Recorder.Event f = rec.await("failure", a);
        assertEquals(RealtimeException.TOO_LONG, ((RealtimeException) f.error).getCode());
        alice.sendMessage(new AVMessage("still open", list(b)));
        rec.message(b, "still open");
        // A peer id over 64 bytes: the server refuses the open (4103).
        char[] longId = new char[65];
        Arrays.fill(longId, 'p');
        SessionManager bad = SessionManager.getInstance(cfg, new String(longId));
        bad.open(Collections.<String>emptyList());
        Recorder.Event err = rec.await("error", new String(longId));
        assertEquals(RealtimeException.BAD_PEER_ID, ((RealtimeException) err.error).getCode());
        assertFalse(bad.isOpen());
        // A history query between two peers.
        List<AVHistoryMessage> h = alice.getHistoryMessageQuery(list(b)).setLimit(10).find();
        assertEquals(2, h.size());
        assertEquals("still open", h.get(0).getMessage());
        assertEquals(list(b), h.get(0).getToPeerIds());
        alice.close();
        bob.close();
    }

    /** Forward passes every callback to a Recorder (to override one method). */
    static class Forward extends AVMessageReceiver {
        final Recorder r;

        Forward(Recorder r) {
            this.r = r;
        }

        @Override
        public void onSessionOpen(Context c, Session s) {
            r.onSessionOpen(c, s);
        }

        @Override
        public void onSessionPaused(Context c, Session s) {
            r.onSessionPaused(c, s);
        }

        @Override
        public void onSessionResumed(Context c, Session s) {
            r.onSessionResumed(c, s);
        }

        @Override
        public void onMessage(Context c, Session s, AVMessage m) {
            r.onMessage(c, s, m);
        }

        @Override
        public void onMessageSent(Context c, Session s, AVMessage m) {
            r.onMessageSent(c, s, m);
        }

        @Override
        public void onMessageFailure(Context c, Session s, AVMessage m) {
            r.onMessageFailure(c, s, m);
        }

        @Override
        public void onStatusOnline(Context c, Session s, List<String> p) {
            r.onStatusOnline(c, s, p);
        }

        @Override
        public void onStatusOffline(Context c, Session s, List<String> p) {
            r.onStatusOffline(c, s, p);
        }

        @Override
        public void onError(Context c, Session s, Throwable e) {
            r.onError(c, s, e);
        }

        @Override
        public void onSessionClosed(Context c, Session s) {
            r.onSessionClosed(c, s);
        }
    }
}

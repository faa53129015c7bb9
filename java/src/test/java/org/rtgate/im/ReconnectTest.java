package org.rtgate.im;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.rtgate.im.Peers.list;
import static org.rtgate.im.Peers.uid;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The server is killed with SIGKILL while a Java client sends persistent
 * messages, and restarted on the same port and data dir. Nothing the
 * server acknowledged is lost, nothing is shown twice, and each session is
 * paused and resumed exactly once.
 */
class ReconnectTest {
    static final int N = 40;

    @ParameterizedTest
    @EnumSource(value = RealtimeConfig.Dialect.class, names = {"V1_JSON", "MSGPACK"})
    void sigkillWhileSending(RealtimeConfig.Dialect d) throws Exception {
        try (RtgateServer server = RtgateServer.start()) {
            Recorder rec = new Recorder();
            RealtimeConfig cfg = RealtimeConfig.builder(server.base(), "dev").dialect(d).messageReceiver(rec)
                    .reconnectMinMillis(100).reconnectMaxMillis(800).requestTimeoutMillis(15_000).build();
            String a = uid("alice"), b = uid("bob");
            SessionManager bob = Peers.open(cfg, rec, b);
            SessionManager alice = Peers.open(cfg, rec, a, b);
            rec.await("online", a);
            for (int k = 0; k < N; k++) {
                alice.sendMessage(new AVMessage("m" + k, list(b)));
                if (k == N / 3) {
                    // Some sends are acked, some in flight, the rest queued while paused.
                    rec.await("sent", a, e -> e.text().equals("m" + (N / 3 - 3)), 5000);
                    server.kill();
                    rec.await("paused", a, e -> true, 5000);
                    server.restart();
                } else {
                    Thread.sleep(10);
                }
            }
            // Every send ends: sent (acked) or failed.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(40);
            while (rec.all("sent", a).size() + rec.all("failure", a).size() < N) {
                assertTrue(System.nanoTime() < deadline, "sends did not finish: " + rec.all());
                Thread.sleep(20);
            }
            Set<String> acked = new HashSet<>();
            for (Recorder.Event e : rec.all("sent", a)) {
                acked.add(e.text());
            }
            if (d.modern()) {
                // Sends in flight are resent with their client id: none fails.
                assertEquals(N, acked.size(), "failures: " + rec.all("failure", a));
            } else {
                assertTrue(acked.size() >= N - 5, "most sends acked; failures: " + rec.all("failure", a));
            }
            for (String text : acked) {
                rec.await("message", b, e -> e.text().equals(text), 10_000);
            }
            // Wait for redeliveries (offline copies of messages not acked in
            // time) to have come and gone, then count.
            Thread.sleep(1500);
            int offline = 0;
            for (Recorder.Event e : rec.all("message", b)) {
                offline += e.msg.isOffline() ? 1 : 0;
            }
            System.out.printf("%s: %d acked, %d failed, %d shown to bob (%d offline)%n", d, acked.size(),
                    rec.all("failure", a).size(), rec.all("message", b).size(), offline);
            Map<String, Integer> shown = new HashMap<>();
            for (Recorder.Event e : rec.all("message", b)) {
                shown.merge(e.text(), 1, Integer::sum);
            }
            for (Map.Entry<String, Integer> e : shown.entrySet()) {
                assertEquals(1, (int) e.getValue(), e.getKey() + " shown twice");
            }
            List<Recorder.Event> ids = rec.all("message", b);
            assertEquals(shown.size(), ids.size());
            for (String p : list(a, b)) {
                assertEquals(1, rec.all("paused", p).size(), p + " paused: " + rec.all());
                assertEquals(1, rec.all("resumed", p).size(), p + " resumed: " + rec.all());
            }
            // alice re-opened with her watch list: she still sees bob leave.
            assertEquals(list(b), alice.getAllPeers());
            int before = rec.all("offline", a).size();
            bob.close();
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (rec.all("offline", a).size() == before) {
                assertTrue(System.nanoTime() < until, "no presence off for bob after the restart: " + rec.all());
                Thread.sleep(20);
            }
            alice.close();
        }
    }

    /**
     * A message delivered while the receiver is still busy with it, whose
     * connection is lost before the ack, comes back (offline) after the
     * reconnect: the SDK drops the repeat by id, and acknowledges the
     * message once the receiver returns.
     */
    @ParameterizedTest
    @EnumSource(value = RealtimeConfig.Dialect.class, names = {"V1_JSON", "MSGPACK"})
    void redeliveryDroppedById(RealtimeConfig.Dialect d) throws Exception {
        try (RtgateServer server = RtgateServer.start()) {
            Recorder rec = new Recorder();
            java.util.concurrent.CountDownLatch busy = new java.util.concurrent.CountDownLatch(1);
            java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
            RealtimeConfig slow = RealtimeConfig.builder(server.base(), "dev").dialect(d)
                    .reconnectMinMillis(100).reconnectMaxMillis(800)
                    .messageReceiver(new ConformanceTest.Forward(rec) {
                        @Override
                        public void onMessage(Context c, Session s, AVMessage m) {
                            super.onMessage(c, s, m);
                            busy.countDown();
                            try {
                                release.await(20, TimeUnit.SECONDS);
                            } catch (InterruptedException e) {
                                Thread.currentThread().interrupt();
                            }
                        }
                    }).build();
            RealtimeConfig cfg = Peers.config(server, "dev", d, rec);
            String a = uid("alice"), b = uid("bob");
            SessionManager bob = Peers.open(slow, rec, b);
            SessionManager alice = Peers.open(cfg, rec, a, b);
            alice.sendMessage(new AVMessage("slow one", list(b)));
            rec.await("sent", a);
            assertTrue(busy.await(5, TimeUnit.SECONDS));
            // The receiver holds the message; the server dies before any ack.
            server.kill();
            server.restart();
            // bob's callbacks wait behind the busy receiver; give the
            // reconnect (and the offline copy of "slow one") time to arrive.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (bob.isPaused() || !bob.isOpen()) {
                assertTrue(System.nanoTime() < deadline, "bob did not reconnect");
                Thread.sleep(20);
            }
            Thread.sleep(500);
            release.countDown();
            rec.await("resumed", b, e -> true, 5000);
            rec.none("message", b, e -> e.msg.isOffline(), 800);
            assertEquals(1, rec.all("message", b).size(), "shown once: " + rec.all("message", b));
            bob.close();
            rec.await("closed", b);
            // It was acknowledged after the receiver returned: a fresh instance gets nothing.
            Recorder rec2 = new Recorder();
            SessionManager bob2 = Peers.open(Peers.config(server, "dev", d, rec2), rec2, b);
            rec2.none("message", b, e -> true, 800);
            bob2.close();
            alice.close();
        }
    }
}

package org.rtgate.im;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/** Small helpers shared by the tests. */
final class Peers {
    private static final AtomicInteger N = new AtomicInteger();
    private static final String RUN = Long.toString(System.nanoTime() % 100000, 36);

    private Peers() {}

    /** uid returns a peer id unique in this JVM and run. */
    static String uid(String name) {
        return name + "-" + RUN + "-" + N.incrementAndGet();
    }

    static List<String> list(String... ids) {
        return Arrays.asList(ids);
    }

    /** config returns a config for server and app in dialect, reporting to rec. */
    static RealtimeConfig config(RtgateServer server, String app, RealtimeConfig.Dialect d, Recorder rec) {
        return RealtimeConfig.builder(server.base(), app).dialect(d).messageReceiver(rec)
                .groupMessageReceiver(rec.group).reconnectMinMillis(100).reconnectMaxMillis(1000).build();
    }

    /** open opens peer watching watch and waits for onSessionOpen. */
    static SessionManager open(RealtimeConfig cfg, Recorder rec, String peer, String... watch) throws InterruptedException {
        SessionManager s = SessionManager.getInstance(cfg, peer);
        s.open(Arrays.asList(watch));
        rec.await("open", peer);
        return s;
    }
}

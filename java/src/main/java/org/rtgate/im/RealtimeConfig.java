package org.rtgate.im;

import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import okhttp3.OkHttpClient;

/**
 * Where the SDK connects and whom it tells: the server, the app, the
 * dialect, the receivers and the executor they run on. Immutable; build one
 * with {@link #builder(String, String)}. Every optional setting documents
 * its default. Share one config between the sessions of an app: they share
 * its OkHttp client and callback executor.
 */
public final class RealtimeConfig {
    /** The wire dialect (spec/protocol.md). */
    public enum Dialect {
        /** v1 JSON text frames without a subprotocol, what the 2014 clients spoke. The default. */
        V1_JSON(null),
        /** {@code rtgate.json.1}: v1 JSON plus error replies and idempotent resends. */
        JSON("rtgate.json.1"),
        /** {@code rtgate.msgpack.1}: msgpack binary frames, error replies, idempotent resends. */
        MSGPACK("rtgate.msgpack.1");

        final String subprotocol;

        Dialect(String subprotocol) {
            this.subprotocol = subprotocol;
        }

        /** The WebSocket subprotocol, or null for v1. */
        public String subprotocol() {
            return subprotocol;
        }

        public boolean modern() {
            return subprotocol != null;
        }
    }

    final String server;
    final String appId;
    final String appKey;
    final Dialect dialect;
    final AVMessageReceiver messageReceiver;
    final AVGroupMessageReceiver groupMessageReceiver;
    final Executor callbackExecutor;
    final Context context;
    final OkHttpClient http;
    final long requestTimeoutMillis;
    final long reconnectMinMillis;
    final long reconnectMaxMillis;
    final long keepaliveMillis;
    final int dedupeSize;
    final Logger logger;

    private RealtimeConfig(Builder b) {
        if (b.server == null || b.server.isEmpty()) {
            throw new IllegalArgumentException("server URL is required");
        }
        if (b.appId == null || b.appId.isEmpty()) {
            throw new IllegalArgumentException("appId is required");
        }
        String s = b.server;
        while (s.endsWith("/") && !(s.startsWith("ws://") || s.startsWith("wss://"))) {
            s = s.substring(0, s.length() - 1);
        }
        server = s;
        appId = b.appId;
        appKey = b.appKey;
        dialect = b.dialect == null ? Dialect.V1_JSON : b.dialect;
        messageReceiver = b.messageReceiver;
        groupMessageReceiver = b.groupMessageReceiver;
        callbackExecutor = b.callbackExecutor != null ? b.callbackExecutor : defaultCallbackExecutor();
        context = b.context != null ? b.context : new Context();
        requestTimeoutMillis = b.requestTimeoutMillis > 0 ? b.requestTimeoutMillis : 10_000;
        reconnectMinMillis = b.reconnectMinMillis > 0 ? b.reconnectMinMillis : 200;
        reconnectMaxMillis = Math.max(reconnectMinMillis, b.reconnectMaxMillis > 0 ? b.reconnectMaxMillis : 15_000);
        keepaliveMillis = b.keepaliveMillis > 0 ? b.keepaliveMillis : 60_000;
        dedupeSize = b.dedupeSize > 0 ? b.dedupeSize : 1000;
        logger = b.logger != null ? b.logger : Logger.getLogger("org.rtgate.im");
        OkHttpClient base = b.http != null ? b.http : new OkHttpClient();
        http = base.newBuilder().pingInterval(keepaliveMillis, TimeUnit.MILLISECONDS).build();
    }

    private static ExecutorService defaultCallbackExecutor() {
        ThreadPoolExecutor e = new ThreadPoolExecutor(1, 1, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<Runnable>(),
                r -> {
                    Thread t = new Thread(r, "rtgate-callbacks");
                    t.setDaemon(true);
                    return t;
                });
        e.allowCoreThreadTimeOut(true);
        return e;
    }

    /** A builder for the server (router base URL such as http://host:8080, or a ws:// URL) and app id. */
    public static Builder builder(String server, String appId) {
        return new Builder(server, appId);
    }

    public String getServer() {
        return server;
    }

    public String getAppId() {
        return appId;
    }

    public Dialect getDialect() {
        return dialect;
    }

    /** Builds a {@link RealtimeConfig}. */
    public static final class Builder {
        private final String server;
        private final String appId;
        private String appKey;
        private Dialect dialect;
        private AVMessageReceiver messageReceiver;
        private AVGroupMessageReceiver groupMessageReceiver;
        private Executor callbackExecutor;
        private Context context;
        private OkHttpClient http;
        private long requestTimeoutMillis;
        private long reconnectMinMillis;
        private long reconnectMaxMillis;
        private long keepaliveMillis;
        private int dedupeSize;
        private Logger logger;

        private Builder(String server, String appId) {
            this.server = server;
            this.appId = appId;
        }

        /** The app key, for the REST history query. Default none (enough for a dev-mode server). */
        public Builder appKey(String appKey) {
            this.appKey = appKey;
            return this;
        }

        /** The wire dialect. Default {@link Dialect#V1_JSON}. */
        public Builder dialect(Dialect dialect) {
            this.dialect = dialect;
            return this;
        }

        /** The receiver of session events. Default none (events are dropped). */
        public Builder messageReceiver(AVMessageReceiver r) {
            this.messageReceiver = r;
            return this;
        }

        /** The receiver of group events. Default none (events are dropped, messages still acked). */
        public Builder groupMessageReceiver(AVGroupMessageReceiver r) {
            this.groupMessageReceiver = r;
            return this;
        }

        /**
         * Where receivers run (on Android: a Handler on the main looper, e.g.
         * {@code new Handler(Looper.getMainLooper())::post}). It must run tasks
         * one at a time in order. Default: one daemon thread of this config.
         */
        public Builder callbackExecutor(Executor e) {
            this.callbackExecutor = e;
            return this;
        }

        /** The context handed to receivers. Default an empty {@link Context}. */
        public Builder context(Context c) {
            this.context = c;
            return this;
        }

        /** The OkHttp client to derive connections from. Default a new one. */
        public Builder okHttpClient(OkHttpClient c) {
            this.http = c;
            return this;
        }

        /** How long a request waits for its reply, pauses included. Default 10 s. */
        public Builder requestTimeoutMillis(long ms) {
            this.requestTimeoutMillis = ms;
            return this;
        }

        /** First reconnect delay; it doubles up to the maximum, with jitter. Default 200 ms. */
        public Builder reconnectMinMillis(long ms) {
            this.reconnectMinMillis = ms;
            return this;
        }

        /** Longest reconnect delay. Default 15 s. */
        public Builder reconnectMaxMillis(long ms) {
            this.reconnectMaxMillis = ms;
            return this;
        }

        /** Interval of the keepalive {} and WebSocket pings. Default 60 s. */
        public Builder keepaliveMillis(long ms) {
            this.keepaliveMillis = ms;
            return this;
        }

        /** How many received message ids are remembered to drop repeats. Default 1000. */
        public Builder dedupeSize(int n) {
            this.dedupeSize = n;
            return this;
        }

        /** Where the SDK logs. Default java.util.logging logger "org.rtgate.im". */
        public Builder logger(Logger logger) {
            this.logger = logger;
            return this;
        }

        public RealtimeConfig build() {
            return new RealtimeConfig(this);
        }
    }
}

package org.rtgate.im;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The session of one peer: the only way the app talks to the server (the
 * 2014 Android SDK's SessionManager). Get it with {@link #getInstance(String)}
 * after {@link #initialize(RealtimeConfig)}, or with
 * {@link #getInstance(RealtimeConfig, String)}.
 *
 * <p>Concurrency: every public method may be called from any thread and
 * returns at once. Each SessionManager owns one loop thread that owns all
 * of its state (the connection, the watch list, requests in flight) and
 * handles every frame in arrival order; {@link SignatureFactory} calls and
 * the router request run on a worker thread; receivers run on the config's
 * callback executor. Each SessionManager has its own WebSocket.
 *
 * <p>Behaviour (like the Go SDK, package client): requests carry a serial
 * {@code i} the server echoes and time out after the config's request
 * timeout; a lost connection pauses the session (onSessionPaused), the SDK
 * reconnects with exponential backoff and jitter and re-opens with the
 * whole watch list (onSessionResumed); persistent messages are acknowledged
 * after the receiver returns, repeats of a handled id are dropped; in the
 * modern dialects a persistent send whose ack was lost with the connection
 * is sent again with the same client id.
 */
public final class SessionManager implements Session {
    /** The longest message text the server accepts, in UTF-8 bytes. */
    public static final int MAX_MESSAGE_BYTES = 5120;

    private static final Map<RealtimeConfig, Map<String, SessionManager>> REGISTRY = new IdentityHashMap<>();
    private static volatile RealtimeConfig defaultConfig;
    private static final SecureRandom RANDOM = new SecureRandom();

    /** Sets the config {@link #getInstance(String)} uses. */
    public static void initialize(RealtimeConfig config) {
        defaultConfig = config;
        AVOSCloud.applicationId = config.appId;
        AVOSCloud.clientKey = config.appKey;
    }

    /** The session of selfId under the config given to {@link #initialize}. */
    public static SessionManager getInstance(String selfId) {
        RealtimeConfig c = defaultConfig;
        if (c == null) {
            throw new IllegalStateException("SessionManager.initialize(config) was not called");
        }
        return getInstance(c, selfId);
    }

    /** The session of selfId under config: one instance per (config, peer id). */
    public static SessionManager getInstance(RealtimeConfig config, String selfId) {
        if (selfId == null || selfId.isEmpty()) {
            throw new IllegalArgumentException("selfId is required");
        }
        synchronized (REGISTRY) {
            Map<String, SessionManager> m = REGISTRY.get(config);
            if (m == null) {
                m = new HashMap<>();
                REGISTRY.put(config, m);
            }
            SessionManager s = m.get(selfId);
            if (s == null) {
                s = new SessionManager(config, selfId);
                m.put(selfId, s);
            }
            return s;
        }
    }

    private enum State { CLOSED, CONNECTING, OPENING, OPEN }

    final RealtimeConfig config;
    private final String selfId;
    private final ScheduledThreadPoolExecutor loop;
    private final ExecutorService io;
    private final Link link;

    private volatile SignatureFactory signatureFactory;
    private volatile boolean openFlag;
    private volatile boolean pausedFlag;
    private volatile List<String> onlineSnapshot = Collections.emptyList();
    private volatile List<String> watchSnapshot = Collections.emptyList();

    // Owned by the loop thread.
    private State state = State.CLOSED;
    private boolean wantOpen;
    private boolean everOpened;
    private boolean paused;
    private boolean errorReported;
    private int attempt;
    private long serial;
    private ScheduledFuture<?> reconnectTimer;
    private ScheduledFuture<?> keepaliveTimer;
    private final Set<String> watch = new LinkedHashSet<>();
    private final Set<String> online = new LinkedHashSet<>();
    private final Map<Long, Pending> pending = new LinkedHashMap<>();
    private final List<Pending> outbox = new ArrayList<>();
    private final Map<String, Group> groups = new HashMap<>();
    private final Lru<String, Boolean> seen;
    private final Lru<String, AVMessage> awaitingReceipt;
    private final Receivers rx;

    private SessionManager(RealtimeConfig config, String selfId) {
        this.config = config;
        this.selfId = selfId;
        this.loop = new ScheduledThreadPoolExecutor(1, r -> daemon(r, "rtgate-session-" + selfId));
        this.loop.setKeepAliveTime(30, TimeUnit.SECONDS);
        this.loop.allowCoreThreadTimeOut(true);
        this.loop.setRemoveOnCancelPolicy(true);
        ThreadPoolExecutor w = new ThreadPoolExecutor(1, 1, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<Runnable>(),
                r -> daemon(r, "rtgate-worker-" + selfId));
        w.allowCoreThreadTimeOut(true);
        this.io = w;
        this.link = new Link(config, loop, new Link.Events() {
            @Override
            public void onOpen() {
                connected();
            }

            @Override
            public void onCommand(Command c) {
                handle(c);
            }

            @Override
            public void onLost(int code, String reason, Throwable cause) {
                lost(code, reason, cause);
            }
        });
        this.seen = new Lru<>(config.dedupeSize);
        this.awaitingReceipt = new Lru<>(config.dedupeSize);
        this.rx = new Receivers(config, selfId);
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    // ---- public API -----------------------------------------------------

    @Override
    public String getSelfPeerId() {
        return selfId;
    }

    @Override
    public void setSignatureFactory(SignatureFactory factory) {
        this.signatureFactory = factory;
    }

    @Override
    public boolean isOpen() {
        return openFlag;
    }

    @Override
    public boolean isPaused() {
        return pausedFlag;
    }

    @Override
    public List<String> getOnlinePeers() {
        return onlineSnapshot;
    }

    @Override
    public List<String> getAllPeers() {
        return watchSnapshot;
    }

    /** The config this session uses. */
    public RealtimeConfig getConfig() {
        return config;
    }

    @Override
    public void open(final List<String> peerIds) {
        final List<String> ids = peerIds == null ? Collections.<String>emptyList() : new ArrayList<>(peerIds);
        inOrder(() -> {
            watch.addAll(ids);
            snapshot();
            if (state == State.OPEN) {
                // Already open: open again on this connection adds the watch ids.
                sendOpen();
                return;
            }
            wantOpen = true;
            if (state == State.CLOSED) {
                connect();
            }
        });
    }

    /** Opens the session without watching anyone. */
    public void open() {
        open(Collections.<String>emptyList());
    }

    @Override
    public void close() {
        inOrder(() -> {
            if (!wantOpen && state == State.CLOSED) {
                return;
            }
            wantOpen = false;
            if (state == State.OPEN) {
                Command c = cmd("session", "close");
                c.i = ++serial;
                link.send(c);
            }
            boolean was = everOpened;
            shutdown(new RealtimeException(RealtimeException.NONE, "session closed"));
            if (was) {
                rx.session(r -> r.onSessionClosed(config.context, this));
            }
        });
    }

    /**
     * shutdown ends the session for good (close, or an open the server or
     * the signature factory refused): the connection is closed, requests
     * fail with why, and a later open starts afresh (onSessionOpen).
     */
    private void shutdown(Throwable why) {
        wantOpen = false;
        link.close(1000, "session closed");
        state = State.CLOSED;
        failAll(why);
        stopTimers();
        everOpened = false;
        paused = false;
        errorReported = false;
        attempt = 0;
        openFlag = false;
        pausedFlag = false;
        online.clear();
        snapshot();
    }

    @Override
    public void watchPeers(List<String> peerIds) {
        final List<String> ids = new ArrayList<>(peerIds);
        if (ids.isEmpty()) {
            return;
        }
        withSignature(ids, (sig) -> {
            List<String> signed = sig != null ? sig.getSignedPeerIds() : ids;
            watch.addAll(signed);
            snapshot();
            Command c = cmd("session", "add");
            c.sessionPeerIds = signed;
            sign(c, sig);
            request(new Pending(Pending.Kind.ADD, c, null, null, null));
        });
    }

    @Override
    public void unwatchPeers(List<String> peerIds) {
        final List<String> ids = new ArrayList<>(peerIds);
        inOrder(() -> {
            watch.removeAll(ids);
            online.removeAll(ids);
            snapshot();
            Command c = cmd("session", "remove");
            c.sessionPeerIds = ids;
            request(new Pending(Pending.Kind.REMOVE, c, null, null, null));
        });
    }

    @Override
    public void sendMessage(final AVMessage message) {
        inOrder(() -> {
            Command c = cmd("direct", null);
            c.toPeerIds = new ArrayList<>(message.getToPeerIds());
            message.setFromPeerId(selfId);
            if (c.toPeerIds.isEmpty()) {
                failMessage(new Pending(Pending.Kind.DIRECT, c, message, null, null),
                        new RealtimeException(RealtimeException.NONE, "no recipients"));
                return;
            }
            send(new Pending(Pending.Kind.DIRECT, c, message, null, null));
        });
    }

    @Override
    public Group getGroup() {
        return new Group(this, null);
    }

    @Override
    public Group getGroup(String groupId) {
        synchronized (groups) {
            Group g = groups.get(groupId);
            if (g == null) {
                g = new Group(this, groupId);
                groups.put(groupId, g);
            }
            return g;
        }
    }

    /** register records g under its new id (a created group). */
    void register(String gid, Group g) {
        g.setGroupId(gid);
        synchronized (groups) {
            groups.put(gid, g);
        }
    }

    /** A history query for the conversation between this peer and peers. */
    public AVHistoryMessageQuery getHistoryMessageQuery(List<String> peers) {
        List<String> all = new ArrayList<>(peers);
        all.add(selfId);
        return new AVHistoryMessageQuery(config, AVHistoryMessageQuery.conversationId(all));
    }

    // ---- group operations (called by Group) ------------------------------

    void groupOp(final Group g, final String op, final List<String> targets) {
        if ("leave".equals(op) && g.getGroupId() != null) {
            inOrder(() -> {
                Command c = cmd("room", "leave");
                c.roomId = g.getGroupId();
                request(new Pending(Pending.Kind.LEAVE, c, null, g, targets));
            });
            return;
        }
        final SignatureFactory f = signatureFactory;
        final String gid = g.getGroupId();
        if (gid == null && !"join".equals(op)) {
            final RealtimeException e = new RealtimeException(RealtimeException.NONE, op + ": the group has no id: join it first");
            rx.group(r -> r.onError(config.context, g, e));
            return;
        }
        Runnable ask = () -> {
            Signature sig = null;
            if (f != null) {
                try {
                    sig = f.createGroupSignature(gid == null ? "" : gid, selfId, targets, op);
                } catch (Exception | Error e) {
                    final Throwable err = e;
                    rx.group(r -> r.onError(config.context, g, err));
                    return;
                }
            }
            final Signature s = sig;
            loop.execute(() -> {
                Command c = cmd("room", op);
                c.roomId = gid;
                if (!"join".equals(op)) {
                    c.roomPeerIds = targets;
                }
                sign(c, s);
                Pending.Kind k = "join".equals(op) ? Pending.Kind.JOIN
                        : "invite".equals(op) ? Pending.Kind.INVITE : Pending.Kind.KICK;
                request(new Pending(k, c, null, g, targets));
            });
        };
        io.execute(ask);
    }

    void sendGroup(final Group g, final AVGroupMessage m) {
        inOrder(() -> {
            Command c = cmd("direct", null);
            c.roomId = g.getGroupId();
            m.setFromPeerId(selfId);
            Pending p = new Pending(Pending.Kind.DIRECT, c, m, g, null);
            if (c.roomId == null) {
                failMessage(p, new RealtimeException(RealtimeException.NONE, "the group has no id: join it first"));
                return;
            }
            send(p);
        });
    }

    // ---- sending (loop thread) -------------------------------------------

    private Command cmd(String cmd, String op) {
        Command c = Command.of(cmd, op, selfId);
        c.appId = config.appId;
        return c;
    }

    private static void sign(Command c, Signature sig) {
        if (sig != null) {
            c.s = sig.getSignature();
            c.sigTime = Long.toString(sig.getTimestamp());
            c.n = sig.getNonce();
        }
    }

    private void send(Pending p) {
        AVMessage m = p.msg;
        Command c = p.cmd;
        String text = m.getMessage() == null ? "" : m.getMessage();
        if (text.getBytes(StandardCharsets.UTF_8).length > MAX_MESSAGE_BYTES) {
            failMessage(p, new RealtimeException(RealtimeException.TOO_LONG,
                    "message text over " + MAX_MESSAGE_BYTES + " UTF-8 bytes"));
            return;
        }
        c.msg = text;
        if (m.isTransient()) {
            c.transientFlag = true;
            if (state != State.OPEN || !link.send(c)) {
                failMessage(p, new RealtimeException(RealtimeException.NONE, "session not open"));
                return;
            }
            sentCallback(p);
            return;
        }
        if (m.getClientId() == null) {
            m.setClientId(randomId());
        }
        c.id = m.getClientId();
        c.r = m.isRequestReceipt();
        request(p);
    }

    /** request sends p now (open session) or queues it until the session is open; its timer starts now. */
    private void request(final Pending p) {
        p.timer = loop.schedule(() -> timeout(p), config.requestTimeoutMillis, TimeUnit.MILLISECONDS);
        if (state == State.OPEN) {
            write(p);
        } else if (wantOpen) {
            outbox.add(p);
        } else {
            fail(p, new RealtimeException(RealtimeException.NONE, "session not open"));
        }
    }

    private void write(Pending p) {
        p.cmd.i = ++serial;
        pending.put(p.cmd.i, p);
        p.sent = link.send(p.cmd);
    }

    private void timeout(Pending p) {
        pending.values().remove(p);
        outbox.remove(p);
        fail(p, new RealtimeException(RealtimeException.NONE, "no reply within " + config.requestTimeoutMillis + " ms"));
    }

    private void fail(Pending p, Throwable e) {
        if (p.timer != null) {
            p.timer.cancel(false);
        }
        switch (p.kind) {
            case DIRECT:
                failMessage(p, e);
                break;
            case JOIN:
            case INVITE:
            case KICK:
            case LEAVE:
                rx.group(r -> r.onError(config.context, p.group, e));
                break;
            case OPEN:
            case CLOSE:
                break;
            default:
                rx.session(r -> r.onError(config.context, this, e));
        }
    }

    private void failMessage(Pending p, Throwable e) {
        p.msg.setFailure(e);
        if (p.group != null) {
            final AVGroupMessage gm = (AVGroupMessage) p.msg;
            rx.group(r -> r.onMessageFailure(config.context, p.group, gm));
        } else {
            rx.session(r -> r.onMessageFailure(config.context, this, p.msg));
        }
    }

    private void sentCallback(Pending p) {
        if (p.group != null) {
            final AVGroupMessage gm = (AVGroupMessage) p.msg;
            rx.group(r -> r.onMessageSent(config.context, p.group, gm));
        } else {
            rx.session(r -> r.onMessageSent(config.context, this, p.msg));
        }
    }

    private void failAll(Throwable e) {
        List<Pending> all = new ArrayList<>(pending.values());
        all.addAll(outbox);
        pending.clear();
        outbox.clear();
        for (Pending p : all) {
            fail(p, e);
        }
    }

    private void sendAck(String id) {
        if (state != State.OPEN) {
            return; // the message stays in the inbox and comes back after the next open
        }
        Command c = cmd("ack", null);
        c.ids = Collections.singletonList(id);
        link.send(c);
    }

    // ---- connection (loop thread) ------------------------------------------

    private void connect() {
        state = State.CONNECTING;
        link.connect(io);
    }

    private void connected() {
        state = State.OPENING;
        sendOpen();
    }

    private void sendOpen() {
        final List<String> ids = new ArrayList<>(watch);
        withSignature(ids, (sig) -> {
            if (state != State.OPENING && state != State.OPEN) {
                return;
            }
            Command c = cmd("session", "open");
            c.sessionPeerIds = sig != null ? sig.getSignedPeerIds() : ids;
            sign(c, sig);
            Pending p = new Pending(Pending.Kind.OPEN, c, null, null, null);
            p.timer = loop.schedule(() -> {
                if (pending.values().remove(p) && state == State.OPENING) {
                    link.close(4000, "open timed out");
                    lost(0, "no reply to open within " + config.requestTimeoutMillis + " ms", null);
                }
            }, config.requestTimeoutMillis, TimeUnit.MILLISECONDS);
            write(p);
        });
    }

    /**
     * inOrder runs task on the loop thread after every operation called
     * before it: public operations pass through the worker (where signatures
     * are made) and then the loop, so they reach the server in call order.
     */
    private void inOrder(final Runnable task) {
        io.execute(() -> loop.execute(task));
    }

    /** Signature callback, run on the loop thread; sig is null without a factory. */
    private interface Signed {
        void run(Signature sig);
    }

    /** withSignature asks the factory (on the worker) for a session signature over ids, then runs k on the loop. */
    private void withSignature(final List<String> ids, final Signed k) {
        final SignatureFactory f = signatureFactory;
        io.execute(() -> {
            try {
                final Signature sig = f == null ? null : f.createSignature(selfId, ids);
                loop.execute(() -> k.run(sig));
            } catch (Exception | Error e) {
                final Throwable err = e;
                rx.session(r -> r.onError(config.context, this, err));
                loop.execute(() -> {
                    if (state == State.OPENING) {
                        shutdown(err); // an open that cannot be signed ends the session
                    }
                });
            }
        });
    }

    private void lost(int code, String reason, Throwable cause) {
        State was = state;
        link.close(1000, "lost");
        if (!wantOpen || was == State.CLOSED) {
            state = State.CLOSED;
            return;
        }
        String what = "connection lost" + (code != 0 ? " (close " + code + (reason == null || reason.isEmpty() ? "" : " " + reason) + ")" : "")
                + (cause != null ? ": " + cause : "");
        if (was == State.OPENING && (code == RealtimeException.SIGNATURE_REFUSED || code == RealtimeException.BAD_PEER_ID
                || code == RealtimeException.UNKNOWN_APP || code == RealtimeException.TOO_MANY_WATCHES)) {
            // The server refused the open: a bad signature, peer id or app,
            // or a watch list over the server's bound. Retrying the same
            // open would be refused again.
            final RealtimeException e = new RealtimeException(code, "open refused: " + what);
            shutdown(e);
            rx.session(r -> r.onError(config.context, this, e));
            return;
        }
        state = State.CONNECTING;
        stopTimers();
        if (was == State.OPEN && !paused) {
            paused = true;
            pausedFlag = true;
            rx.session(r -> r.onSessionPaused(config.context, this));
        } else if (!everOpened && !errorReported) {
            errorReported = true;
            final RealtimeException e = new RealtimeException(code, what, cause);
            rx.session(r -> r.onError(config.context, this, e));
        }
        // Requests in flight: persistent sends in a modern dialect wait for
        // the next connection (same client id); the rest fail now.
        RealtimeException e = new RealtimeException(code, what, cause);
        List<Pending> keep = new ArrayList<>();
        for (Iterator<Pending> it = pending.values().iterator(); it.hasNext();) {
            Pending p = it.next();
            it.remove();
            if (p.resendable(config.dialect.modern())) {
                keep.add(p);
            } else if (p.kind == Pending.Kind.ADD || p.kind == Pending.Kind.REMOVE) {
                p.timer.cancel(false); // the next open carries the whole watch list
            } else {
                fail(p, e);
            }
        }
        outbox.addAll(0, keep);
        long max = Math.min(config.reconnectMaxMillis, config.reconnectMinMillis << Math.min(attempt, 16));
        long delay = max / 2 + (long) (RANDOM.nextDouble() * (max / 2 + 1));
        attempt++;
        reconnectTimer = loop.schedule(() -> {
            if (wantOpen && state == State.CONNECTING) {
                connect();
            }
        }, delay, TimeUnit.MILLISECONDS);
    }

    private void stopTimers() {
        if (reconnectTimer != null) {
            reconnectTimer.cancel(false);
            reconnectTimer = null;
        }
        if (keepaliveTimer != null) {
            keepaliveTimer.cancel(false);
            keepaliveTimer = null;
        }
    }

    private void snapshot() {
        onlineSnapshot = Collections.unmodifiableList(new ArrayList<>(online));
        watchSnapshot = Collections.unmodifiableList(new ArrayList<>(watch));
    }

    // ---- inbound (loop thread) -----------------------------------------------

    private void handle(Command c) {
        if (c.cmd == null) {
            return; // keepalive answer
        }
        Pending p = c.i != 0 ? pending.remove(c.i) : null;
        if (p != null && p.timer != null) {
            p.timer.cancel(false);
        }
        if (p != null && "error".equals(c.cmd)) {
            RealtimeException e = new RealtimeException((int) c.code, "server error " + c.code + ": " + c.reason);
            if (p.kind == Pending.Kind.OPEN) {
                lost((int) c.code, c.reason, null);
                return;
            }
            fail(p, e);
            return;
        }
        switch (c.kind()) {
            case "sessionopened":
                opened(c);
                break;
            case "sessionadded":
                markOnline(c.onlineSessionPeerIds);
                break;
            case "sessionremoved":
            case "sessionquery-result":
            case "sessionclosed":
            case "ackreq":
                break;
            case "presence":
                if ("on".equals(c.status)) {
                    markOnline(c.sessionPeerIds);
                } else {
                    markOffline(c.sessionPeerIds);
                }
                break;
            case "direct":
                inbound(c);
                break;
            case "ack":
                if (p != null && p.kind == Pending.Kind.DIRECT) {
                    p.msg.setMessageId(c.uid);
                    p.msg.setTimestamp(c.timeMs);
                    if (p.msg.isRequestReceipt() && c.uid != null) {
                        awaitingReceipt.put(c.uid, p.msg);
                    }
                    sentCallback(p);
                }
                break;
            case "rcp": {
                final AVMessage m = awaitingReceipt.remove(c.id);
                if (m != null) {
                    m.setReceiptTimestamp(c.timeMs);
                    rx.session(r -> r.onMessageDelivered(config.context, this, m));
                }
                break;
            }
            case "error": {
                final RealtimeException e = new RealtimeException((int) c.code, "server error " + c.code + ": " + c.reason);
                rx.session(r -> r.onError(config.context, this, e));
                break;
            }
            default:
                if ("room".equals(c.cmd)) {
                    RoomEvents.dispatch(this, rx, config, c, p);
                } else {
                    config.logger.fine("rtgate: ignored " + c.kind());
                }
        }
    }

    private void opened(Command c) {
        boolean first = state != State.OPEN;
        state = State.OPEN;
        attempt = 0;
        errorReported = false;
        openFlag = true;
        List<String> now = c.onlineSessionPeerIds == null ? Collections.<String>emptyList() : c.onlineSessionPeerIds;
        if (first) {
            keepaliveTimer = loop.scheduleWithFixedDelay(() -> link.send(new Command()),
                    config.keepaliveMillis, config.keepaliveMillis, TimeUnit.MILLISECONDS);
            if (!everOpened) {
                everOpened = true;
                rx.session(r -> r.onSessionOpen(config.context, this));
            } else if (paused) {
                paused = false;
                pausedFlag = false;
                rx.session(r -> r.onSessionResumed(config.context, this));
                List<String> gone = new ArrayList<>();
                for (String id : online) {
                    if (!now.contains(id)) {
                        gone.add(id);
                    }
                }
                markOffline(gone);
            }
        }
        markOnline(now);
        if (first) {
            List<Pending> queued = new ArrayList<>(outbox);
            outbox.clear();
            for (Pending q : queued) {
                write(q);
            }
        }
    }

    private void markOnline(List<String> ids) {
        if (ids == null) {
            return;
        }
        final List<String> fresh = new ArrayList<>();
        for (String id : ids) {
            if (online.add(id)) {
                fresh.add(id);
            }
        }
        snapshot();
        if (!fresh.isEmpty()) {
            rx.session(r -> r.onStatusOnline(config.context, this, fresh));
        }
    }

    private void markOffline(List<String> ids) {
        if (ids == null) {
            return;
        }
        final List<String> gone = new ArrayList<>();
        for (String id : ids) {
            if (online.remove(id)) {
                gone.add(id);
            }
        }
        snapshot();
        if (!gone.isEmpty()) {
            rx.session(r -> r.onStatusOffline(config.context, this, gone));
        }
    }

    private void inbound(Command c) {
        final boolean persistent = !c.transientFlag && c.id != null && !c.id.isEmpty();
        if (persistent) {
            if (seen.containsKey(c.id)) {
                sendAck(c.id); // handled before: its ack was lost
                return;
            }
            seen.put(c.id, Boolean.TRUE);
        }
        final String id = c.id;
        if (c.roomId != null && !c.roomId.isEmpty()) {
            final AVGroupMessage m = new AVGroupMessage();
            m.fill(c);
            m.setGroupId(c.roomId);
            final Group g = getGroup(c.roomId);
            final AVGroupMessageReceiver r = config.groupMessageReceiver;
            config.callbackExecutor.execute(() -> {
                boolean ok = r == null || rx.run(() -> r.onMessage(config.context, g, m));
                if (persistent) {
                    loop.execute(() -> handled(id, ok));
                }
            });
            return;
        }
        final AVMessage m = new AVMessage();
        m.fill(c);
        m.setToPeerIds(Collections.singletonList(selfId));
        final AVMessageReceiver r = config.messageReceiver;
        config.callbackExecutor.execute(() -> {
            boolean ok = r == null || rx.run(() -> r.onMessage(config.context, this, m));
            if (persistent) {
                loop.execute(() -> handled(id, ok));
            }
        });
    }

    /**
     * handled acknowledges a message the receiver handled; one whose receiver
     * threw is not acknowledged and forgotten, so its redelivery (at the next
     * open) reaches the receiver again.
     */
    private void handled(String id, boolean ok) {
        if (ok) {
            sendAck(id);
        } else {
            seen.remove(id);
        }
    }

    static String randomId() {
        final String abc = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        StringBuilder b = new StringBuilder(16);
        for (int k = 0; k < 16; k++) {
            b.append(abc.charAt(RANDOM.nextInt(abc.length())));
        }
        return b.toString();
    }
}

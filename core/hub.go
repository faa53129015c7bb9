package core

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtgate/rtgate/cluster"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/storage"
)

// Hub is one node's state machine. Create it with New; it is safe for
// concurrent use by every transport.
type Hub struct {
	cfg     Config
	log     *slog.Logger
	store   storage.Store
	reg     *registry
	metrics *Metrics
	nonces  *nonceCache
	watches *watchBudget
	sent    sendDedupe
	claims  storage.SendClaims // the store's, if it has them (a cluster store); immutable
	open    openGroups
	seq     atomic.Uint64             // message sequence, see newMessageID
	ids     atomic.Pointer[idBlock]   // transient messages' ids, see transientID
	sctx    atomic.Pointer[sharedCtx] // see storeCtx

	// afterWatch, when set (by tests only, before use), runs in watchAll
	// after a peer was added to a session's watch set.
	afterWatch func(peer string)

	dl        cluster.Deliverer  // immutable
	pr        cluster.Presence   // immutable
	og        cluster.OpenGroups // nil: open groups are this node's only; immutable
	prSync    cluster.Syncer     // pr when its memory lags the cluster's, else nil; immutable
	rj        cluster.Rejoins    // og's, if it keeps rejoins; nil otherwise; immutable
	remote    bool               // other nodes may exist: deliveries consult pr; immutable
	stopWatch func()             // set by New
	stopSub   func()             // set by New; nil on a single node

	mu       sync.Mutex
	clients  map[*Client]struct{} // guarded by mu
	shutdown bool                 // guarded by mu
	drained  chan struct{}        // closed when shutdown and clients is empty; guarded by mu
}

// New returns a hub for cfg.
func New(cfg Config) (*Hub, error) {
	if cfg.Store == nil {
		return nil, errors.New("core: Config.Store is required")
	}
	cfg = cfg.withDefaults()
	h := &Hub{
		cfg:     cfg,
		log:     cfg.Logger,
		store:   cfg.Store,
		reg:     newRegistry(),
		metrics: newMetrics(),
		clients: make(map[*Client]struct{}),
		nonces:  newNonceCache(cfg.NonceCacheSize),
		watches: &watchBudget{max: cfg.MaxWatchPerApp},
		sent:    sendDedupe{window: cfg.DedupeWindow, max: cfg.DedupeEntries},
	}
	h.claims, _ = cfg.Store.(storage.SendClaims)
	h.dl, h.pr = cfg.Deliverer, cfg.Presence
	switch {
	case h.dl == nil && h.pr == nil:
		solo := cluster.NewLocal().Node("local")
		h.dl, h.pr = solo, solo
	case h.dl == nil || h.pr == nil:
		return nil, errors.New("core: Config.Deliverer and Config.Presence go together")
	default:
		h.remote = true
		h.og = cfg.OpenGroups
		if h.og == nil {
			h.og, _ = cfg.Presence.(cluster.OpenGroups)
		}
		h.prSync, _ = h.pr.(cluster.Syncer)
		h.rj, _ = h.og.(cluster.Rejoins)
	}
	if err := h.startCluster(); err != nil {
		return nil, err
	}
	h.seq.Store(rand.Uint64() >> 2)
	if err := h.loadSent(); err != nil {
		// Repeats of sends from before the restart are stored again.
		h.log.Warn("send de-duplication starts empty", "err", err)
	}
	return h, nil
}

// Metrics returns the hub's collectors, to register.
func (h *Hub) Metrics() *Metrics { return h.metrics }

// Apps returns the hub's app directory.
func (h *Hub) Apps() Apps { return h.cfg.Apps }

// Connect registers a new connection and returns its Client. The caller's
// reader goroutine must call Client.Handle for each decoded command and
// Client.Disconnect once when the connection ends. After Shutdown began,
// Connect closes conn with 1001 and the returned Client ignores commands.
func (h *Hub) Connect(conn Conn) *Client {
	c := &Client{hub: h, conn: conn, sessions: make(map[string]*session)}
	c.lastRead.Store(h.cfg.Now().UnixNano())
	h.mu.Lock()
	if h.shutdown {
		h.mu.Unlock()
		c.closed.Store(true)
		conn.Close(protocol.CloseGoingAway, "server shutting down")
		return c
	}
	h.clients[c] = struct{}{}
	h.mu.Unlock()
	h.metrics.Connections.Inc()
	c.startTimer()
	return c
}

func (h *Hub) forget(c *Client) {
	h.mu.Lock()
	delete(h.clients, c)
	if h.shutdown && len(h.clients) == 0 && h.drained != nil {
		close(h.drained)
		h.drained = nil
	}
	h.mu.Unlock()
	h.metrics.Connections.Dec()
}

// Shutdown closes every connection with 1001 (going away) and waits until
// their readers have disconnected or ctx is done. Persistent messages are
// acknowledged only after they are durable, so none is lost; the caller
// closes the store after Shutdown returns.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.shutdown = true
	var wait chan struct{}
	if len(h.clients) > 0 {
		wait = make(chan struct{})
		h.drained = wait
	}
	list := make([]*Client, 0, len(h.clients))
	for c := range h.clients {
		list = append(list, c)
	}
	h.mu.Unlock()
	for _, c := range list {
		c.conn.Close(protocol.CloseGoingAway, "server shutting down")
	}
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	h.stopCluster()
	return nil
}

// Fence closes every connection with 1001 (going away, reconnect
// elsewhere) without shutting the hub down: the node lost the cluster and
// its sessions would silently miss messages. New connections are still
// accepted; their opens fail while the cluster is unreachable.
func (h *Hub) Fence(reason string) int {
	h.mu.Lock()
	list := make([]*Client, 0, len(h.clients))
	for c := range h.clients {
		list = append(list, c)
	}
	h.mu.Unlock()
	for _, c := range list {
		c.conn.Close(protocol.CloseGoingAway, reason)
	}
	h.metrics.Fenced.Add(float64(len(list)))
	return len(list)
}

// noteWrite accounts for a failed Conn.Write.
func (h *Hub) noteWrite(err error) {
	if errors.Is(err, ErrSlowConsumer) {
		h.metrics.SlowConsumers.Inc()
	}
}

func (h *Hub) nowMs() int64 { return h.cfg.Now().UnixMilli() }

// storeCtx returns the context of one storage call, which expires
// between StoreTimeout×0.9 and StoreTimeout from now. Calls made within
// StoreTimeout/10 (at most a second) of each other share one context, so
// the per-message path does not start and stop a timer per store call;
// the returned CancelFunc does nothing (the shared context's own timer
// ends it at its deadline).
func (h *Hub) storeCtx() (context.Context, context.CancelFunc) {
	now := time.Now() // the real clock: Config.Now may be a test's fake
	window := min(time.Second, h.cfg.StoreTimeout/10)
	if sc := h.sctx.Load(); sc != nil && now.Sub(sc.created) < window {
		return sc.ctx, func() {}
	}
	sc := &sharedCtx{created: now}
	sc.ctx, sc.cancel = context.WithDeadline(context.Background(), now.Add(h.cfg.StoreTimeout))
	h.sctx.Store(sc)
	return sc.ctx, func() {}
}

// sharedCtx is a storage-call context shared by the calls of a short
// window (see storeCtx).
type sharedCtx struct {
	created time.Time
	ctx     context.Context
	cancel  context.CancelFunc // kept for vet; the deadline ends the context
}

// since returns how long ago (by Config.Now) the UnixNano time ns was.
func (h *Hub) since(ns int64) time.Duration { return h.cfg.Now().Sub(time.Unix(0, ns)) }

package ws

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/internal/origin"
	"github.com/rtgate/rtgate/transports/internal/outq"
)

// Subprotocols of the modern dialects. A client that offers none of them
// and no other speaks the v1 legacy dialect.
const (
	SubprotocolJSON    = "rtgate.json.1"    // modern, JSON text frames
	SubprotocolMsgpack = "rtgate.msgpack.1" // modern, msgpack binary frames
)

// dialect is what a connection speaks, fixed at the upgrade.
type dialect uint8

const (
	dialectLegacy  dialect = iota // v1: JSON text frames, no subprotocol, no `error` command
	dialectJSON                   // rtgate.json.1
	dialectMsgpack                // rtgate.msgpack.1
	dialectCount
)

func (d dialect) String() string {
	switch d {
	case dialectJSON:
		return "json"
	case dialectMsgpack:
		return "msgpack"
	}
	return "legacy"
}

func (d dialect) subprotocol() string {
	switch d {
	case dialectJSON:
		return SubprotocolJSON
	case dialectMsgpack:
		return SubprotocolMsgpack
	}
	return ""
}

// Handler upgrades HTTP requests to WebSocket connections of a core.Hub.
// Mount it on any path; it is safe for concurrent use.
type Handler struct {
	hub         *core.Hub
	cfg         Config
	checkOrigin func(*http.Request) bool // origin.Check of cfg
	log         *slog.Logger
	upgrader    websocket.Upgrader
	metrics     *metrics
	bufs        outq.Pool      // outbound queue buffers, shared by all conns
	readBufs    sync.Pool      // *[]byte inbound frame buffers, shared by all conns
	wg          sync.WaitGroup // one per connection: its reader (which waits for its writer)
	epoch       time.Time      // when New ran: the origin of clock
}

// clock returns the monotonic time since the handler was made: the
// connections keep their deadlines as such 8-byte offsets (a time.Time is
// 24 bytes, and every connection holds two).
func (h *Handler) clock() time.Duration { return time.Since(h.epoch) }

// at returns the wall-clock time of clock reading d, for a deadline.
func (h *Handler) at(d time.Duration) time.Time { return h.epoch.Add(d) }

var _ http.Handler = (*Handler)(nil)

// New returns a handler serving hub with cfg.
func New(hub *core.Hub, cfg Config) *Handler {
	cfg = cfg.withDefaults()
	h := &Handler{hub: hub, cfg: cfg, log: cfg.Logger, metrics: newMetrics(), epoch: time.Now(),
		checkOrigin: origin.Check(cfg.AllowedOrigins, cfg.CheckOrigin)}
	h.upgrader = websocket.Upgrader{
		HandshakeTimeout: cfg.HandshakeTimeout,
		// Gorilla only performs the handshake (the conn reads frames with
		// its own frameReader); its Conn, with this buffer, is dropped right
		// after the upgrade. The minimum gorilla allows.
		ReadBufferSize: 256,
		// The writer frames and batches on its own (see conn.go); a pool
		// that is never used keeps gorilla from allocating a write buffer.
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     h.checkOrigin,
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			h.metrics.rejected.WithLabelValues(http.StatusText(status)).Inc()
			http.Error(w, reason.Error(), status)
		},
	}
	return h
}

// Collectors returns the handler's Prometheus collectors, to register.
func (h *Handler) Collectors() []prometheus.Collector { return h.metrics.collectors() }

// Wait blocks until every connection accepted by h has ended and its
// goroutines have returned. Call it after core.Hub.Shutdown.
func (h *Handler) Wait() { h.wg.Wait() }

// ServeHTTP upgrades the request and returns: the connection lives on in a
// reader goroutine (and a writer goroutine while frames are queued), so the
// request's own buffers and stack are released.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d, ok := selectDialect(r)
	if !ok {
		h.metrics.rejected.WithLabelValues("subprotocol").Inc()
		http.Error(w, "websocket: unsupported subprotocol; offer "+SubprotocolMsgpack+" or "+SubprotocolJSON+", or none", http.StatusBadRequest)
		return
	}
	var hdr http.Header
	if p := d.subprotocol(); p != "" {
		hdr = http.Header{"Sec-Websocket-Protocol": {p}}
	}
	ws, err := h.upgrader.Upgrade(w, r, hdr)
	if err != nil {
		// Upgrade already answered the request (and counted it via Error)
		// or the socket is gone.
		h.log.Debug("ws upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	// Gorilla's part ends here: the conn reads and writes frames on the
	// socket itself, and gorilla's Conn (with its buffers) is dropped.
	c := newConn(h, ws.UnderlyingConn(), d, r.RemoteAddr)
	h.wg.Add(1)
	h.metrics.conns.Inc()
	c.client = h.hub.Connect(c) // may close c at once (hub shutting down)
	c.startPings()
	go c.readLoop() // the writer runs only while frames are queued (see conn)
}

// selectDialect picks the dialect from Sec-WebSocket-Protocol, honouring
// the client's order of preference. ok is false when the client offered
// subprotocols and none is ours: a browser would fail the connection
// anyway if we answered without one.
func selectDialect(r *http.Request) (d dialect, ok bool) {
	offered := websocket.Subprotocols(r)
	if len(offered) == 0 {
		return dialectLegacy, true
	}
	for _, p := range offered {
		switch p {
		case SubprotocolJSON:
			return dialectJSON, true
		case SubprotocolMsgpack:
			return dialectMsgpack, true
		}
	}
	return dialectLegacy, false
}

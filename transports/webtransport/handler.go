package webtransport

import (
	"context"
	"log/slog"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	quicgo "github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	wtgo "github.com/quic-go/webtransport-go"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/internal/origin"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/transports/framed"
)

// Handler serves HTTP/3 connections: WebTransport sessions at Config.Path,
// other requests by Config.HTTP. Give it to the shared QUIC listener as
// quic.Config.H3. Create it with New; it is safe for concurrent use.
type Handler struct {
	hub         *core.Hub                // immutable
	cfg         Config                   // immutable, defaults applied
	checkOrigin func(*http.Request) bool // origin.Check of cfg
	log         *slog.Logger             // immutable
	wt          *wtgo.Server             // immutable
	metrics     *framed.Metrics          // immutable
	opts        framed.Options           // immutable: per-session options (Datagrams unset)
	pool        framed.BufPool
	rejected    *prometheus.CounterVec // refused session requests, by reason
	linger      *lingerer              // nil when Config.ConnLinger < 0

	mu     sync.Mutex
	closed bool           // guarded by mu
	wg     sync.WaitGroup // one per session goroutine; Add under mu while !closed
}

// New returns a handler serving hub with cfg.
func New(hub *core.Hub, cfg Config) *Handler {
	cfg = cfg.withDefaults()
	h := &Handler{
		checkOrigin: origin.Check(cfg.AllowedOrigins, cfg.CheckOrigin),
		hub:         hub,
		cfg:         cfg,
		log:         cfg.Logger,
		metrics:     framed.NewMetrics("rtgate_webtransport", "WebTransport"),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rtgate_webtransport_rejected_total", Help: "WebTransport session requests refused, by reason."}, []string{"reason"}),
	}
	h.opts = cfg.connOptions(h.metrics, &h.pool)
	if cfg.ConnLinger > 0 {
		h.linger = newLingerer(cfg.ConnLinger)
	}
	h.wt = &wtgo.Server{
		H3: &http3.Server{Handler: http.HandlerFunc(h.route), Logger: cfg.Logger, ConnContext: withConn},
		Config: &wtgo.Config{
			MaxIncomingStreams:    cfg.MaxIncomingStreams,
			MaxIncomingUniStreams: cfg.MaxIncomingUniStreams,
			MaxIncomingData:       cfg.MaxIncomingData,
		},
		ReorderingTimeout: cfg.SessionTimeout,
		CheckOrigin:       func(*http.Request) bool { return true }, // route checked it
	}
	return h
}

// Collectors returns the handler's Prometheus collectors, to register.
func (h *Handler) Collectors() []prometheus.Collector {
	return append(h.metrics.Collectors(), h.rejected)
}

// ServeQUICConn serves one QUIC connection that negotiated ALPN "h3"; it
// blocks until the connection ends. The connection must have datagrams and
// stream resets with partial delivery enabled (quic.Config.QUICConfig
// does).
func (h *Handler) ServeQUICConn(qc *quicgo.Conn) error { return h.wt.ServeQUICConn(qc) }

// Close closes every HTTP/3 connection and waits for the session
// goroutines. Call core.Hub.Shutdown first: it closes each session with
// 1001 after its queue.
func (h *Handler) Close() error {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	err := h.wt.Close()
	h.wg.Wait()
	return err
}

// route serves one HTTP/3 request.
func (h *Handler) route(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != h.cfg.Path {
		if h.cfg.HTTP != nil {
			h.cfg.HTTP.ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodConnect {
		h.reject(w, "method", http.StatusMethodNotAllowed, "webtransport: CONNECT only")
		return
	}
	if !h.checkOrigin(r) {
		h.reject(w, "origin", http.StatusForbidden, "webtransport: origin not allowed")
		return
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		h.reject(w, "closed", http.StatusServiceUnavailable, "webtransport: server shutting down")
		return
	}
	h.wg.Add(1)
	h.mu.Unlock()
	sess, err := h.wt.Upgrade(w, r)
	if err != nil {
		h.wg.Done()
		h.log.Debug("webtransport upgrade failed", "remote", r.RemoteAddr, "err", err)
		h.reject(w, "upgrade", http.StatusBadRequest, "webtransport: "+err.Error())
		return
	}
	opts := h.opts
	opts.Datagrams = !h.cfg.DisableDatagrams && r.URL.Query().Get("datagrams") == "1"
	info := core.ConnInfo{Transport: "webtransport", Modern: true, RemoteAddr: r.RemoteAddr}
	qc, _ := r.Context().Value(connKey{}).(*quicgo.Conn)
	if h.linger != nil && qc != nil {
		h.linger.add(qc)
	}
	// Return from the handler (the stream is hijacked) and live on in a
	// goroutine of our own: the request's state is released.
	go func() {
		defer h.wg.Done()
		if h.linger != nil && qc != nil {
			defer h.linger.done(qc)
		}
		framed.New(session{sess}, info, opts).Serve(sess.Context(), h.hub, func(ctx context.Context) (framed.Stream, error) {
			str, err := sess.AcceptStream(ctx)
			if err != nil {
				return nil, err
			}
			return str, nil
		})
	}()
}

func (h *Handler) reject(w http.ResponseWriter, reason string, status int, msg string) {
	h.rejected.WithLabelValues(reason).Inc()
	http.Error(w, msg, status)
}

// session adapts a WebTransport session to framed.Session.
type session struct{ s *wtgo.Session }

func (s session) SendDatagram(b []byte) error { return s.s.SendDatagram(b) }

// CloseWithCode closes the session with the close code as its WebTransport
// session error code and the reason as its message (WT_CLOSE_SESSION).
// Browsers may not see them (webtransport-go #242); the stream's FIN came
// first.
func (s session) CloseWithCode(code protocol.CloseCode, reason string) {
	s.s.CloseWithError(wtgo.SessionErrorCode(code), reason)
}

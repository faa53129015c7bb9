package quic

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	quicgo "github.com/quic-go/quic-go"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/transports/framed"
)

// ALPN protocol names dispatched on the shared port.
const (
	// ALPN is the raw QUIC protocol: one client-opened bidirectional
	// stream of length-prefixed msgpack commands. Bumped on incompatible
	// framing changes.
	ALPN = "rtgate/1"
	// ALPNH3 is HTTP/3, which carries WebTransport.
	ALPNH3 = "h3"
)

// H3Server serves HTTP/3 connections handed over by the shared listener:
// *webtransport.Handler implements it.
type H3Server interface {
	// ServeQUICConn serves one connection that negotiated "h3"; it blocks
	// until the connection ends.
	ServeQUICConn(conn *quicgo.Conn) error
	// Close closes every HTTP/3 connection and waits for their goroutines.
	Close() error
}

// ErrServerClosed is returned by Serve and ListenAndServe after Close.
var ErrServerClosed = errors.New("quic: server closed")

// Server listens on one UDP socket and dispatches connections by ALPN:
// rtgate/1 to the raw QUIC transport, h3 to Config.H3. Create it with New.
type Server struct {
	hub     *core.Hub       // immutable
	cfg     Config          // immutable, defaults applied
	log     *slog.Logger    // immutable
	metrics *framed.Metrics // immutable
	opts    framed.Options  // immutable: per-connection options (Datagrams unset)
	pool    framed.BufPool
	refused *prometheus.CounterVec // connections refused, by reason

	wg sync.WaitGroup // one per connection goroutine, plus Serve's accept loop

	mu        sync.Mutex
	tr        *quicgo.Transport         // guarded by mu; nil before Serve
	ln        *quicgo.EarlyListener     // guarded by mu
	conns     map[*quicgo.Conn]struct{} // accepted and not yet ended; guarded by mu
	closed    bool                      // guarded by mu
	ready     chan struct{}             // closed (readyOnce) once ln is set, Serve failed, or Close
	readyOnce sync.Once
}

// New returns a server for hub with cfg.
func New(hub *core.Hub, cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{
		hub:     hub,
		cfg:     cfg,
		log:     cfg.Logger,
		metrics: framed.NewMetrics("rtgate_quic", "raw QUIC"),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rtgate_quic_refused_total", Help: "QUIC connections refused, by reason."}, []string{"reason"}),
		conns: make(map[*quicgo.Conn]struct{}),
		ready: make(chan struct{}),
	}
	s.opts = cfg.connOptions(s.metrics, &s.pool)
	return s
}

// Collectors returns the server's Prometheus collectors, to register.
func (s *Server) Collectors() []prometheus.Collector {
	return append(s.metrics.Collectors(), s.refused)
}

// ListenAndServe listens on the UDP address addr and serves until Close.
func (s *Server) ListenAndServe(addr string, tlsConf *tls.Config) error {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fmt.Errorf("quic: listen %s: %w", addr, err)
	}
	defer pc.Close()
	return s.Serve(pc, tlsConf)
}

// ListenAndServe serves hub on the UDP address addr with cfg until ctx is
// done, then closes every connection. For a graceful stop, call
// hub.Shutdown before ctx ends: its 1001 closes are flushed first.
func ListenAndServe(ctx context.Context, addr string, tlsConf *tls.Config, hub *core.Hub, cfg Config) error {
	s := New(hub, cfg)
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	err := s.ListenAndServe(addr, tlsConf)
	if errors.Is(err, ErrServerClosed) && ctx.Err() != nil {
		return nil
	}
	return err
}

// QUICConfig returns the quic-go configuration the server listens with.
func (s *Server) QUICConfig() *quicgo.Config { return s.cfg.QUICConfig() }

// Serve accepts connections on pc until Close; it returns ErrServerClosed
// then. tlsConf supplies the certificate; Serve offers ALPN rtgate/1 (and
// h3 when Config.H3 is set) on a clone. The caller closes pc after Serve
// returns.
func (s *Server) Serve(pc net.PacketConn, tlsConf *tls.Config) error {
	tc := tlsConf.Clone()
	tc.NextProtos = []string{ALPN}
	if s.cfg.H3 != nil {
		tc.NextProtos = []string{ALPNH3, ALPN}
	}
	s.mu.Lock()
	if s.closed || s.tr != nil {
		s.mu.Unlock()
		if s.closed {
			return ErrServerClosed
		}
		return errors.New("quic: Serve called twice")
	}
	tr := &quicgo.Transport{Conn: pc}
	ln, err := tr.ListenEarly(tc, s.cfg.QUICConfig())
	if err != nil {
		s.mu.Unlock()
		tr.Close()
		s.readyOnce.Do(func() { close(s.ready) })
		return fmt.Errorf("quic: listen: %w", err)
	}
	s.tr, s.ln = tr, ln
	s.readyOnce.Do(func() { close(s.ready) })
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	for {
		qc, err := ln.Accept(context.Background())
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			return fmt.Errorf("quic: accept: %w", err)
		}
		s.dispatch(qc)
	}
}

// dispatch hands qc to its protocol's goroutine. It does not block: the
// accept queue of quic-go is 32 deep and refuses handshakes when full.
func (s *Server) dispatch(qc *quicgo.Conn) {
	alpn := qc.ConnectionState().TLS.NegotiatedProtocol
	if s.cfg.Admit != nil {
		release, ok := s.cfg.Admit(qc.RemoteAddr())
		if !ok {
			s.refuse(qc, "per_ip", protocol.ClosePolicyViolation, "too many connections from this address")
			return
		}
		context.AfterFunc(qc.Context(), release)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.refuse(qc, "closed", protocol.CloseGoingAway, "server shutting down")
		return
	}
	s.conns[qc] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	context.AfterFunc(qc.Context(), func() {
		s.mu.Lock()
		delete(s.conns, qc)
		s.mu.Unlock()
	})
	go func() {
		defer s.wg.Done()
		switch {
		case alpn == ALPN:
			s.ServeQUICConn(qc)
		case alpn == ALPNH3 && s.cfg.H3 != nil:
			if err := s.cfg.H3.ServeQUICConn(qc); err != nil {
				s.log.Debug("http3 connection ended", "remote", qc.RemoteAddr(), "err", err)
			}
		default:
			s.refuse(qc, "alpn", 0, "unsupported ALPN")
		}
	}()
}

func (s *Server) refuse(qc *quicgo.Conn, reason string, code protocol.CloseCode, msg string) {
	s.refused.WithLabelValues(reason).Inc()
	go qc.CloseWithError(quicgo.ApplicationErrorCode(code), msg)
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Addr returns the listening address, waiting until Serve has started.
func (s *Server) Addr() net.Addr {
	<-s.ready
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Close stops accepting, closes every connection (raw QUIC ones with 1001,
// after the H3 server closed its own) and waits for their goroutines. Call
// core.Hub.Shutdown first for an orderly close: it flushes each
// connection's queue before the 1001. Close does not close the
// net.PacketConn given to Serve.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	s.readyOnce.Do(func() { close(s.ready) })
	ln, tr := s.ln, s.tr
	conns := make([]*quicgo.Conn, 0, len(s.conns))
	for qc := range s.conns {
		conns = append(conns, qc)
	}
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	var err error
	if s.cfg.H3 != nil {
		err = s.cfg.H3.Close()
	}
	var wg sync.WaitGroup
	for chunk := range slices.Chunk(conns, 64) {
		for _, qc := range chunk {
			wg.Go(func() {
				qc.CloseWithError(quicgo.ApplicationErrorCode(protocol.CloseGoingAway), "server shutting down")
			})
		}
		wg.Wait()
	}
	if tr != nil {
		tr.Close()
	}
	s.wg.Wait()
	return err
}

package flashpolicy

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// maxRequest bounds the bytes read for one request: the request and its
// NUL, with a little slack for leading whitespace.
const maxRequest = 64

// Server answers policy requests. Create it with New.
type Server struct {
	cfg    Config
	log    *slog.Logger
	policy []byte        // immutable, NUL-terminated
	slots  chan struct{} // Serve's connection bound
	wg     sync.WaitGroup

	requests *prometheus.CounterVec // by listener and result
}

// New returns a server for cfg.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	p, err := Policy(cfg)
	if err != nil {
		return nil, err
	}
	return &Server{
		cfg:    cfg,
		log:    cfg.Logger,
		policy: p,
		slots:  make(chan struct{}, cfg.MaxConns),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rtgate_flash_policy_requests_total",
			Help: "Flash socket policy exchanges, by listener (dedicated, sniff) and result (served, bad_request, error, busy).",
		}, []string{"listener", "result"}),
	}, nil
}

// Collectors returns the server's Prometheus collectors, to register.
func (s *Server) Collectors() []prometheus.Collector { return []prometheus.Collector{s.requests} }

// PolicyBytes returns the NUL-terminated policy the server sends.
func (s *Server) PolicyBytes() []byte { return bytes.Clone(s.policy) }

// Serve answers policy requests on ln (the dedicated port, 843) until ln
// is closed; it then returns nil. Connections are handled concurrently, at
// most Config.MaxConns at once.
func (s *Server) Serve(ln net.Listener) error {
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() { // e.g. EMFILE surfaces as temporary
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		select {
		case s.slots <- struct{}{}:
		default:
			s.requests.WithLabelValues("dedicated", "busy").Inc()
			c.Close()
			continue
		}
		s.wg.Add(1)
		go func() { // owned by s.wg
			defer s.wg.Done()
			defer func() { <-s.slots }()
			s.serveConn(c, nil, "dedicated")
		}()
	}
}

// Wait blocks until the connections Serve accepted are done.
func (s *Server) Wait() { s.wg.Wait() }

// serveConn reads a policy request from c (head holds bytes already read),
// answers it and closes c.
func (s *Server) serveConn(c net.Conn, head []byte, listener string) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(s.cfg.Timeout))
	req, err := readRequest(c, head)
	if err != nil {
		s.requests.WithLabelValues(listener, "error").Inc()
		s.log.Debug("flash policy: reading request", "remote", c.RemoteAddr(), "err", err)
		return
	}
	if !bytes.Equal(bytes.TrimSpace(req), []byte(Request)) {
		s.requests.WithLabelValues(listener, "bad_request").Inc()
		s.log.Debug("flash policy: not a policy request", "remote", c.RemoteAddr(), "len", len(req))
		return
	}
	if _, err := c.Write(s.policy); err != nil {
		s.requests.WithLabelValues(listener, "error").Inc()
		return
	}
	s.requests.WithLabelValues(listener, "served").Inc()
}

var errNoNUL = errors.New("flashpolicy: no NUL within the request bound")

// readRequest reads up to the NUL that ends a request and returns the bytes
// before it; it reads at most maxRequest bytes in all.
func readRequest(r io.Reader, head []byte) ([]byte, error) {
	buf := make([]byte, 0, maxRequest)
	buf = append(buf, head[:min(len(head), maxRequest)]...)
	for {
		if i := bytes.IndexByte(buf, 0); i >= 0 {
			return buf[:i], nil
		}
		if len(buf) == maxRequest {
			return nil, errNoNUL
		}
		n, err := r.Read(buf[len(buf):maxRequest])
		buf = buf[:len(buf)+n]
		if err != nil && bytes.IndexByte(buf, 0) < 0 {
			return nil, err
		}
	}
}

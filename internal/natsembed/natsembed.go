// Package natsembed runs a nats-server with JetStream inside the rtgate
// process: the --nats-embed mode of a cluster node, and the servers the
// cluster tests start (see natstest).
//
// The server always runs with `sync_interval: always`: every JetStream
// write is fsynced before it is acknowledged, which rtgate requires of
// every JetStream server it uses (docs/cluster.md).
//
// Concurrency: a Server is safe for concurrent use; Start and Shutdown may
// be called once each.
//
// Imports: the standard library and nats-server; nothing of rtgate.
package natsembed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Errors of this package.
var (
	// ErrConfig is returned by Start for a Config it cannot use.
	ErrConfig = errors.New("natsembed: invalid config")
	// ErrNotReady is returned when the server does not accept connections,
	// or JetStream does not get a meta leader, in time.
	ErrNotReady = errors.New("natsembed: not ready")
)

// Config configures an embedded nats-server. The zero value, with StoreDir
// set, is a single JetStream server on a random loopback port.
type Config struct {
	// Name is the server name; it must differ between the servers of one
	// cluster and stay the same across restarts of one server (JetStream
	// knows its peers by name). "" means "rtgate".
	Name string
	// Listen is the client listen address, host:port. "" means
	// 127.0.0.1:0; port 0 means a random free port (see ClientURL).
	Listen string
	// StoreDir is the JetStream store directory. Required.
	StoreDir string
	// ClusterName names the NATS cluster; every server of it must use the
	// same. "" means "rtgate".
	ClusterName string
	// ClusterListen is the route listen address, host:port. "" means no
	// cluster: a single server, and Routes must be empty.
	ClusterListen string
	// Routes are the route addresses of the other servers of the cluster
	// (host:port or nats-route://host:port). A server may list itself.
	// JetStream clustering needs every server to list its peers.
	Routes []string
	// ClusterAdvertise is the route address this server gives the other
	// servers of the cluster to connect to it (gossip). "" means its
	// route listen address.
	ClusterAdvertise string
	// NoAdvertise keeps the server from telling its clients the other
	// servers' client URLs (cluster no_advertise): a client then only
	// knows the URLs it was given (a server behind a proxy or NAT).
	NoAdvertise bool
	// ReadyTimeout bounds how long Start waits for the server to accept
	// client connections. 0 means 10 s.
	ReadyTimeout time.Duration
	// Logger receives the server's log lines (debug and trace are off).
	// nil means slog.Default().
	Logger *slog.Logger
}

// Server is a running embedded nats-server.
type Server struct {
	srv *server.Server // set by Start; never changes after
	log *slog.Logger
}

// splitHostPort parses a host:port with defaults for an empty host or
// address.
func splitHostPort(addr, defHost string) (string, int, error) {
	if addr == "" {
		return defHost, server.RANDOM_PORT, nil
	}
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%w: address %q: %v", ErrConfig, addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%w: address %q: bad port", ErrConfig, addr)
	}
	if h == "" {
		h = defHost
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return h, port, nil
}

// options turns c into nats-server options.
func (c Config) options() (*server.Options, error) {
	if c.StoreDir == "" {
		return nil, fmt.Errorf("%w: StoreDir is required", ErrConfig)
	}
	if c.Name == "" {
		c.Name = "rtgate"
	}
	if c.ClusterName == "" {
		c.ClusterName = "rtgate"
	}
	host, port, err := splitHostPort(c.Listen, "127.0.0.1")
	if err != nil {
		return nil, err
	}
	o := &server.Options{
		ServerName:   c.Name,
		Host:         host,
		Port:         port,
		JetStream:    true,
		StoreDir:     c.StoreDir,
		SyncAlways:   true, // sync_interval: always
		SyncInterval: 2 * time.Minute,
		NoSigs:       true,
	}
	if c.ClusterListen == "" {
		if len(c.Routes) > 0 {
			return nil, fmt.Errorf("%w: Routes without ClusterListen", ErrConfig)
		}
		return o, nil
	}
	chost, cport, err := splitHostPort(c.ClusterListen, "127.0.0.1")
	if err != nil {
		return nil, err
	}
	o.Cluster = server.ClusterOpts{Name: c.ClusterName, Host: chost, Port: cport, Advertise: c.ClusterAdvertise, NoAdvertise: c.NoAdvertise}
	for _, r := range c.Routes {
		if !strings.Contains(r, "://") {
			r = "nats-route://" + r
		}
		u, err := url.Parse(r)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("%w: route %q", ErrConfig, r)
		}
		o.Routes = append(o.Routes, u)
	}
	return o, nil
}

// Start starts a server and waits until it accepts client connections. It
// does not wait for JetStream to have a meta leader (the other servers of
// a cluster may not be up yet): see WaitJetStream.
func Start(c Config) (*Server, error) {
	o, err := c.options()
	if err != nil {
		return nil, err
	}
	srv, err := server.NewServer(o)
	if err != nil {
		return nil, fmt.Errorf("natsembed: %w", err)
	}
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("nats_server", o.ServerName)
	srv.SetLogger(slogLogger{log}, false, false)
	srv.Start()
	timeout := c.ReadyTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if !srv.ReadyForConnections(timeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("%w: no client listener after %v", ErrNotReady, timeout)
	}
	return &Server{srv: srv, log: log}, nil
}

// ClientURL returns the URL clients connect to, with the port actually
// bound.
func (s *Server) ClientURL() string { return s.srv.ClientURL() }

// ClusterAddr returns the address the route listener is bound to, or nil
// without a cluster.
func (s *Server) ClusterAddr() *net.TCPAddr { return s.srv.ClusterAddr() }

// Name returns the server name.
func (s *Server) Name() string { return s.srv.Name() }

// NATS returns the nats-server itself, for tests that inspect it (which
// server leads a stream). Do not shut it down through this.
func (s *Server) NATS() *server.Server { return s.srv }

// JetStreamReady reports whether JetStream is enabled and, in a cluster,
// this server knows a meta leader and is current with it.
func (s *Server) JetStreamReady() bool {
	return s.srv.JetStreamEnabled() && s.srv.JetStreamIsCurrent()
}

// WaitJetStream waits until JetStreamReady, or ctx ends (ErrNotReady).
func (s *Server) WaitJetStream(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !s.JetStreamReady() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: JetStream on %s has no meta leader: %w", ErrNotReady, s.Name(), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Shutdown stops the server and waits until it has stopped. A server that
// leads JetStream assets hands leadership over first (it is not a crash).
func (s *Server) Shutdown() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}

// slogLogger adapts an *slog.Logger to the nats-server Logger.
type slogLogger struct{ l *slog.Logger }

func (l slogLogger) Noticef(format string, v ...any) { l.l.Info(fmt.Sprintf(format, v...)) }
func (l slogLogger) Warnf(format string, v ...any)   { l.l.Warn(fmt.Sprintf(format, v...)) }
func (l slogLogger) Fatalf(format string, v ...any)  { l.l.Error(fmt.Sprintf(format, v...)) }
func (l slogLogger) Errorf(format string, v ...any)  { l.l.Error(fmt.Sprintf(format, v...)) }
func (l slogLogger) Debugf(format string, v ...any)  { l.l.Debug(fmt.Sprintf(format, v...)) }
func (l slogLogger) Tracef(format string, v ...any)  { l.l.Debug(fmt.Sprintf(format, v...)) }

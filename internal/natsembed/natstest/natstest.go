// Package natstest starts real nats-servers with JetStream for tests: a
// single server, or a three-server cluster in the test process, each
// server with its own store directory and routes on loopback ports.
//
// Concurrency: a Cluster's methods may be called from any goroutine of
// the test; the servers are shut down (before their directories are
// removed) when the test ends.
//
// Imports: internal/natsembed, internal/serverproc (free ports), nats-server
// and nats.go; test code only.
package natstest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rtgate/rtgate/internal/natsembed"
	"github.com/rtgate/rtgate/internal/serverproc"
)

// ReadyTimeout bounds how long Single and Start wait for JetStream.
// A first election can take several seconds on a loaded machine.
const ReadyTimeout = 30 * time.Second

// Cluster is a set of running nats-servers forming one NATS cluster.
type Cluster struct {
	t       testing.TB
	Servers []*natsembed.Server // index i is server "n<i+1>"; nil once Shutdown
	cfgs    []natsembed.Config  // the configs they were started with
	proxies [][]*Proxy          // StartPartitionable: [i][j] carries server i's route to j
}

// logger is where test servers log: nowhere, unless RTGATE_NATSTEST_LOG
// is set (then stderr, at warning level and above).
func logger() *slog.Logger {
	if os.Getenv("RTGATE_NATSTEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.DiscardHandler)
}

// Single starts one JetStream server (no cluster) on a random loopback
// port and waits until JetStream is ready.
func Single(t testing.TB) *Cluster {
	t.Helper()
	c := &Cluster{t: t, cfgs: []natsembed.Config{{Name: "n1", StoreDir: t.TempDir(), Logger: logger()}}}
	s, err := natsembed.Start(c.cfgs[0])
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	c.Servers = []*natsembed.Server{s}
	t.Cleanup(c.shutdownAll)
	c.waitReady()
	return c
}

// Start starts an n-server JetStream cluster (n is usually 3) on loopback
// and waits until every server knows the meta leader. Route ports are
// picked free beforehand; if one is taken in the meantime the whole
// cluster is started again, once.
func Start(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	dirs := make([]string, n)
	for i := range dirs {
		dirs[i] = t.TempDir()
	}
	for attempt := 0; ; attempt++ {
		c, err := start(t, dirs, opts)
		if err == nil {
			t.Cleanup(c.shutdownAll)
			c.waitReady()
			return c
		}
		if attempt == 1 {
			t.Fatalf("natstest: %v", err)
		}
	}
}

// StartPartitionable starts an n-server JetStream cluster like Start,
// but every route connection goes through a Proxy of its own (one per
// ordered pair of servers), so that Isolate can cut one server off from
// the others while its clients still reach it: a minority server. The
// servers advertise an unreachable route address, so none connects to
// another around the proxies.
func StartPartitionable(t testing.TB, n int) *Cluster {
	t.Helper()
	ports, err := serverproc.FreePorts(n)
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	c := &Cluster{t: t, proxies: make([][]*Proxy, n)}
	for i := range n {
		c.proxies[i] = make([]*Proxy, n)
		for j := range n {
			if i != j {
				c.proxies[i][j] = NewProxy(t, fmt.Sprintf("127.0.0.1:%d", ports[j]))
			}
		}
	}
	t.Cleanup(c.shutdownAll)
	for i := range n {
		var routes []string
		for j := range n {
			if i != j {
				routes = append(routes, c.proxies[i][j].Addr())
			}
		}
		cfg := natsembed.Config{
			Name: fmt.Sprintf("n%d", i+1), StoreDir: t.TempDir(), ClusterName: "rtgate-test",
			ClusterListen: fmt.Sprintf("127.0.0.1:%d", ports[i]), ClusterAdvertise: "127.0.0.1:1",
			Routes: routes, Logger: logger(),
		}
		s, err := natsembed.Start(cfg)
		if err == nil && s.ClusterAddr() == nil {
			s.Shutdown()
			err = fmt.Errorf("server %s could not bind its route port %s", cfg.Name, cfg.ClusterListen)
		}
		if err != nil {
			t.Fatalf("natstest: %v", err)
		}
		c.Servers = append(c.Servers, s)
		c.cfgs = append(c.cfgs, cfg)
	}
	c.waitReady()
	return c
}

// Isolate cuts (or, with false, heals) every route between server i and
// the others of a cluster made by StartPartitionable.
func (c *Cluster) Isolate(i int, cut bool) {
	for j := range c.proxies {
		if j != i {
			c.proxies[i][j].Cut(cut)
			c.proxies[j][i].Cut(cut)
		}
	}
}

// Option changes the configuration of every server Start starts.
type Option func(*natsembed.Config)

// NoAdvertise is an Option: the servers do not tell clients the other
// servers' URLs, so a client connected through a Proxy stays behind it.
func NoAdvertise(c *natsembed.Config) { c.NoAdvertise = true }

// start starts one server per directory, routes on freshly picked ports.
func start(t testing.TB, dirs []string, opts []Option) (*Cluster, error) {
	ports, err := serverproc.FreePorts(len(dirs))
	if err != nil {
		return nil, err
	}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("127.0.0.1:%d", p))
	}
	c := &Cluster{t: t}
	for i, dir := range dirs {
		cfg := natsembed.Config{
			Name: fmt.Sprintf("n%d", i+1), StoreDir: dir, ClusterName: "rtgate-test",
			ClusterListen: routes[i], Routes: routes, Logger: logger(),
		}
		for _, o := range opts {
			o(&cfg)
		}
		s, err := natsembed.Start(cfg)
		if err == nil && s.ClusterAddr() == nil {
			s.Shutdown()
			err = fmt.Errorf("server %s could not bind its route port %s", cfg.Name, routes[i])
		}
		if err != nil {
			c.shutdownAll()
			return nil, err
		}
		c.Servers = append(c.Servers, s)
		c.cfgs = append(c.cfgs, cfg)
	}
	return c, nil
}

// waitReady fails the test unless, within ReadyTimeout, every running
// server is JetStream-ready and, in a cluster, the meta leader counts
// every running server as a JetStream peer: it places an R3 asset only
// on peers whose statistics it has received, and a server can know the
// leader before the leader has its statistics (then creating an R3
// stream fails with "no suitable peers for placement").
func (c *Cluster) waitReady() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ReadyTimeout)
	defer cancel()
	running := 0
	for _, s := range c.Servers {
		if s == nil {
			continue
		}
		running++
		if err := s.WaitJetStream(ctx); err != nil {
			c.t.Fatalf("natstest: %v", err)
		}
	}
	if running < 2 {
		return
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		peers := 0
		for _, s := range c.Servers {
			if s != nil {
				peers = max(peers, len(s.NATS().JetStreamClusterPeers())) // only the leader answers
			}
		}
		if peers >= running {
			return
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("natstest: the meta leader knows %d of %d running servers as JetStream peers after %v", peers, running, ReadyTimeout)
		case <-tick.C:
		}
	}
}

func (c *Cluster) shutdownAll() {
	for i := range c.Servers {
		c.Shutdown(i)
	}
}

// Shutdown stops server i (gracefully: a leader hands over first). It is
// a no-op for a server already stopped.
func (c *Cluster) Shutdown(i int) {
	if s := c.Servers[i]; s != nil {
		s.Shutdown()
		c.Servers[i] = nil
	}
}

// Restart starts server i again with its store directory and route port,
// and waits until it is JetStream-ready.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.Shutdown(i)
	s, err := natsembed.Start(c.cfgs[i])
	if err != nil {
		c.t.Fatalf("natstest: restart %s: %v", c.cfgs[i].Name, err)
	}
	c.Servers[i] = s
	c.waitReady()
}

// URLs returns the client URLs of the running servers.
func (c *Cluster) URLs() []string {
	var us []string
	for _, s := range c.Servers {
		if s != nil {
			us = append(us, s.ClientURL())
		}
	}
	return us
}

// URL returns the client URLs of the running servers, comma-separated (the
// form nats.Connect takes).
func (c *Cluster) URL() string { return strings.Join(c.URLs(), ",") }

// Connect connects to server i first (then to the others on reconnect),
// with the short reconnect wait tests need; the connection is closed when
// the test ends.
func (c *Cluster) Connect(i int, opts ...nats.Option) *nats.Conn {
	c.t.Helper()
	urls := []string{c.Servers[i].ClientURL()}
	for j, s := range c.Servers {
		if j != i && s != nil {
			urls = append(urls, s.ClientURL())
		}
	}
	opts = append([]nats.Option{
		nats.DontRandomize(), nats.ReconnectWait(50 * time.Millisecond),
		nats.MaxReconnects(-1), nats.Timeout(2 * time.Second),
	}, opts...)
	nc, err := nats.Connect(strings.Join(urls, ","), opts...)
	if err != nil {
		c.t.Fatalf("natstest: connect: %v", err)
	}
	c.t.Cleanup(nc.Close)
	return nc
}

// StreamLeader returns the index of the running server that leads the
// stream (of the global account), or -1 if none does right now.
func (c *Cluster) StreamLeader(stream string) int {
	for i, s := range c.Servers {
		if s == nil {
			continue
		}
		if len(c.Servers) == 1 || s.NATS().JetStreamIsStreamLeader("$G", stream) {
			return i
		}
	}
	return -1
}

package natsbus_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rtgate/rtgate/cluster"
	"github.com/rtgate/rtgate/cluster/clustertest"
	"github.com/rtgate/rtgate/cluster/natsbus"
	"github.com/rtgate/rtgate/internal/natsembed/natstest"
)

// testConfig is a Bus config with short leases, for tests.
func testConfig(nc *nats.Conn, name string) natsbus.Config {
	return natsbus.Config{
		Conn: nc, Name: name, LeaseTTL: 2 * time.Second, LeaseRefresh: 300 * time.Millisecond,
		FenceMargin: time.Second, Timeout: 2 * time.Second, Logger: slog.New(slog.DiscardHandler),
	}
}

func open(t *testing.T, cfg natsbus.Config) *natsbus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := natsbus.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformanceR3(t *testing.T) {
	nc := natstest.Start(t, 3)
	clustertest.Run(t, clustertest.Harness{
		Nodes: func(t *testing.T, n int) []clustertest.Node {
			nodes := make([]clustertest.Node, n)
			for i := range nodes {
				nodes[i] = open(t, testConfig(nc.Connect(i%3), fmt.Sprintf("node%d", i)))
			}
			return nodes
		},
		Crash: func(t *testing.T, nodes []clustertest.Node, i int) {
			// The node's connection dies without a word: its lease expires.
			nodes[i].(*natsbus.Bus).Conn().Close()
		},
		Wait: 20 * time.Second,
	})
}

// TestBucketConfig: the presence buckets are created with exactly the
// documented configuration (acceptance test 11).
func TestBucketConfig(t *testing.T) {
	c := natstest.Start(t, 3)
	open(t, testConfig(c.Connect(0), "x"))
	js, err := jetstream.New(c.Connect(1))
	if err != nil {
		t.Fatal(err)
	}
	stream := func(name string) jetstream.StreamConfig {
		s, err := js.Stream(context.Background(), "KV_"+name)
		if err != nil {
			t.Fatal(err)
		}
		return s.CachedInfo().Config
	}
	if got := stream(natsbus.PeersBucket); got.Replicas != 3 || got.Storage != jetstream.MemoryStorage ||
		got.MaxMsgsPerSubject != natsbus.History || got.AllowMsgTTL || got.SubjectDeleteMarkerTTL != 0 ||
		!got.AllowDirect || !got.AllowRollup {
		t.Fatalf("peers bucket stream config = %+v", got)
	}
	if got := stream(natsbus.LeasesBucket); got.Replicas != 3 || got.Storage != jetstream.MemoryStorage ||
		got.MaxMsgsPerSubject != 1 || !got.AllowMsgTTL || got.SubjectDeleteMarkerTTL != natsbus.LeaseMarkerTTL {
		t.Fatalf("leases bucket stream config = %+v", got)
	}
}

func TestReplicasGuard(t *testing.T) {
	c := natstest.Single(t)
	cfg := testConfig(c.Connect(0), "x")
	cfg.Replicas = 1
	if _, err := natsbus.Open(context.Background(), cfg); !errors.Is(err, natsbus.ErrConfig) {
		t.Fatalf("Open with 1 replica = %v, want ErrConfig", err)
	}
	cfg.UnsafeReplicas = true
	open(t, cfg)
	// The bucket now exists with 1 replica: a node wanting 3 is refused,
	// and the bucket is left alone.
	cfg.Replicas, cfg.UnsafeReplicas = 3, false
	_, err := natsbus.Open(context.Background(), cfg)
	if !errors.Is(err, natsbus.ErrAssetMismatch) {
		t.Fatalf("Open against a 1-replica bucket = %v, want ErrAssetMismatch", err)
	}
	t.Log(err)
}

// TestOldServerRefused: a nats-server older than 2.15 is refused before
// anything is written (acceptance test 11). The "server" is a fake that
// speaks just the NATS handshake and says it is 2.14.9.
func TestOldServerRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() { // owned by the test: ends when the listener or the conn closes
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprintf(c, "INFO {\"server_id\":\"fake\",\"version\":\"2.14.9\",\"proto\":1,\"max_payload\":1048576,\"headers\":true}\r\n")
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if strings.HasPrefix(line, "PING") {
				io.WriteString(c, "PONG\r\n")
			}
		}
	}()
	nc, err := nats.Connect("nats://"+ln.Addr().String(), nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	_, err = natsbus.Open(context.Background(), testConfig(nc, "old"))
	nc.Close()
	<-done
	if !errors.Is(err, natsbus.ErrServerVersion) {
		t.Fatalf("Open against 2.14.9 = %v, want ErrServerVersion", err)
	}
	t.Log(err)
}

// TestURLs: each node's lease advertises its URL; every node lists the
// live nodes' URLs in node order, drops a draining node at once and a
// closed one when its lease goes, and a node with no URL is not listed.
func TestURLs(t *testing.T) {
	c := natstest.Start(t, 3)
	urls := []string{"ws://127.0.0.1:1001/", "ws://127.0.0.1:1002/", ""}
	buses := make([]*natsbus.Bus, 3)
	for i := range buses {
		cfg := testConfig(c.Connect(i), fmt.Sprintf("node%d", i))
		cfg.URL = urls[i]
		buses[i] = open(t, cfg)
	}
	waitURLs := func(want ...string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for _, b := range buses {
			for got := b.URLs(); fmt.Sprint(got) != fmt.Sprint(want); got = b.URLs() {
				if time.Now().After(deadline) {
					t.Fatalf("%s: URLs() = %v, want %v", b.Self(), got, want)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	waitURLs(urls[0], urls[1])
	// Refreshes keep the URL (several refresh periods).
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		for _, b := range buses {
			if got := b.URLs(); fmt.Sprint(got) != fmt.Sprint(urls[:2]) {
				t.Fatalf("%s: URLs() = %v after refreshes", b.Self(), got)
			}
		}
	}
	buses[0].Drain()
	waitURLs(urls[1]) // the draining node is no longer handed out
	// Its later refreshes do not advertise it again.
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if got := buses[2].URLs(); fmt.Sprint(got) != fmt.Sprint(urls[1:2]) {
			t.Fatalf("URLs() = %v after the drained node's refreshes", got)
		}
	}
	buses[0].Close()
	buses[1].Close()
	buses = buses[2:]
	waitURLs()
}

// TestSyncReadsYourWrites: after a Register or Unregister returned on one
// node, Sync on another node (connected to another server) makes its
// Online answer reflect it, every time. Without Sync the other node's
// watch often lags behind an Unregister (Register waits for every node's
// watch itself: the seen barrier, TestSeenBounds).
func TestSyncReadsYourWrites(t *testing.T) {
	c := natstest.Start(t, 3)
	a := open(t, testConfig(c.Connect(0), "a"))
	b := open(t, testConfig(c.Connect(1), "b"))
	ctx := context.Background()
	lagged := 0
	var synced time.Duration
	for k := range 100 {
		peer := fmt.Sprintf("peer-%d", k)
		if err := a.Register(ctx, "app", peer); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := b.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		synced += time.Since(start)
		if !b.Online("app", peer) {
			t.Fatalf("round %d: %s not online on b after Register on a and Sync on b", k, peer)
		}
		if err := a.Unregister(ctx, "app", peer); err != nil {
			t.Fatal(err)
		}
		if b.Online("app", peer) {
			lagged++
		}
		if err := b.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if b.Online("app", peer) {
			t.Fatalf("round %d: %s still online on b after Unregister on a and Sync on b", k, peer)
		}
	}
	t.Logf("without Sync, b's memory lagged a's Unregister in %d of 100 rounds; Sync took %v on average",
		lagged, (synced / 100).Round(time.Microsecond))

	// Concurrent calls share requests, and each still sees the writes
	// acknowledged before it.
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for k := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			peer := fmt.Sprintf("concurrent-%d", k)
			if err := a.Register(ctx, "app", peer); err != nil {
				errs <- err
				return
			}
			if err := b.Sync(ctx); err != nil {
				errs <- err
				return
			}
			if !b.Online("app", peer) {
				errs <- fmt.Errorf("%s not online on b after Sync", peer)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// With its NATS connection gone, Sync answers at once instead of
	// waiting out its timeout (the caller answers from memory).
	a.Conn().Close()
	start := time.Now()
	if err := a.Sync(ctx); !errors.Is(err, cluster.ErrUnavailable) || time.Since(start) > time.Second {
		t.Fatalf("Sync without NATS = %v after %v, want ErrUnavailable at once", err, time.Since(start))
	}
}

// TestServerRaisesTTLWithHistory pins the nats-server rule that makes the
// leases a bucket of their own: in a stream with subject delete markers
// and more than one message per subject, a message's TTL is raised to the
// marker TTL (a 1 s lease would last a minute). With one message per
// subject it is kept. If this test fails, the server changed the rule.
func TestServerRaisesTTLWithHistory(t *testing.T) {
	c := natstest.Single(t)
	js, err := jetstream.New(c.Connect(0))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		perSubject int64
		wantTTL    string
	}{{1, "1s"}, {2, "60"}} {
		name := fmt.Sprintf("TTL%d", tc.perSubject)
		s, err := js.CreateStream(ctx, jetstream.StreamConfig{
			Name: name, Subjects: []string{name + ".>"}, Storage: jetstream.MemoryStorage,
			MaxMsgsPerSubject: tc.perSubject, AllowMsgTTL: true, SubjectDeleteMarkerTTL: time.Minute,
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, name+".lease", nil, jetstream.WithMsgTTL(time.Second)); err != nil {
			t.Fatal(err)
		}
		m, err := s.GetLastMsgForSubject(ctx, name+".lease")
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Header.Get("Nats-TTL"); got != tc.wantTTL {
			t.Fatalf("%d per subject: stored Nats-TTL %q, want %q", tc.perSubject, got, tc.wantTTL)
		}
	}
}

// TestCompaction: quick writes of one peer key are all kept (a lagging
// watcher reads them); a write after CompactAfter replaces them.
func TestCompaction(t *testing.T) {
	c := natstest.Single(t)
	cfg := testConfig(c.Connect(0), "x")
	cfg.Replicas, cfg.UnsafeReplicas, cfg.CompactAfter = 1, true, 500*time.Millisecond
	b := open(t, cfg)
	js, err := jetstream.New(c.Connect(0))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	msgs := func() uint64 {
		t.Helper()
		s, err := js.Stream(ctx, "KV_"+natsbus.PeersBucket)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx, jetstream.WithSubjectFilter("$KV."+natsbus.PeersBucket+".p.>"))
		if err != nil {
			t.Fatal(err)
		}
		var n uint64
		for _, c := range info.State.Subjects {
			n += c
		}
		return n
	}
	for range 3 {
		if err := b.Register(ctx, "a", "p"); err != nil {
			t.Fatal(err)
		}
		if err := b.Unregister(ctx, "a", "p"); err != nil {
			t.Fatal(err)
		}
	}
	if n := msgs(); n != 6 {
		t.Fatalf("%d messages after 6 quick writes, want 6 (all kept)", n)
	}
	// The rule is about age: wait past CompactAfter before the next write.
	time.Sleep(cfg.CompactAfter + 100*time.Millisecond)
	if err := b.Register(ctx, "a", "p"); err != nil {
		t.Fatal(err)
	}
	if n := msgs(); n != 1 {
		t.Fatalf("%d messages after a write past CompactAfter, want 1", n)
	}
	for deadline := time.Now().Add(10 * time.Second); !b.Online("a", "p"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("p is not online after the compacting write")
		}
	}
}

// TestOpenWhileClusterForms: Open, started while two of the three
// servers are down (no JetStream quorum: no bucket, no lease can be
// written), retries each step and succeeds once the cluster has formed
// again, as when three nodes start at the same time.
func TestOpenWhileClusterForms(t *testing.T) {
	c := natstest.Start(t, 3)
	first := open(t, testConfig(c.Connect(0), "first")) // the buckets exist
	first.Close()
	c.Shutdown(1)
	c.Shutdown(2)
	opened := make(chan error, 1)
	var logs syncBuffer
	go func() { // owned by the test: ends with Open
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cfg := testConfig(c.Connect(0), "late")
		cfg.StartTimeout = 90 * time.Second
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		b, err := natsbus.Open(ctx, cfg)
		if err == nil {
			t.Cleanup(func() { b.Close() })
		}
		opened <- err
	}()
	select {
	case err := <-opened:
		t.Fatalf("Open without a JetStream quorum returned %v", err)
	case <-time.After(2 * time.Second): // it is still retrying
	}
	c.Restart(1)
	c.Restart(2)
	select {
	case err := <-opened:
		if err != nil {
			t.Fatalf("Open after the cluster formed again: %v", err)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("Open did not return")
	}
	if n := strings.Count(logs.String(), "cluster not ready, retrying"); n == 0 {
		t.Fatal("Open did not retry")
	} else {
		t.Logf("Open retried %d times", n)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMinorityServerReconnect: a node whose nats-server is cut off from
// the other two (its routes cut; the node still reaches it) sees its lease
// writes time out or find no responder; after ReconnectAfter of them it
// moves its connection to another server, writes its lease there and
// never fences itself, and a node on the majority side never sees its
// peer go off (scaleout.md 2.4, "NATS server in a minority partition").
func TestMinorityServerReconnect(t *testing.T) {
	c := natstest.StartPartitionable(t, 3)
	long := func(nc *nats.Conn, name string) natsbus.Config {
		// A lease long enough to outlast a stream leader election on the
		// majority side, which the cut can start.
		cfg := testConfig(nc, name)
		cfg.LeaseTTL, cfg.FenceMargin, cfg.Timeout = 20*time.Second, 2*time.Second, time.Second
		return cfg
	}
	watcher := open(t, long(c.Connect(0), "watcher"))
	seen := recordOnline(t, watcher)
	nc := c.Connect(2) // server n3 first
	cfg := long(nc, "minority")
	var fenced atomic.Bool
	cfg.OnFence = func(string) { fenced.Store(true) }
	b := open(t, cfg)
	ctx := context.Background()
	if err := b.Register(ctx, "app", "p"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the watcher to see p online", func() bool { return watcher.Online("app", "p") })

	c.Isolate(2, true)
	cutAt := time.Now()
	waitUntil(t, 5*time.Second, "n3 to lose its routes", func() bool { return c.Servers[2].NATS().NumRoutes() == 0 })
	waitUntil(t, 15*time.Second, "the node to move to a majority server and write its lease there", func() bool {
		return nc.ConnectedServerName() != "n3" && nc.IsConnected() && b.Healthy() == nil &&
			testutil.ToFloat64(b.Metrics().Reconnects) >= 1
	})
	t.Logf("moved from n3 to %s %s after the cut", nc.ConnectedServerName(), time.Since(cutAt).Round(time.Millisecond))
	// The lease keeps being written from there, past a few refreshes.
	lease := testutil.ToFloat64(b.Metrics().PresenceKV.WithLabelValues("lease"))
	waitUntil(t, 10*time.Second, "more lease writes", func() bool {
		return testutil.ToFloat64(b.Metrics().PresenceKV.WithLabelValues("lease")) >= lease+3
	})
	if fenced.Load() {
		t.Fatal("the node fenced itself")
	}
	if !watcher.Online("app", "p") {
		t.Fatal("the watcher lost p")
	}
	if got := seen(); len(got) != 1 || !got[0] {
		t.Fatalf("the watcher saw %v, want one on", got)
	}
}

// recordOnline records the Online of every transition b's watch applies,
// until the test ends, and returns a copy of them so far.
func recordOnline(t *testing.T, b *natsbus.Bus) func() []bool {
	var mu sync.Mutex
	var seen []bool
	t.Cleanup(b.Watch(func(tr cluster.Transition) {
		mu.Lock()
		seen = append(seen, tr.Online)
		mu.Unlock()
	}))
	return func() []bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// waitUntil polls cond every 10 ms, failing t after d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
	}
}

// TestSelfRetired: when the other nodes retire a node's incarnation while
// it still runs (it stalled past its lease, and they wrote its retire
// record), the node sees its own record, fences itself, and comes back as
// a new incarnation holding the peers it still has; a watcher elsewhere
// sees off at the record and on again.
func TestSelfRetired(t *testing.T) {
	c := natstest.Start(t, 3)
	watcher := open(t, testConfig(c.Connect(0), "watcher"))
	seen := recordOnline(t, watcher)
	cfg := testConfig(c.Connect(1), "stalled")
	fences := make(chan string, 4)
	cfg.OnFence = func(reason string) { fences <- reason }
	b := open(t, cfg)
	ctx := context.Background()
	if err := b.Register(ctx, "app", "p"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "p online on the watcher", func() bool { return watcher.Online("app", "p") })
	before := b.Self()
	// What the nodes that saw its lease end would write.
	js, err := jetstream.New(c.Connect(2))
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, natsbus.PeersBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, "x."+string(before), nil); err != nil {
		t.Fatal(err)
	}
	select {
	case reason := <-fences:
		t.Logf("fenced: %s", reason)
	case <-time.After(10 * time.Second):
		t.Fatal("the retired node did not fence itself")
	}
	waitUntil(t, 15*time.Second, "a new incarnation holding p", func() bool {
		nodes := watcher.Nodes(nil, "app", "p")
		return b.Self() != before && b.Healthy() == nil && len(nodes) == 1 && nodes[0] == b.Self()
	})
	if got := seen(); fmt.Sprint(got) != "[true false true]" {
		t.Fatalf("the watcher saw %v, want on, off (the retirement), on (the new incarnation)", got)
	}
}

// TestCheckSyncAlways reads real nats-servers' /jsz: one with
// sync_interval always passes, one with the default interval is refused
// with ErrSyncInterval, and a URL that is not a monitoring endpoint is an
// error of its own (acceptance test 11).
func TestCheckSyncAlways(t *testing.T) {
	monitor := func(syncAlways bool) string {
		s, err := server.NewServer(&server.Options{
			Host: "127.0.0.1", Port: server.RANDOM_PORT, HTTPHost: "127.0.0.1", HTTPPort: server.RANDOM_PORT,
			JetStream: true, StoreDir: t.TempDir(), SyncAlways: syncAlways, NoSigs: true, NoLog: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatal("nats-server not ready")
		}
		return "http://" + s.MonitorAddr().String()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := natsbus.CheckSyncAlways(ctx, nil, monitor(true)); err != nil {
		t.Fatalf("sync_interval always: %v", err)
	}
	err := natsbus.CheckSyncAlways(ctx, nil, monitor(false)+"/")
	if !errors.Is(err, natsbus.ErrSyncInterval) {
		t.Fatalf("default sync interval: %v, want ErrSyncInterval", err)
	}
	t.Log(err)
	notJSZ := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) }))
	defer notJSZ.Close()
	if err := natsbus.CheckSyncAlways(ctx, nil, notJSZ.URL); err == nil || errors.Is(err, natsbus.ErrSyncInterval) {
		t.Fatalf("a URL that is no monitoring endpoint: %v", err)
	}
}

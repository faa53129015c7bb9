package cluster_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rtgate/rtgate/cluster/natsbus"
	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/internal/natsembed/natstest"
	"github.com/rtgate/rtgate/storage"
	jsstore "github.com/rtgate/rtgate/storage/jetstream"
)

const app = "app.one" // a '.' in the app id: it must survive as a subject token

// node is one rtgate node of a test cluster.
type node struct {
	hub  *core.Hub
	bus  *natsbus.Bus
	hubp atomic.Pointer[core.Hub] // for OnFence, which may run before hub is set
}

// testCluster is three nats-servers and n hubs, hub i connected to
// server i%3.
type testCluster struct {
	nats  *natstest.Cluster
	nodes []*node
	store storage.Store // node 0's view of the cluster store
}

// leaseTTL is the node lease of the fencing test: short, so the fence
// shows soon. The other tests keep the default (10 s): a loaded test
// machine can stall a lease refresh for a second or two, and a node that
// fences itself mid-test closes its clients.
const leaseTTL = 3 * time.Second

func newCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	c := &testCluster{nats: natstest.Start(t, 3)}
	for i := range n {
		c.nodes = append(c.nodes, c.start(t, i))
	}
	return c
}

// start joins hub i to the cluster through server i%3.
func (c *testCluster) start(t *testing.T, i int) *node {
	t.Helper()
	return c.startWith(t, i, c.nats.Connect(i%3), 0)
}

// startWith joins hub i to the cluster over conn, with a lease of ttl
// (0: the default).
func (c *testCluster) startWith(t *testing.T, i int, conn *nats.Conn, ttl time.Duration) *node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := &node{}
	bus, err := natsbus.Open(ctx, natsbus.Config{
		Conn: conn, Name: fmt.Sprint("node", i), LeaseTTL: ttl,
		LeaseRefresh: 500 * time.Millisecond, FenceMargin: time.Second, Timeout: 3 * time.Second,
		Logger: testLogger(),
		OnFence: func(reason string) {
			if h := n.hubp.Load(); h != nil {
				h.Fence(reason)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.Close() })
	// The cluster store, through the node's own connection (its reads go
	// to the stream leaders, wherever they are).
	st, err := jsstore.Open(ctx, bus.Conn(), jsstore.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if c.store == nil {
		c.store = st
	}
	hub, err := core.New(core.Config{Store: st, Deliverer: bus, Presence: bus,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	n.bus, n.hub = bus, hub
	n.hubp.Store(hub)
	return n
}

// eventually polls cond every 10 ms until it holds, failing t after d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testLogger discards, unless RTGATE_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("RTGATE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

package cluster_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

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

// leaseTTL is the tests' node lease: short, so a crash shows soon.
const leaseTTL = 3 * time.Second

func newCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	c := &testCluster{nats: natstest.Start(t, 3)}
	for i := range n {
		c.nodes = append(c.nodes, c.start(t, i))
	}
	return c
}

// start joins hub i to the cluster.
func (c *testCluster) start(t *testing.T, i int) *node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := &node{}
	bus, err := natsbus.Open(ctx, natsbus.Config{
		Conn: c.nats.Connect(i % 3), Name: fmt.Sprint("node", i), LeaseTTL: leaseTTL,
		LeaseRefresh: 500 * time.Millisecond, FenceMargin: time.Second, Timeout: 3 * time.Second,
		Logger: slog.New(slog.DiscardHandler),
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

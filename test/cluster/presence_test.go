package cluster_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/protocol"
)

// drain appends the presence statuses about peer waiting on w to seen.
func drain(w *coretest.MemConn, peer string, seen []protocol.Status) []protocol.Status {
	for {
		f, err := w.Next(time.Millisecond)
		if err != nil {
			return seen
		}
		if f.Kind == protocol.KindPresence && slices.Contains(f.SessionPeerIDs, peer) {
			seen = append(seen, f.Status)
		}
	}
}

func openOn(t *testing.T, n *node, peer string, watch ...string) *coretest.MemConn {
	t.Helper()
	c := coretest.Dial(n.hub, false)
	c.Open(t, app, peer, watch...)
	return c
}

// Acceptance test 2: presence at first open and last close, across nodes.
func TestPresenceFirstOpenLastClose(t *testing.T) {
	c := newCluster(t, 3)
	var watchers []*coretest.MemConn
	for i, n := range c.nodes {
		watchers = append(watchers, openOn(t, n, fmt.Sprint("w", i), "b"))
	}
	b2 := openOn(t, c.nodes[1], "b")
	b3 := openOn(t, c.nodes[2], "b")
	seen := make([][]protocol.Status, 3)
	wait := func(want ...protocol.Status) {
		t.Helper()
		eventually(t, 10*time.Second, fmt.Sprintf("every watcher to see %v", want), func() bool {
			ok := true
			for i, w := range watchers {
				seen[i] = drain(w, "b", seen[i])
				ok = ok && len(seen[i]) >= len(want)
			}
			return ok
		})
		time.Sleep(100 * time.Millisecond) // nothing more may follow
		for i, w := range watchers {
			if seen[i] = drain(w, "b", seen[i]); !slices.Equal(seen[i], want) {
				t.Fatalf("watcher on node %d saw %v, want %v", i, seen[i], want)
			}
		}
	}
	wait(protocol.StatusOn)
	b2.Drop()
	// b is still on node 3: every node still lists only that node.
	eventually(t, 10*time.Second, "node 2 to leave b's nodes", func() bool {
		for _, n := range c.nodes {
			if len(n.bus.Nodes(nil, app, "b")) != 1 {
				return false
			}
		}
		return true
	})
	b3.Drop()
	wait(protocol.StatusOn, protocol.StatusOff)
}

// Acceptance test 2, the storm: random opens and closes of b on three
// nodes, concurrently; every watcher on every node sees the same strictly
// alternating sequence ending at the true state, and query and
// onlineSessionPeerIds agree everywhere.
func TestPresenceStorm(t *testing.T) {
	c := newCluster(t, 3)
	var watchers []*coretest.MemConn
	for i, n := range c.nodes {
		watchers = append(watchers, openOn(t, n, fmt.Sprint("w", i), "b"))
	}
	const ops = 1000
	open := make([][]*coretest.MemConn, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			for range ops / len(c.nodes) {
				if len(open[i]) > 0 && rng.IntN(10) < 7 {
					k := rng.IntN(len(open[i]))
					open[i][k].Drop()
					open[i] = slices.Delete(open[i], k, k+1)
					continue
				}
				conn := coretest.Dial(n.hub, false)
				if err := conn.Send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: app, PeerID: "b", I: 1}); err != nil {
					t.Errorf("open on node %d: %v", i, err)
					return
				}
				open[i] = append(open[i], conn)
			}
		}()
	}
	wg.Wait()
	online := false
	for i := range open {
		online = online || len(open[i]) > 0
	}
	want := protocol.StatusOff
	if online {
		want = protocol.StatusOn
	}
	seen := make([][]protocol.Status, 3)
	defer func() {
		if t.Failed() {
			for i, n := range c.nodes {
				t.Logf("node %d: bus transitions %v; watcher closed %d; %d events, last %v; b online %v on nodes %v; conns open %d", i, testutil.ToFloat64(n.bus.Metrics().Transitions), watchers[i].Closed(), len(seen[i]),
					seen[i][max(0, len(seen[i])-3):], n.hub.Online(app, "b"), n.bus.Nodes(nil, app, "b"), len(open[i]))
			}
		}
	}()
	// Every node applies the same ordered watch of the peers bucket, and
	// the bucket keeps the last 64 writes of each key, so a watcher that
	// lags still reads every write: every node sees the same sequence.
	// Settled: every node ends in the true state and has as many events
	// as the others (a node may still be catching up when its last event
	// happens to equal the final one). Then the sequences must be equal.
	settled := func() bool {
		for i, w := range watchers {
			seen[i] = drain(w, "b", seen[i])
			if len(seen[i]) == 0 || seen[i][len(seen[i])-1] != want || len(seen[i]) != len(seen[0]) {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(30 * time.Second); !settled() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	for i := range seen {
		if !slices.Equal(seen[i], seen[0]) {
			t.Fatalf("node %d saw %d events, node 0 %d: not the same sequence", i, len(seen[i]), len(seen[0]))
		}
		if len(seen[i]) == 0 || seen[i][len(seen[i])-1] != want {
			t.Fatalf("node %d: %d events, not ending in %s", i, len(seen[i]), want)
		}
		for j, st := range seen[i] {
			if (j%2 == 0) != (st == protocol.StatusOn) {
				t.Fatalf("node %d: event %d is %s: not strictly alternating", i, j, st)
			}
		}
	}
	t.Logf("%d operations gave %d transitions, final %s", ops, len(seen[0]), want)
	for i, n := range c.nodes {
		q := coretest.Dial(n.hub, false)
		opened := q.Open(t, app, fmt.Sprint("q", i), "b")
		if got := slices.Contains(opened.OnlineSessionPeerIDs, "b"); got != online {
			t.Fatalf("node %d: onlineSessionPeerIds %v, b online %v", i, opened.OnlineSessionPeerIDs, online)
		}
		if err := q.Send(&protocol.Command{Kind: protocol.KindSessionQuery, PeerID: fmt.Sprint("q", i), SessionPeerIDs: []string{"b"}, I: 2}); err != nil {
			t.Fatal(err)
		}
		if got := slices.Contains(q.Expect(t, protocol.KindSessionQueryResult).OnlineSessionPeerIDs, "b"); got != online {
			t.Fatalf("node %d: query says b online %v, want %v", i, got, online)
		}
	}
}

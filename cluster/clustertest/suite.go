// Package clustertest is the conformance suite of the cluster interfaces:
// every implementation (cluster.Local, cluster/natsbus) runs Run against
// a few nodes of its own.
//
// Imports: cluster and the standard library.
package clustertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rtgate/rtgate/cluster"
)

// Node is one node of the cluster under test.
type Node interface {
	cluster.Deliverer
	cluster.Presence
	cluster.OpenGroups
	cluster.Rejoins
	cluster.Forwarder
}

// Harness makes the nodes of one test.
type Harness struct {
	// Nodes returns n fresh nodes of one new cluster; the harness cleans
	// them up with t.
	Nodes func(t *testing.T, n int) []Node
	// Crash, when set, makes node i of nodes vanish as in a crash (no
	// Unregister); the others must report its peers off.
	Crash func(t *testing.T, nodes []Node, i int)
	// Wait bounds how long a transition or delivery may take to arrive.
	// Zero means 10 s.
	Wait time.Duration
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	if h.Wait == 0 {
		h.Wait = 10 * time.Second
	}
	t.Run("Deliver", func(t *testing.T) { testDeliver(t, h) })
	t.Run("PresenceSequence", func(t *testing.T) { testPresence(t, h) })
	t.Run("PresenceCounts", func(t *testing.T) { testCounts(t, h) })
	t.Run("PresenceStorm", func(t *testing.T) { testStorm(t, h) })
	t.Run("SeenEverywhere", func(t *testing.T) { testSeenEverywhere(t, h) })
	t.Run("OpenGroups", func(t *testing.T) { testOpenGroups(t, h) })
	t.Run("Rejoins", func(t *testing.T) { testRejoins(t, h) })
	t.Run("Forward", func(t *testing.T) { testForward(t, h) })
	if h.Crash != nil {
		t.Run("Crash", func(t *testing.T) { testCrash(t, h) })
		t.Run("CrashOpenGroups", func(t *testing.T) { testCrashOpenGroups(t, h) })
	}
}

// awkward ids: they must survive as subject or key tokens.
const (
	app   = "app.one *>"
	peer  = "peer.with >dots* and spaces"
	group = "open.group *>"
)

func testDeliver(t *testing.T, h Harness) {
	nodes := h.Nodes(t, 3)
	got := make(chan cluster.Delivery, 16)
	stop, err := nodes[2].Subscribe(func(d *cluster.Delivery) {
		refs := make([][]byte, len(d.Refs))
		for i, r := range d.Refs {
			refs[i] = slices.Clone(r)
		}
		got <- cluster.Delivery{App: d.App, To: slices.Clone(d.To), Group: d.Group, Refs: refs, Frame: slices.Clone(d.Frame)}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	want := cluster.Delivery{App: app, To: []string{peer, "b"}, Refs: [][]byte{{7, 1}, nil}, Frame: []byte{0, 1, 2, 0xff}}
	open := cluster.Delivery{App: app, Group: group, Frame: []byte{3}}
	ctx := context.Background()
	for _, from := range []Node{nodes[0], nodes[2], nodes[1]} {
		if from == nodes[1] {
			want = open
		}
		// Delivery is at most once, and a new subscription takes a moment
		// to reach every server of a NATS cluster: resend until one
		// arrives.
		deadline := time.Now().Add(h.Wait)
	resend:
		if err := from.Deliver(ctx, nodes[2].Self(), &want); err != nil {
			t.Fatalf("Deliver from %s: %v", from.Self(), err)
		}
		select {
		case d := <-got:
			if d.App != want.App || !slices.Equal(d.To, want.To) || d.Group != want.Group || string(d.Frame) != string(want.Frame) ||
				!slices.EqualFunc(d.Refs, want.Refs, bytes.Equal) {
				t.Fatalf("got %+v, want %+v", d, want)
			}
		case <-time.After(50 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatalf("delivery from %s never arrived", from.Self())
			}
			goto resend
		}
	}
	// Late copies of the resends.
	for len(got) > 0 {
		<-got
	}
	if err := nodes[0].Deliver(ctx, "no-such-node-x", &want); err != nil && !errors.Is(err, cluster.ErrNoNode) {
		t.Fatalf("Deliver to an unknown node: %v, want nil or ErrNoNode", err)
	}
	select {
	case d := <-got:
		t.Fatalf("unexpected delivery %+v", d)
	default:
	}
}

// recorder collects one node's transitions.
type recorder struct {
	mu  sync.Mutex
	got []cluster.Transition
}

func (r *recorder) add(t cluster.Transition) {
	r.mu.Lock()
	r.got = append(r.got, t)
	r.mu.Unlock()
}

func (r *recorder) list() []cluster.Transition {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func watchAll(t *testing.T, nodes []Node) []*recorder {
	recs := make([]*recorder, len(nodes))
	for i, n := range nodes {
		recs[i] = &recorder{}
		stop := n.Watch(recs[i].add)
		t.Cleanup(stop)
	}
	return recs
}

// waitFor polls cond until it holds or the harness's wait passes.
func waitFor(t *testing.T, h Harness, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(h.Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func states(recs []*recorder) string {
	var s string
	for i, r := range recs {
		s += fmt.Sprintf("node %d: %v\n", i, r.list())
	}
	return s
}

func testPresence(t *testing.T, h Harness) {
	nodes := h.Nodes(t, 3)
	recs := watchAll(t, nodes)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	count := func(online bool) func() bool {
		return func() bool {
			for _, r := range recs {
				n := 0
				for _, tr := range r.list() {
					if tr.App == app && tr.Peer == peer && tr.Online == online {
						n++
					}
				}
				if n != 1 {
					return false
				}
			}
			return true
		}
	}
	must(nodes[1].Register(ctx, app, peer))
	must(nodes[2].Register(ctx, app, peer))
	waitFor(t, h, "one on at every node", count(true))
	waitFor(t, h, "both nodes listed everywhere", func() bool {
		for _, n := range nodes {
			got := n.Nodes(nil, app, peer)
			slices.Sort(got)
			want := []cluster.Node{nodes[1].Self(), nodes[2].Self()}
			slices.Sort(want)
			if !slices.Equal(got, want) || !n.Online(app, peer) {
				return false
			}
		}
		return true
	})
	must(nodes[1].Unregister(ctx, app, peer))
	waitFor(t, h, "node 1 gone everywhere", func() bool {
		for _, n := range nodes {
			if got := n.Nodes(nil, app, peer); !slices.Equal(got, []cluster.Node{nodes[2].Self()}) {
				return false
			}
		}
		return true
	})
	must(nodes[2].Unregister(ctx, app, peer))
	waitFor(t, h, "one off at every node", count(false))
	for i, r := range recs {
		if l := r.list(); len(l) != 2 || !l[0].Online || l[1].Online {
			t.Fatalf("node %d saw %v, want exactly [on off]\n%s", i, l, states(recs))
		}
	}
	for _, n := range nodes {
		if n.Online(app, peer) || len(n.Nodes(nil, app, peer)) != 0 {
			t.Fatalf("%s still lists the peer", n.Self())
		}
	}
}

// testSeenEverywhere: when Register (or EnterGroup) returns, every node's
// memory has it, not only the registering node's: a message sent from any
// node right after an open is answered finds the peer there. Fresh peers
// and groups on each node in turn, 30 rounds, checked at once with no
// wait; then a second session of a peer whose first one registered,
// registered concurrently from several goroutines.
func testSeenEverywhere(t *testing.T, h Harness) {
	nodes := h.Nodes(t, 3)
	ctx := context.Background()
	for r := range 30 {
		n, p, g := nodes[r%3], fmt.Sprint("seen ", r), fmt.Sprint("seen.group ", r)
		if err := n.Register(ctx, app, p); err != nil {
			t.Fatal(err)
		}
		if err := n.EnterGroup(ctx, app, g, p); err != nil {
			t.Fatal(err)
		}
		for i, o := range nodes {
			if !o.Online(app, p) || !slices.Contains(o.Nodes(nil, app, p), n.Self()) {
				t.Fatalf("round %d: right after Register on %s, node %d has the peer on %v", r, n.Self(), i, o.Nodes(nil, app, p))
			}
			if got := o.GroupNodes(nil, app, g); !slices.Contains(got, n.Self()) || o.GroupSize(app, g) != 1 {
				t.Fatalf("round %d: right after EnterGroup on %s, node %d has the group on %v", r, n.Self(), i, got)
			}
		}
	}
	// Several sessions of one peer opening at once on one node: whichever
	// call returns, the others' views have the peer (the first write may
	// still be on its way when a second registration finds it written).
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := nodes[1].Register(ctx, app, "seen together"); err != nil {
				errs <- err
				return
			}
			for i, o := range nodes {
				if !o.Online(app, "seen together") {
					errs <- fmt.Errorf("right after a concurrent Register on node 1, node %d does not have the peer", i)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// testCounts: registrations are counted, and an Unregister that overtakes
// its Register (concurrent close and open) leaves the right state.
func testCounts(t *testing.T, h Harness) {
	nodes := h.Nodes(t, 2)
	recs := watchAll(t, nodes)
	ctx := context.Background()
	n := nodes[0]
	for _, step := range []func() error{
		func() error { return n.Register(ctx, app, "c") },
		func() error { return n.Register(ctx, app, "c") },
		func() error { return n.Unregister(ctx, app, "c") },
		// overtaking: the close of the last session arrives before the
		// open of the next; the peer stays online throughout.
		func() error { return n.Unregister(ctx, app, "c") },
		func() error { return n.Register(ctx, app, "c") },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, h, "peer online at the other node", func() bool { return nodes[1].Online(app, "c") })
	if err := n.Unregister(ctx, app, "c"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, h, "peer off everywhere", func() bool {
		for _, r := range recs {
			if l := r.list(); len(l) == 0 || l[len(l)-1].Online {
				return false
			}
		}
		return true
	})
	for i, r := range recs {
		for j, tr := range r.list() {
			if tr.Online != (j%2 == 0) {
				t.Fatalf("node %d: transitions do not alternate: %v", i, r.list())
			}
		}
	}
}

// testStorm: random opens and closes of one peer on every node; every
// node sees the same alternating sequence, ending in the true state.
func testStorm(t *testing.T, h Harness) {
	nodes := h.Nodes(t, 3)
	recs := watchAll(t, nodes)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	held := make([]int, len(nodes))
	for range 300 {
		i := rng.IntN(len(nodes))
		if held[i] > 0 && rng.IntN(2) == 0 {
			held[i]--
			if err := nodes[i].Unregister(ctx, app, "storm"); err != nil {
				t.Fatal(err)
			}
		} else {
			held[i]++
			if err := nodes[i].Register(ctx, app, "storm"); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range nodes {
		for ; held[i] > 0; held[i]-- {
			if err := nodes[i].Unregister(ctx, app, "storm"); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor(t, h, "storm settled off", func() bool {
		for _, r := range recs {
			if l := r.list(); len(l) == 0 || l[len(l)-1].Online {
				return false
			}
		}
		return true
	})
	first := recs[0].list()
	for i, r := range recs {
		l := r.list()
		if !slices.Equal(l, first) {
			t.Fatalf("node %d saw a different sequence\n%s", i, states(recs))
		}
		for j, tr := range l {
			if tr.Online != (j%2 == 0) {
				t.Fatalf("node %d: transitions do not alternate\n%s", i, states(recs))
			}
		}
	}
}

func testForward(t *testing.T, h Harness) {
	nodes := h.Nodes(t, 2)
	stop, err := nodes[1].Serve(func(_ context.Context, req []byte) ([]byte, error) {
		return append([]byte("re:"), req...), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), h.Wait)
	defer cancel()
	// A new responder takes a moment to reach every server of a NATS
	// cluster: until then the request finds no node.
	var rep []byte
	var err2 error
	waitFor(t, h, "the responder", func() bool {
		rep, err2 = nodes[0].Request(ctx, nodes[1].Self(), []byte("x"))
		return !errors.Is(err2, cluster.ErrNoNode)
	})
	if err2 != nil || string(rep) != "re:x" {
		t.Fatalf("Request = %q, %v", rep, err2)
	}
	if _, err := nodes[0].Request(ctx, "no-such-node-x", []byte("x")); !errors.Is(err, cluster.ErrNoNode) {
		t.Fatalf("Request to an unknown node: %v, want ErrNoNode", err)
	}
}

func testCrash(t *testing.T, h Harness) {
	nodes := h.Nodes(t, 3)
	recs := watchAll(t, nodes)
	ctx := context.Background()
	if err := nodes[2].Register(ctx, app, "crash"); err != nil {
		t.Fatal(err)
	}
	if err := nodes[1].Register(ctx, app, "both"); err != nil {
		t.Fatal(err)
	}
	if err := nodes[2].Register(ctx, app, "both"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, h, "peers on", func() bool { return nodes[0].Online(app, "crash") && nodes[0].Online(app, "both") })
	h.Crash(t, nodes, 2)
	waitFor(t, h, "crashed node's peer off", func() bool {
		for _, r := range recs[:2] {
			l := r.list()
			if !slices.Contains(l, cluster.Transition{App: app, Peer: "crash"}) {
				return false
			}
		}
		return true
	})
	for i, r := range recs[:2] {
		if slices.Contains(r.list(), cluster.Transition{App: app, Peer: "both"}) {
			t.Fatalf("node %d: a peer also held by a live node went off", i)
		}
		if got := nodes[i].Nodes(nil, app, "both"); !slices.Equal(got, []cluster.Node{nodes[1].Self()}) {
			t.Fatalf("node %d: nodes of the shared peer = %v", i, got)
		}
	}
}

// groupState is what node says of the open group: its size and the nodes
// hosting members, sorted.
func groupState(n Node) (int, []cluster.Node) {
	nodes := n.GroupNodes(nil, app, group)
	slices.Sort(nodes)
	return n.GroupSize(app, group), nodes
}

// waitGroup waits until every node reports the open group with size
// members on the nodes hosts.
func waitGroup(t *testing.T, h Harness, nodes []Node, what string, size int, hosts ...Node) {
	t.Helper()
	want := make([]cluster.Node, 0, len(hosts))
	for _, n := range hosts {
		want = append(want, n.Self())
	}
	slices.Sort(want)
	waitFor(t, h, what, func() bool {
		for _, n := range nodes {
			if got, gotHosts := groupState(n); got != size || !slices.Equal(gotHosts, want) {
				return false
			}
		}
		return true
	})
}

// testOpenGroups: members entering and leaving an open group on several
// nodes (a peer on two nodes, a peer with two sessions on one) are seen
// alike by every node: the group's size counts distinct peers, its nodes
// are those holding members. A node sees its own change as soon as the
// call returns.
func testOpenGroups(t *testing.T, h Harness) {
	nodes := h.Nodes(t, 3)
	ctx := context.Background()
	enter := func(n Node, p string) {
		t.Helper()
		if err := n.EnterGroup(ctx, app, group, p); err != nil {
			t.Fatal(err)
		}
	}
	leave := func(n Node, p string) {
		t.Helper()
		if err := n.LeaveGroup(ctx, app, group, p); err != nil {
			t.Fatal(err)
		}
	}
	enter(nodes[0], peer)
	enter(nodes[0], peer) // a second session of the same peer
	enter(nodes[1], peer)
	enter(nodes[1], "b")
	// A node's own view shows its change when the call returns.
	if got := nodes[1].GroupNodes(nil, app, group); !slices.Contains(got, nodes[1].Self()) {
		t.Fatalf("right after EnterGroup, node 1's view of the group's nodes is %v", got)
	}
	if err := nodes[2].EnterGroup(ctx, app, "another", "c"); err != nil {
		t.Fatal(err)
	}
	waitGroup(t, h, nodes, "two members on nodes 0 and 1", 2, nodes[0], nodes[1])
	leave(nodes[0], peer)
	leave(nodes[1], peer)
	waitGroup(t, h, nodes, "one session left on node 0", 2, nodes[0], nodes[1])
	leave(nodes[1], "b")
	waitGroup(t, h, nodes, "node 1 empty", 1, nodes[0])
	leave(nodes[0], peer)
	if got := nodes[0].GroupSize(app, group); got != 0 {
		t.Fatalf("right after the last LeaveGroup, node 0 counts %d members", got)
	}
	waitGroup(t, h, nodes, "the group empty", 0)
	for i, n := range nodes {
		if got := n.GroupSize(app, "another"); got != 1 {
			t.Fatalf("node %d: the other group's size = %d, want 1", i, got)
		}
	}
}

// testCrashOpenGroups: a node that crashes takes its open-group members
// with it, on every other node.
func testCrashOpenGroups(t *testing.T, h Harness) {
	nodes := h.Nodes(t, 3)
	ctx := context.Background()
	for _, e := range []struct {
		n int
		p string
	}{{2, "crash"}, {1, "both"}, {2, "both"}} {
		if err := nodes[e.n].EnterGroup(ctx, app, group, e.p); err != nil {
			t.Fatal(err)
		}
	}
	waitGroup(t, h, nodes, "members on nodes 1 and 2", 2, nodes[1], nodes[2])
	h.Crash(t, nodes, 2)
	waitGroup(t, h, nodes[:2], "the crashed node's members gone", 1, nodes[1])
}

// testRejoins: a rejoin record kept on one node shows on every node (at
// once on its own), is replaced by the next one, goes everywhere when
// dropped on another node, and ends by itself after its time.
func testRejoins(t *testing.T, h Harness) {
	nodes := h.Nodes(t, 3)
	ctx := context.Background()
	everywhere := func(what, p, want string) {
		t.Helper()
		waitFor(t, h, what, func() bool {
			for _, n := range nodes {
				if n.Rejoin(app, p) != want {
					return false
				}
			}
			return true
		})
	}
	if err := nodes[0].KeepRejoin(ctx, app, peer, group, time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := nodes[0].Rejoin(app, peer); got != group {
		t.Fatalf("right after KeepRejoin, node 0's record is %q", got)
	}
	everywhere("the record on every node", peer, group)
	if err := nodes[2].KeepRejoin(ctx, app, peer, "second", time.Hour); err != nil {
		t.Fatal(err)
	}
	everywhere("the next record on every node", peer, "second")
	if err := nodes[1].DropRejoin(ctx, app, peer); err != nil {
		t.Fatal(err)
	}
	if got := nodes[1].Rejoin(app, peer); got != "" {
		t.Fatalf("right after DropRejoin, node 1's record is %q", got)
	}
	everywhere("the record dropped on every node", peer, "")
	if err := nodes[1].DropRejoin(ctx, app, "never kept"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := nodes[2].KeepRejoin(ctx, app, "brief", group, time.Second); err != nil {
		t.Fatal(err)
	}
	everywhere("the brief record on every node", "brief", group)
	everywhere("the brief record expired on every node", "brief", "")
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("a 1 s record ended after %v", d)
	}
}

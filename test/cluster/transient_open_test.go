package cluster_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/protocol"
)

// A transient message sent the moment its recipient's `opened` arrived,
// from a peer on another node, reaches it, as on one node: the open is
// answered only once every live node's presence view has the peer
// (natsbus: the seen barrier). Each round a fresh peer opens on node 1 or
// 2 and, as soon as its `opened` is back, q on node 0 sends it a
// transient message. Without the barrier node 0 had often not yet applied
// the open (16 to 36 rounds of 150 in four runs) and dropped the message
// as sent to an offline peer.
// (q watches each peer before it opens, as a sender must.)
func TestTransientRightAfterOpen(t *testing.T) {
	const rounds = 150
	c := newCluster(t, 3)
	cq := openOn(t, c.nodes[0], "q")
	defer cq.Drop()
	conns := make([]*coretest.MemConn, rounds)
	defer func() {
		for _, cp := range conns {
			if cp != nil {
				cp.Drop()
			}
		}
	}()
	for r := range rounds {
		p := fmt.Sprint("fresh", r)
		// q watches p before p opens (a sender must watch its
		// recipients); its `added` says p is offline.
		if err := cq.Send(&protocol.Command{Kind: protocol.KindSessionAdd, PeerID: "q", SessionPeerIDs: []string{p}, I: 1}); err != nil {
			t.Fatalf("round %d: add: %v", r, err)
		}
		if f := expectKind(t, cq, protocol.KindSessionAdded); len(f.OnlineSessionPeerIDs) > 0 {
			t.Fatalf("round %d: %s online before it opened: %+v", r, p, *f)
		}
		conns[r] = openOn(t, c.nodes[1+r%2], p)
		if err := cq.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: "q", ToPeerIDs: []string{p},
			Msg: strconv.Itoa(r), Transient: true, I: int64(r + 2)}); err != nil {
			t.Fatalf("round %d: send: %v", r, err)
		}
	}
	checkArrived(t, c, conns, "transient messages sent right after the recipient's `opened`")
}

// checkArrived fails t unless conns[r] got a message with text r, for
// every round r, and logs the seen barrier's metrics.
func checkArrived(t *testing.T, c *testCluster, conns []*coretest.MemConn, what string) {
	t.Helper()
	// A message that was sent goes out within milliseconds; one dropped
	// never comes. Give the stragglers of a loaded machine a few seconds
	// in all, not per round.
	deadline := time.Now().Add(5 * time.Second)
	var missed []int
	for r, cp := range conns {
		got := false
		for !got {
			f, err := cp.Next(max(time.Until(deadline), time.Millisecond))
			if err != nil {
				break
			}
			got = f.Kind == protocol.KindDirect && f.Msg == strconv.Itoa(r)
		}
		if !got {
			missed = append(missed, r)
		}
	}
	var seenRounds, seenMissed float64
	for _, n := range c.nodes {
		seenRounds += testutil.ToFloat64(n.bus.Metrics().SeenRounds)
		seenMissed += testutil.ToFloat64(n.bus.Metrics().SeenMissed)
	}
	t.Logf("seen barrier: %v rounds, %v nodes late", seenRounds, seenMissed)
	if len(missed) > 0 {
		t.Fatalf("%d of %d %s never arrived (rounds %v; %v nodes late for the seen barrier)",
			len(missed), len(conns), what, missed, seenMissed)
	}
}

// The same for an open group: a fresh peer opens on node 1 or 2 and joins
// q's open group, and as soon as its `joined` is back q sends the group a
// message from node 0. (Node 0 also catches up with the presence view
// before it picks the group's nodes, so this held before the barrier
// too; the barrier makes it hold for any node's view.)
func TestOpenGroupRightAfterJoin(t *testing.T) {
	const rounds = 100
	c := newCluster(t, 3)
	cq := openOn(t, c.nodes[0], "q")
	defer cq.Drop()
	if err := cq.Send(&protocol.Command{Kind: protocol.KindRoomJoin, PeerID: "q", Transient: true, I: 1}); err != nil {
		t.Fatal(err)
	}
	room := expectKind(t, cq, protocol.KindRoomJoined).RoomID
	conns := make([]*coretest.MemConn, rounds)
	defer func() {
		for _, cp := range conns {
			if cp != nil {
				cp.Drop()
			}
		}
	}()
	for r := range rounds {
		p := fmt.Sprint("joiner", r)
		conns[r] = openOn(t, c.nodes[1+r%2], p)
		if err := conns[r].Send(&protocol.Command{Kind: protocol.KindRoomJoin, PeerID: p, RoomID: room, Transient: true, I: 2}); err != nil {
			t.Fatalf("round %d: join: %v", r, err)
		}
		expectKind(t, conns[r], protocol.KindRoomJoined)
		if err := cq.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: "q", RoomID: room,
			Msg: strconv.Itoa(r), Transient: true, I: int64(r + 2)}); err != nil {
			t.Fatalf("round %d: send: %v", r, err)
		}
	}
	checkArrived(t, c, conns, "open-group messages sent right after the member's `joined`")
}

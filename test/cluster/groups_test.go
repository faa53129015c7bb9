package cluster_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/protocol"
)

// expectOnly reads frames of conn until one of kind k, failing on any
// other kind but presence.
func expectKind(t *testing.T, conn *coretest.MemConn, k protocol.Kind) *protocol.Command {
	t.Helper()
	for {
		f, err := conn.Next(10 * time.Second)
		if err != nil {
			t.Fatalf("waiting for %v: %v", k, err)
		}
		if f.Kind == protocol.KindPresence {
			continue
		}
		if f.Kind != k {
			t.Fatalf("got %v %+v, want %v", f.Kind, *f, k)
		}
		return f
	}
}

// quiet fails t if conn gets anything but presence within d.
func quiet(t *testing.T, conn *coretest.MemConn, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if f, err := conn.Next(time.Until(deadline)); err == nil && f.Kind != protocol.KindPresence {
			t.Fatalf("unexpected %v %+v", f.Kind, *f)
		}
	}
}

// Acceptance test 6: groups with members on three nodes.
func TestGroupsAcrossNodes(t *testing.T) {
	c := newCluster(t, 3)
	owner := openOn(t, c.nodes[0], "owner")
	if err := owner.Send(&protocol.Command{Kind: protocol.KindRoomJoin, PeerID: "owner", I: 1}); err != nil {
		t.Fatal(err)
	}
	room := expectKind(t, owner, protocol.KindRoomJoined).RoomID
	expectKind(t, owner, protocol.KindRoomMembersJoined)

	// Members on every node; wait until every node knows where they are.
	names := []string{"m0", "m1", "m2", "m3", "m4", "m5"}
	members := map[string]*coretest.MemConn{}
	for i, p := range names {
		members[p] = openOn(t, c.nodes[i%3], p)
	}
	eventually(t, 10*time.Second, "members' presence on node 0", func() bool {
		for _, p := range names {
			if !c.nodes[0].hub.Online(app, p) {
				return false
			}
		}
		return true
	})
	if err := owner.Send(&protocol.Command{Kind: protocol.KindRoomInvite, PeerID: "owner", RoomID: room, RoomPeerIDs: names, I: 2}); err != nil {
		t.Fatal(err)
	}
	if got := expectKind(t, owner, protocol.KindRoomInvited); !slices.Equal(got.RoomPeerIDs, names) {
		t.Fatalf("invited = %+v", *got)
	}
	expectKind(t, owner, protocol.KindRoomMembersJoined)
	for _, p := range names {
		if j := expectKind(t, members[p], protocol.KindRoomJoined); j.ByPeerID != "owner" || j.RoomID != room {
			t.Fatalf("%s: joined = %+v", p, *j)
		}
		if mj := expectKind(t, members[p], protocol.KindRoomMembersJoined); !slices.Equal(mj.RoomPeerIDs, names) {
			t.Fatalf("%s: members-joined = %+v", p, *mj)
		}
	}

	// A group message: every member session but the sender's, one NATS
	// message per other node hosting members.
	bus := c.nodes[0].bus.Metrics().Deliveries
	before := testutil.ToFloat64(bus)
	if err := owner.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: "owner", RoomID: room, Msg: "hello all", I: 3}); err != nil {
		t.Fatal(err)
	}
	expectKind(t, owner, protocol.KindAck)
	for _, p := range names {
		if m := expectKind(t, members[p], protocol.KindDirect); m.Msg != "hello all" || m.RoomID != room || m.FromPeerID != "owner" {
			t.Fatalf("%s: message = %+v", p, *m)
		}
	}
	if got := testutil.ToFloat64(bus) - before; got != 2 {
		t.Fatalf("NATS messages for one group message = %v, want 2 (nodes 1 and 2)", got)
	}

	// Leave (m1 on node 1) and kick (m2 on node 2): every remaining
	// member is told exactly once.
	if err := members["m1"].Send(&protocol.Command{Kind: protocol.KindRoomLeave, PeerID: "m1", RoomID: room, I: 4}); err != nil {
		t.Fatal(err)
	}
	expectKind(t, members["m1"], protocol.KindRoomLeft)
	expectKind(t, owner, protocol.KindRoomMembersLeft) // m1, from node 1
	if l := expectKind(t, members["m2"], protocol.KindRoomMembersLeft); !slices.Equal(l.RoomPeerIDs, []string{"m1"}) {
		t.Fatalf("m2: members-left = %+v", *l)
	}
	if err := owner.Send(&protocol.Command{Kind: protocol.KindRoomKick, PeerID: "owner", RoomID: room, RoomPeerIDs: []string{"m2"}, I: 5}); err != nil {
		t.Fatal(err)
	}
	expectKind(t, owner, protocol.KindRoomKicked)
	expectKind(t, owner, protocol.KindRoomMembersLeft) // m2
	if l := expectKind(t, members["m2"], protocol.KindRoomLeft); l.ByPeerID != "owner" {
		t.Fatalf("m2: left = %+v", *l)
	}
	for _, p := range []string{"m0", "m3", "m4", "m5"} {
		for _, who := range []string{"m1", "m2"} {
			if l := expectKind(t, members[p], protocol.KindRoomMembersLeft); !slices.Equal(l.RoomPeerIDs, []string{who}) {
				t.Fatalf("%s: members-left = %+v, want %s", p, *l, who)
			}
		}
	}
	for _, p := range names {
		quiet(t, members[p], 100*time.Millisecond)
	}

	// Concurrent joins from three nodes: the group ends with all of them.
	var joiners []string
	var wg sync.WaitGroup
	for i := range 30 {
		p := fmt.Sprint("j", i)
		joiners = append(joiners, p)
		conn := openOn(t, c.nodes[i%3], p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := conn.Send(&protocol.Command{Kind: protocol.KindRoomJoin, PeerID: p, RoomID: room, I: 9}); err != nil {
				t.Errorf("%s: join: %v", p, err)
			}
		}()
	}
	wg.Wait()
	g, err := c.store.Group(t.Context(), app, room)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range joiners {
		if !slices.Contains(g.Members, p) {
			t.Fatalf("%s missing from %v", p, g.Members)
		}
	}
}

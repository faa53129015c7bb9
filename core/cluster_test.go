package core_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rtgate/rtgate/cluster"
	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/memory"
)

// newNodes returns n hubs joined by one in-process cluster.Local, sharing
// one store (as cluster nodes share JetStream).
func newNodes(t *testing.T, n int) ([]*core.Hub, storage.Store) {
	t.Helper()
	l := cluster.NewLocal()
	st := memory.New(memory.Config{})
	hubs := make([]*core.Hub, n)
	for i := range hubs {
		node := l.Node(cluster.Node(fmt.Sprintf("n%d", i)))
		h, err := core.New(core.Config{Store: st, Deliverer: node, Presence: node})
		if err != nil {
			t.Fatal(err)
		}
		hubs[i] = h
	}
	return hubs, st
}

func TestClusterDirectAcrossNodes(t *testing.T) {
	hubs, _ := newNodes(t, 3)
	a := coretest.Dial(hubs[0], false)
	a.Open(t, app, "a", "b")
	b := coretest.Dial(hubs[2], false)
	b.Open(t, app, "b")
	a.Expect(t, protocol.KindPresence)

	tr := direct("a", "hi", "b")
	tr.Transient = true
	send(t, a, tr)
	if got := b.Expect(t, protocol.KindDirect); got.Msg != "hi" || !got.Transient || got.FromPeerID != "a" || got.PeerID != "b" {
		t.Fatalf("transient = %+v", *got)
	}
	for i := range 100 {
		pm := direct("a", fmt.Sprint(i), "b")
		pm.Receipt = true
		send(t, a, pm)
		ack := a.Expect(t, protocol.KindAck)
		if ack.UID == "" || ack.Time == 0 {
			t.Fatalf("ack = %+v", *ack)
		}
		got := b.Expect(t, protocol.KindDirect)
		if got.Msg != fmt.Sprint(i) || got.ID != ack.UID {
			t.Fatalf("message %d = %+v (ack %s)", i, *got, ack.UID)
		}
		send(t, b, &protocol.Command{Kind: protocol.KindAck, PeerID: "b", IDs: []string{got.ID}, HasIDs: true})
		if r := a.Expect(t, protocol.KindRcp); r.ID != got.ID {
			t.Fatalf("rcp = %+v", *r)
		}
	}
	// An unwatched peer is acked and not delivered, as on one node.
	c := coretest.Dial(hubs[1], false)
	c.Open(t, app, "c")
	send(t, a, direct("a", "no", "c"))
	a.Expect(t, protocol.KindAck)
	c.ExpectNone(t, 50*time.Millisecond)
}

func TestClusterPresenceAcrossNodes(t *testing.T) {
	hubs, _ := newNodes(t, 3)
	watchers := make([]*coretest.MemConn, 3)
	for i, h := range hubs {
		watchers[i] = coretest.Dial(h, false)
		if got := watchers[i].Open(t, app, fmt.Sprint("w", i), "b"); len(got.OnlineSessionPeerIDs) != 0 {
			t.Fatalf("opened = %+v", *got)
		}
	}
	b2 := coretest.Dial(hubs[1], false)
	b2.Open(t, app, "b")
	b3 := coretest.Dial(hubs[2], false)
	b3.Open(t, app, "b")
	for _, w := range watchers {
		if p := w.Expect(t, protocol.KindPresence); p.Status != protocol.StatusOn {
			t.Fatalf("presence = %+v", *p)
		}
		w.ExpectNone(t, 20*time.Millisecond)
	}
	for _, h := range hubs {
		if !h.Online(app, "b") {
			t.Fatal("b offline on some node")
		}
		q := coretest.Dial(h, false)
		got := q.Open(t, app, "q", "b")
		if !slices.Equal(got.OnlineSessionPeerIDs, []string{"b"}) {
			t.Fatalf("onlineSessionPeerIds = %v", got.OnlineSessionPeerIDs)
		}
		q.Drop()
	}
	b2.Drop()
	for _, w := range watchers {
		w.ExpectNone(t, 20*time.Millisecond)
	}
	b3.Drop()
	for _, w := range watchers {
		if p := w.Expect(t, protocol.KindPresence); p.Status != protocol.StatusOff {
			t.Fatalf("presence = %+v", *p)
		}
	}
}

// TestClusterGroupOneDeliveryPerNode: a group message reaches every member
// session but the sender's, and costs one delivery per other node that
// hosts members.
func TestClusterGroupOneDeliveryPerNode(t *testing.T) {
	hubs, _ := newNodes(t, 3)
	owner := coretest.Dial(hubs[0], false)
	owner.Open(t, app, "owner")
	send(t, owner, &protocol.Command{Kind: protocol.KindRoomJoin, PeerID: "owner", I: 1})
	room := owner.Expect(t, protocol.KindRoomJoined).RoomID
	owner.Expect(t, protocol.KindRoomMembersJoined)
	var members []*coretest.MemConn
	var names []string
	for i := range 6 {
		name := fmt.Sprint("m", i)
		c := coretest.Dial(hubs[i%3], false)
		c.Open(t, app, name)
		members = append(members, c)
		names = append(names, name)
	}
	send(t, owner, &protocol.Command{Kind: protocol.KindRoomInvite, PeerID: "owner", RoomID: room, RoomPeerIDs: names, I: 2})
	owner.Expect(t, protocol.KindRoomInvited)
	owner.Expect(t, protocol.KindRoomMembersJoined)
	for _, c := range members {
		c.Expect(t, protocol.KindRoomJoined)
		c.Expect(t, protocol.KindRoomMembersJoined)
	}
	before := testutil.ToFloat64(hubs[0].Metrics().ClusterOut)
	send(t, owner, &protocol.Command{Kind: protocol.KindDirect, PeerID: "owner", RoomID: room, Msg: "all", I: 3})
	owner.Expect(t, protocol.KindAck)
	for _, c := range members {
		if got := c.Expect(t, protocol.KindDirect); got.Msg != "all" || got.RoomID != room {
			t.Fatalf("group message = %+v", *got)
		}
	}
	owner.ExpectNone(t, 20*time.Millisecond)
	if got := testutil.ToFloat64(hubs[0].Metrics().ClusterOut) - before; got != 2 {
		t.Fatalf("deliveries to other nodes = %v, want 2 (one per node)", got)
	}
}

// TestRedrain: a message stored while its live copy was lost (here: put in
// the inbox behind the hub's back) reaches the open session on Redrain,
// once; a second Redrain sends nothing.
func TestRedrain(t *testing.T) {
	hubs, st := newNodes(t, 2)
	b := coretest.Dial(hubs[1], false)
	b.Open(t, app, "b")
	m := &storage.Message{App: app, ID: "lost1", From: "a", To: []string{"b"}, Text: "lost live", Time: time.Now().UnixMilli()}
	if err := st.Persist(t.Context(), m, []string{"b"}); err != nil {
		t.Fatal(err)
	}
	if n := hubs[1].Redrain(); n != 1 {
		t.Fatalf("Redrain read %d sessions, want 1", n)
	}
	if got := b.Expect(t, protocol.KindDirect); got.ID != "lost1" || !got.Offline {
		t.Fatalf("redrained = %+v", *got)
	}
	hubs[1].Redrain()
	b.ExpectNone(t, 50*time.Millisecond)
}

// TestClusterOpenGroup: an open group's members on three nodes get its
// messages (one delivery per other node hosting members, none to a node
// without), every node counts its members alike, a session that leaves
// or ends leaves the count, a crashed node takes its members with it, and
// a peer whose session ended rejoins on another node (but not after it
// left the group).
func TestClusterOpenGroup(t *testing.T) {
	l := cluster.NewLocal()
	st := memory.New(memory.Config{})
	var hubs []*core.Hub
	var nodes []*cluster.LocalNode
	for i := range 4 {
		node := l.Node(cluster.Node(fmt.Sprintf("n%d", i)))
		h, err := core.New(core.Config{Store: st, Deliverer: node, Presence: node})
		if err != nil {
			t.Fatal(err)
		}
		hubs, nodes = append(hubs, h), append(nodes, node)
	}
	owner := coretest.Dial(hubs[0], false)
	owner.Open(t, app, "owner")
	create := roomCmd(protocol.KindRoomJoin, "owner", "")
	create.Transient = true
	send(t, owner, create)
	room := owner.Expect(t, protocol.KindRoomJoined).RoomID
	var members []*coretest.MemConn
	for i := range 6 { // on nodes 0, 1 and 2; node 3 hosts none
		name := fmt.Sprint("m", i)
		c := coretest.Dial(hubs[i%3], false)
		c.Open(t, app, name)
		send(t, c, roomCmd(protocol.KindRoomJoin, name, room))
		c.Expect(t, protocol.KindRoomJoined)
		members = append(members, c)
	}
	// a peer with sessions on two nodes counts once
	twin := coretest.Dial(hubs[1], false)
	twin.Open(t, app, "m0")
	send(t, twin, roomCmd(protocol.KindRoomJoin, "m0", room))
	twin.Expect(t, protocol.KindRoomJoined)
	members = append(members, twin)
	for i, h := range hubs {
		if n := h.OpenGroupOnline(app, room); n != 7 {
			t.Fatalf("node %d: online = %d, want 7", i, n)
		}
	}

	outs := func() (n float64) {
		for _, h := range hubs {
			n += testutil.ToFloat64(h.Metrics().ClusterOut)
		}
		return n
	}
	before := outs()
	send(t, owner, &protocol.Command{Kind: protocol.KindDirect, PeerID: "owner", RoomID: room, Msg: "all", Transient: true})
	for _, c := range members {
		if got := c.Expect(t, protocol.KindDirect); got.Msg != "all" || got.RoomID != room || !got.Transient {
			t.Fatalf("open group message = %+v", *got)
		}
	}
	owner.ExpectNone(t, 20*time.Millisecond)
	if got := outs() - before; got != 2 {
		t.Fatalf("deliveries to other nodes = %v, want 2 (nodes 1 and 2)", got)
	}
	// a server-side send from a node hosting no member reaches them all
	if _, err := hubs[3].SendAs(t.Context(), core.Send{App: &core.App{ID: app}, From: "srv", Room: room, Text: "rest"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range append(members, owner) {
		if got := c.Expect(t, protocol.KindDirect); got.Msg != "rest" || got.FromPeerID != "srv" {
			t.Fatalf("server send = %+v", *got)
		}
	}

	// leaving and ending sessions leave the count on every node
	send(t, members[1], roomCmd(protocol.KindRoomLeave, "m1", room))
	members[1].Expect(t, protocol.KindRoomLeft)
	members[2].Drop()
	twin.Drop() // m0 stays, through its node-0 session
	for i, h := range hubs {
		if n := h.OpenGroupOnline(app, room); n != 5 {
			t.Fatalf("node %d: online after a leave and two drops = %d, want 5", i, n)
		}
	}
	nodes[2].Crash() // m2 (dropped already) and m5
	for i, h := range hubs[:2] {
		if n := h.OpenGroupOnline(app, room); n != 4 {
			t.Fatalf("node %d: online after node 2 crashed = %d, want 4", i, n)
		}
	}

	// m3's session (node 0) ends and it opens again on node 1: back in
	// the group. m4 (node 1) leaves, then opens again on node 3: not.
	members[3].Drop()
	m3 := coretest.Dial(hubs[1], false)
	m3.Open(t, app, "m3")
	send(t, members[4], roomCmd(protocol.KindRoomLeave, "m4", room))
	members[4].Expect(t, protocol.KindRoomLeft)
	members[4].Drop()
	m4 := coretest.Dial(hubs[3], false)
	m4.Open(t, app, "m4")
	send(t, owner, &protocol.Command{Kind: protocol.KindDirect, PeerID: "owner", RoomID: room, Msg: "back", Transient: true})
	if got := m3.Expect(t, protocol.KindDirect); got.Msg != "back" {
		t.Fatalf("rejoined member got %+v", *got)
	}
	m4.ExpectNone(t, 30*time.Millisecond)
	if n := hubs[3].OpenGroupOnline(app, room); n != 3 { // owner, m0, m3
		t.Fatalf("online after the rejoin = %d, want 3", n)
	}
}

// refStore is a node's view of a shared store that hands out inbox refs
// (storage.InboxRefs) for what it persisted, and records the refs it is
// told about.
type refStore struct {
	storage.Store
	mu      sync.Mutex
	mine    map[string]bool // peer + "/" + id persisted here; guarded by mu
	learned []learnedRef    // guarded by mu
}

type learnedRef struct {
	peer string
	m    storage.Message
	ref  string
}

func (s *refStore) Persist(ctx context.Context, m *storage.Message, inbox []string) error {
	if err := s.Store.Persist(ctx, m, inbox); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range inbox {
		s.mine[p+"/"+m.ID] = true
	}
	return nil
}

func (s *refStore) InboxRef(app, peer, id string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.mine[peer+"/"+id] {
		return nil
	}
	return []byte("ref:" + app + ":" + peer + ":" + id)
}

func (s *refStore) LearnInboxRef(peer string, m *storage.Message, ref []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.learned = append(s.learned, learnedRef{peer: peer, m: *m, ref: string(ref)})
}

func (s *refStore) learnedRefs() []learnedRef {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.learned)
}

// TestClusterInboxRefs: a persistent live copy sent to another node
// carries the sending store's inbox ref of each recipient, and the
// receiving node gives it to its store with the message as delivered,
// before the recipient can ack; transient copies and recipients without a
// ref carry none.
func TestClusterInboxRefs(t *testing.T) {
	l := cluster.NewLocal()
	shared := memory.New(memory.Config{})
	var stores []*refStore
	var hubs []*core.Hub
	for i := range 2 {
		st := &refStore{Store: shared, mine: map[string]bool{}}
		node := l.Node(cluster.Node(fmt.Sprintf("n%d", i)))
		h, err := core.New(core.Config{Store: st, Deliverer: node, Presence: node})
		if err != nil {
			t.Fatal(err)
		}
		stores, hubs = append(stores, st), append(hubs, h)
	}
	a := coretest.Dial(hubs[0], false)
	a.Open(t, app, "a", "b")
	b := coretest.Dial(hubs[1], false)
	b.Open(t, app, "b")
	a.Expect(t, protocol.KindPresence)

	tr := direct("a", "transient", "b")
	tr.Transient = true
	send(t, a, tr)
	b.Expect(t, protocol.KindDirect)
	pm := direct("a", "kept", "b")
	pm.Receipt = true
	send(t, a, pm)
	ack := a.Expect(t, protocol.KindAck)
	got := b.Expect(t, protocol.KindDirect)
	learned := stores[1].learnedRefs()
	if len(learned) != 1 {
		t.Fatalf("node 1 learned %+v, want one ref (the persistent message)", learned)
	}
	r := learned[0]
	if r.peer != "b" || r.ref != "ref:"+app+":b:"+ack.UID || r.m.App != app || r.m.ID != ack.UID ||
		r.m.From != "a" || r.m.Text != "kept" || r.m.Time != got.Timestamp {
		t.Errorf("learned %+v, want b's ref to %s as delivered", r, ack.UID)
	}
	if l := stores[0].learnedRefs(); len(l) != 0 {
		t.Errorf("the sending node learned %+v", l)
	}
	send(t, b, &protocol.Command{Kind: protocol.KindAck, PeerID: "b", IDs: []string{got.ID}, HasIDs: true})
	if rcp := a.Expect(t, protocol.KindRcp); rcp.ID != got.ID {
		t.Fatalf("rcp = %+v", *rcp)
	}
}

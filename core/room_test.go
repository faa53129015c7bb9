package core_test

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/protocol"
)

func roomCmd(k protocol.Kind, peer, room string, targets ...string) *protocol.Command {
	return &protocol.Command{Kind: k, PeerID: peer, RoomID: room, RoomPeerIDs: targets, I: 3}
}

// createGroup makes alice create a group and returns its id.
func createGroup(t *testing.T, alice *coretest.MemConn) string {
	t.Helper()
	send(t, alice, roomCmd(protocol.KindRoomJoin, "alice", ""))
	j := alice.Expect(t, protocol.KindRoomJoined)
	if len(j.RoomID) != 24 || j.ByPeerID != "alice" || j.I != 3 {
		t.Fatalf("joined = %+v", *j)
	}
	mj := alice.Expect(t, protocol.KindRoomMembersJoined)
	if mj.RoomID != j.RoomID || !slices.Equal(mj.RoomPeerIDs, []string{"alice"}) || mj.I != 0 {
		t.Fatalf("members-joined = %+v", *mj)
	}
	return j.RoomID
}

func TestGroupLifecycleEvents(t *testing.T) {
	h, st := newHub(t, nil)
	alice := coretest.Dial(h, false)
	alice.Open(t, app, "alice")
	bob := coretest.Dial(h, false)
	bob.Open(t, app, "bob")
	carol := coretest.Dial(h, false)
	carol.Open(t, app, "carol")
	room := createGroup(t, alice)

	// invite bob: alice gets invited, bob joined(by alice), everyone members-joined.
	send(t, alice, roomCmd(protocol.KindRoomInvite, "alice", room, "bob"))
	inv := alice.Expect(t, protocol.KindRoomInvited)
	if !slices.Equal(inv.RoomPeerIDs, []string{"bob"}) || inv.ByPeerID != "alice" {
		t.Fatalf("invited = %+v", *inv)
	}
	if j := bob.Expect(t, protocol.KindRoomJoined); j.ByPeerID != "alice" || j.RoomID != room || j.PeerID != "bob" {
		t.Fatalf("bob joined = %+v", *j)
	}
	for _, c := range []*coretest.MemConn{alice, bob} {
		if mj := c.Expect(t, protocol.KindRoomMembersJoined); !slices.Equal(mj.RoomPeerIDs, []string{"bob"}) || mj.ByPeerID != "alice" {
			t.Fatalf("members-joined = %+v", *mj)
		}
	}
	// carol joins by id.
	send(t, carol, roomCmd(protocol.KindRoomJoin, "carol", room))
	carol.Expect(t, protocol.KindRoomJoined)
	for _, c := range []*coretest.MemConn{alice, bob, carol} {
		c.Expect(t, protocol.KindRoomMembersJoined)
	}
	// group message: everyone but the origin, persistent, acked.
	send(t, bob, &protocol.Command{Kind: protocol.KindDirect, PeerID: "bob", RoomID: room, Msg: "hello group", I: 4})
	for _, c := range []*coretest.MemConn{alice, carol} {
		m := c.Expect(t, protocol.KindDirect)
		if m.RoomID != room || m.FromPeerID != "bob" || m.Msg != "hello group" {
			t.Fatalf("group direct = %+v", *m)
		}
	}
	bob.Expect(t, protocol.KindAck)
	// kick carol: alice kicked, carol left(by alice), remaining members-left.
	send(t, alice, roomCmd(protocol.KindRoomKick, "alice", room, "carol"))
	if k := alice.Expect(t, protocol.KindRoomKicked); !slices.Equal(k.RoomPeerIDs, []string{"carol"}) {
		t.Fatalf("kicked = %+v", *k)
	}
	if l := carol.Expect(t, protocol.KindRoomLeft); l.ByPeerID != "alice" {
		t.Fatalf("carol left = %+v", *l)
	}
	for _, c := range []*coretest.MemConn{alice, bob} {
		if ml := c.Expect(t, protocol.KindRoomMembersLeft); !slices.Equal(ml.RoomPeerIDs, []string{"carol"}) {
			t.Fatalf("members-left = %+v", *ml)
		}
	}
	carol.ExpectNone(t, 30*time.Millisecond)
	// bob leaves.
	send(t, bob, roomCmd(protocol.KindRoomLeave, "bob", room))
	if l := bob.Expect(t, protocol.KindRoomLeft); l.ByPeerID != "bob" || l.I != 3 {
		t.Fatalf("left = %+v", *l)
	}
	alice.Expect(t, protocol.KindRoomMembersLeft)
	g, err := st.Group(t.Context(), app, room)
	if err != nil || !slices.Equal(g.Members, []string{"alice"}) {
		t.Fatalf("members = %v, %v", g, err)
	}
	// carol (no longer a member) posts: acked, not delivered.
	send(t, carol, &protocol.Command{Kind: protocol.KindDirect, PeerID: "carol", RoomID: room, Msg: "let me in", I: 5})
	carol.Expect(t, protocol.KindAck)
	alice.ExpectNone(t, 30*time.Millisecond)
}

func TestGroupMembershipSurvivesReconnectAndOfflineInbox(t *testing.T) {
	h, _ := newHub(t, nil)
	alice := coretest.Dial(h, false)
	alice.Open(t, app, "alice")
	room := createGroup(t, alice)
	bob := coretest.Dial(h, false)
	bob.Open(t, app, "bob")
	send(t, bob, roomCmd(protocol.KindRoomJoin, "bob", room))
	bob.Expect(t, protocol.KindRoomJoined)
	bob.Expect(t, protocol.KindRoomMembersJoined)
	alice.Expect(t, protocol.KindRoomMembersJoined)
	bob.Drop()

	send(t, alice, &protocol.Command{Kind: protocol.KindDirect, PeerID: "alice", RoomID: room, Msg: "while away", I: 4})
	ack := alice.Expect(t, protocol.KindAck)
	bob = coretest.Dial(h, false)
	bob.Open(t, app, "bob")
	m := bob.Expect(t, protocol.KindDirect)
	if m.ID != ack.UID || !m.Offline || m.RoomID != room {
		t.Fatalf("offline group message = %+v", *m)
	}
	send(t, alice, &protocol.Command{Kind: protocol.KindDirect, PeerID: "alice", RoomID: room, Msg: "live", I: 5})
	if m := bob.Expect(t, protocol.KindDirect); m.Msg != "live" {
		t.Fatalf("got %+v", *m)
	}
}

func TestGroupLimitAndUnknownGroup(t *testing.T) {
	h, _ := newHub(t, func(c *core.Config) { c.MaxGroupMembers = 2 })
	alice := coretest.Dial(h, false)
	alice.Open(t, app, "alice")
	room := createGroup(t, alice)
	send(t, alice, roomCmd(protocol.KindRoomInvite, "alice", room, "bob", "carol"))
	if r := alice.Expect(t, protocol.KindRoomReject); !slices.Equal(r.RoomPeerIDs, []string{"bob", "carol"}) || r.I != 3 {
		t.Fatalf("reject = %+v", *r)
	}
	send(t, alice, roomCmd(protocol.KindRoomJoin, "alice", "ffffffffffffffffffffffff"))
	alice.Expect(t, protocol.KindRoomReject)
}

func TestOpenGroup(t *testing.T) {
	h, _ := newHub(t, nil)
	alice := coretest.Dial(h, false)
	alice.Open(t, app, "alice")
	create := roomCmd(protocol.KindRoomJoin, "alice", "")
	create.Transient = true
	send(t, alice, create)
	room := alice.Expect(t, protocol.KindRoomJoined).RoomID
	alice.ExpectNone(t, 30*time.Millisecond) // no members-joined in open groups

	bob := coretest.Dial(h, false)
	bob.Open(t, app, "bob")
	send(t, bob, roomCmd(protocol.KindRoomJoin, "bob", room))
	bob.Expect(t, protocol.KindRoomJoined)
	alice.ExpectNone(t, 30*time.Millisecond)
	if n := h.OpenGroupOnline(app, room); n != 2 {
		t.Fatalf("online = %d", n)
	}
	// Messages are transient even when sent persistent; still acked.
	send(t, bob, &protocol.Command{Kind: protocol.KindDirect, PeerID: "bob", RoomID: room, Msg: "hi all", I: 4})
	if m := alice.Expect(t, protocol.KindDirect); !m.Transient {
		t.Fatalf("open group message = %+v", *m)
	}
	bob.Expect(t, protocol.KindAck)
	// bob reconnects within the window: still in the group.
	bob.Drop()
	bob = coretest.Dial(h, false)
	bob.Open(t, app, "bob")
	send(t, alice, &protocol.Command{Kind: protocol.KindDirect, PeerID: "alice", RoomID: room, Msg: "welcome back", Transient: true})
	if m := bob.Expect(t, protocol.KindDirect); m.Msg != "welcome back" {
		t.Fatalf("got %+v", *m)
	}
	// Joining a second open group leaves the first silently.
	create2 := roomCmd(protocol.KindRoomJoin, "bob", "")
	create2.Transient = true
	send(t, bob, create2)
	bob.Expect(t, protocol.KindRoomJoined)
	send(t, alice, &protocol.Command{Kind: protocol.KindDirect, PeerID: "alice", RoomID: room, Msg: "gone?", Transient: true})
	bob.ExpectNone(t, 30*time.Millisecond)
}

func TestGroupSignatures(t *testing.T) {
	a := &core.App{ID: "sapp", MasterKey: "master", Signatures: true}
	h, _ := newHub(t, func(c *core.Config) { c.Apps = core.StaticApps{"sapp": a} })
	now := time.Now()
	alice := coretest.Dial(h, false)
	send(t, alice, signedOpen(a, "alice", nil, now, "master"))
	alice.Expect(t, protocol.KindSessionOpened)
	ts := strconv.FormatInt(now.Unix(), 10)
	sign := func(room string, targets []string, action, key string) *protocol.Command {
		k := map[string]protocol.Kind{"join": protocol.KindRoomJoin, "invite": protocol.KindRoomInvite, "kick": protocol.KindRoomKick}[action]
		c := roomCmd(k, "alice", room, targets...)
		c.SigTime, c.Nonce = ts, "n"
		c.Sig = core.Sign(key, core.RoomSignFields("sapp", "alice", room, targets, ts, "n", action)...)
		return c
	}
	send(t, alice, sign("", nil, "join", "wrong"))
	alice.Expect(t, protocol.KindRoomReject)
	send(t, alice, sign("", nil, "join", "master"))
	room := alice.Expect(t, protocol.KindRoomJoined).RoomID
	alice.Expect(t, protocol.KindRoomMembersJoined)
	send(t, alice, sign(room, []string{"bob"}, "invite", "wrong"))
	alice.Expect(t, protocol.KindRoomReject)
	send(t, alice, sign(room, []string{"bob"}, "invite", "master"))
	alice.Expect(t, protocol.KindRoomInvited)
}

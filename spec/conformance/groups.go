package conformance

import (
	"regexp"

	"github.com/rtgate/rtgate/protocol"
)

// groupID is a group id: 24 lowercase hex digits (an objectId).
var groupID = regexp.MustCompile(`^[0-9a-f]{24}$`)

// roomEvent matches a room command of kind k for peer in room with the
// given byPeerId and roomPeerIds (nil: not checked) and i.
func roomEvent(k protocol.Kind, peer, room, by string, members []string, i int64) Match {
	return kind(k, "for "+peer+" by "+by, func(f *protocol.Command) bool {
		return f.PeerID == peer && (room == "" || f.RoomID == room) && f.ByPeerID == by && f.I == i &&
			(members == nil || sameSet(f.RoomPeerIDs, members))
	})
}

// createGroup has c (peer) create a group and returns its id, after the
// `joined` reply and the creator's own `members-joined`.
func createGroup(c *Client, peer string) string {
	i := c.I()
	c.Send(&protocol.Command{Kind: protocol.KindRoomJoin, PeerID: peer, I: i})
	got := c.ExpectSet(
		roomEvent(protocol.KindRoomJoined, peer, "", peer, nil, i),
		roomEvent(protocol.KindRoomMembersJoined, peer, "", peer, []string{peer}, 0),
	)
	room := got[0].RoomID
	if !groupID.MatchString(room) || got[1].RoomID != room {
		c.t.Fatalf("%s: created group id %q (members-joined says %q), want the same 24 hex digits", c.name, room, got[1].RoomID)
	}
	return room
}

// joinGroup has c (peer) join room; every session in others (member peer,
// client) gets `members-joined [peer]`.
func joinGroup(c *Client, peer, room string, others map[string]*Client) {
	i := c.I()
	c.Send(&protocol.Command{Kind: protocol.KindRoomJoin, PeerID: peer, RoomID: room, I: i})
	c.ExpectSet(
		roomEvent(protocol.KindRoomJoined, peer, room, peer, nil, i),
		roomEvent(protocol.KindRoomMembersJoined, peer, room, peer, []string{peer}, 0),
	)
	for p, o := range others {
		o.ExpectSet(roomEvent(protocol.KindRoomMembersJoined, p, room, peer, []string{peer}, 0))
	}
}

// groupMembership: create, join, invite, kick and leave, with the replies
// and events of spec/groups-signatures.md.
func groupMembership(t *T) {
	alice, bob, carol := t.Peer("alice"), t.Peer("bob"), t.Peer("carol")
	a, b, c := t.Dial("alice"), t.Dial("bob"), t.Dial("carol")
	a.Open(alice)
	b.Open(bob)
	c.Open(carol)
	room := createGroup(a, alice)
	joinGroup(b, bob, room, map[string]*Client{alice: a})

	// invite carol: alice gets invited [carol]; carol gets joined by alice;
	// every member (carol too) gets members-joined [carol] by alice.
	i := a.I()
	a.Send(&protocol.Command{Kind: protocol.KindRoomInvite, PeerID: alice, RoomID: room, RoomPeerIDs: []string{carol}, I: i})
	a.ExpectSet(
		roomEvent(protocol.KindRoomInvited, alice, room, alice, []string{carol}, i),
		roomEvent(protocol.KindRoomMembersJoined, alice, room, alice, []string{carol}, 0),
	)
	b.ExpectSet(roomEvent(protocol.KindRoomMembersJoined, bob, room, alice, []string{carol}, 0))
	c.ExpectSet(
		roomEvent(protocol.KindRoomJoined, carol, room, alice, nil, 0),
		roomEvent(protocol.KindRoomMembersJoined, carol, room, alice, []string{carol}, 0),
	)
	// Inviting a member again adds nobody.
	i = a.I()
	a.Send(&protocol.Command{Kind: protocol.KindRoomInvite, PeerID: alice, RoomID: room, RoomPeerIDs: []string{bob}, I: i})
	a.ExpectSet(roomEvent(protocol.KindRoomInvited, alice, room, alice, []string{}, i))
	a.Barrier("no event when an invite adds nobody")

	// kick carol: alice gets kicked [carol]; carol gets left by alice; the
	// remaining members get members-left [carol] by alice.
	i = a.I()
	a.Send(&protocol.Command{Kind: protocol.KindRoomKick, PeerID: alice, RoomID: room, RoomPeerIDs: []string{carol}, I: i})
	a.ExpectSet(
		roomEvent(protocol.KindRoomKicked, alice, room, alice, []string{carol}, i),
		roomEvent(protocol.KindRoomMembersLeft, alice, room, alice, []string{carol}, 0),
	)
	b.ExpectSet(roomEvent(protocol.KindRoomMembersLeft, bob, room, alice, []string{carol}, 0))
	c.ExpectSet(roomEvent(protocol.KindRoomLeft, carol, room, alice, nil, 0))
	c.Barrier("a kicked peer gets left, not members-left")

	// bob leaves: left by bob; alice gets members-left [bob].
	i = b.I()
	b.Send(&protocol.Command{Kind: protocol.KindRoomLeave, PeerID: bob, RoomID: room, I: i})
	b.ExpectSet(roomEvent(protocol.KindRoomLeft, bob, room, bob, nil, i))
	a.ExpectSet(roomEvent(protocol.KindRoomMembersLeft, alice, room, bob, []string{bob}, 0))
	b.Barrier("the leaver gets no members-left")

	// A non-member cannot invite: reject with the targets.
	i = c.I()
	c.Send(&protocol.Command{Kind: protocol.KindRoomInvite, PeerID: carol, RoomID: room, RoomPeerIDs: []string{bob}, I: i})
	c.ExpectSet(kind(protocol.KindRoomReject, "with roomPeerIds ["+bob+"]", func(f *protocol.Command) bool {
		return f.PeerID == carol && f.RoomID == room && f.I == i && sameSet(f.RoomPeerIDs, []string{bob})
	}))
	// Joining a group that does not exist is rejected.
	i = c.I()
	c.Send(&protocol.Command{Kind: protocol.KindRoomJoin, PeerID: carol, RoomID: "000000000000000000000000", I: i})
	c.ExpectSet(kind(protocol.KindRoomReject, "for an unknown group", func(f *protocol.Command) bool {
		return f.PeerID == carol && f.I == i && len(f.RoomPeerIDs) == 0
	}))
	a.Barrier("nothing else for the remaining member")
}

// groupSend: a group message goes to every session of every member but the
// originating one (the sender's other devices get a copy), and to the
// inbox of a member with no open session.
func groupSend(t *T) {
	alice, bob, carol := t.Peer("alice"), t.Peer("bob"), t.Peer("carol")
	a, b, c := t.Dial("alice"), t.Dial("bob"), t.Dial("carol")
	c.Open(carol)
	a.Open(alice, carol) // watches carol, to know when she is gone
	b.Open(bob)
	room := createGroup(a, alice)
	joinGroup(b, bob, room, map[string]*Client{alice: a})
	joinGroup(c, carol, room, map[string]*Client{alice: a, bob: b})
	c.Close() // carol becomes a member with no open session
	expectPresence(a, alice, protocol.StatusOff, carol)
	a2 := t.Dial("alice-device-2")
	a2.Open(alice)

	i := a.I()
	a.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: alice, RoomID: room, Msg: "to the group", I: i})
	ack := a.ExpectI(protocol.KindAck, i)
	for _, x := range []struct {
		c    *Client
		peer string
	}{{b, bob}, {a2, alice}} {
		f := x.c.ExpectDirect(x.peer, alice, "to the group")
		if f.RoomID != room || f.ID != ack.UID || f.Offline || f.Transient {
			t.Fatalf("%s: got %s, want roomId %s, id %s", x.c.name, Show(f), room, ack.UID)
		}
		x.c.Send(&protocol.Command{Kind: protocol.KindAck, PeerID: x.peer, IDs: []string{f.ID}, HasIDs: true})
	}
	a.Barrier("the originating session gets no copy")
	c2 := t.Dial("carol-again")
	c2.Open(carol)
	f := c2.ExpectDirect(carol, alice, "to the group")
	if f.RoomID != room || f.ID != ack.UID || !f.Offline {
		t.Fatalf("carol: got %s, want the group message from the inbox (roomId %s, id %s, offline:true)", Show(f), room, ack.UID)
	}
	sendAck(c2, &protocol.Command{Kind: protocol.KindAck, PeerID: carol, IDs: []string{f.ID}, HasIDs: true})
	b.Barrier("one copy per session")
}

// groupNonMember: a non-member's post, or a post to an unknown group, is
// acked and not delivered.
func groupNonMember(t *T) {
	alice, dave := t.Peer("alice"), t.Peer("dave")
	a, d := t.Dial("alice"), t.Dial("dave")
	a.Open(alice)
	d.Open(dave)
	room := createGroup(a, alice)
	for _, r := range []string{room, "000000000000000000000000"} {
		i := d.I()
		d.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: dave, RoomID: r, Msg: "let me in", I: i})
		d.ExpectI(protocol.KindAck, i)
	}
	a.Barrier("a non-member's post is not delivered")
	d.Barrier("nor echoed")
}

// groupOpen: an open group (join with transient:true) has no member
// events, carries messages live only (transient:true when delivered),
// and refuses invite.
func groupOpen(t *T) {
	alice, bob, carol := t.Peer("alice"), t.Peer("bob"), t.Peer("carol")
	a, b := t.Dial("alice"), t.Dial("bob")
	a.Open(alice)
	b.Open(bob)
	i := a.I()
	a.Send(&protocol.Command{Kind: protocol.KindRoomJoin, PeerID: alice, Transient: true, I: i})
	f := a.ExpectI(protocol.KindRoomJoined, i)
	room := f.RoomID
	if !groupID.MatchString(room) {
		t.Fatalf("alice: open group id %q is not 24 hex digits", room)
	}
	a.Barrier("no members-joined in an open group")
	i = b.I()
	b.Send(&protocol.Command{Kind: protocol.KindRoomJoin, PeerID: bob, RoomID: room, I: i})
	b.ExpectI(protocol.KindRoomJoined, i)
	b.Barrier("no members-joined in an open group")
	a.Barrier("no members-joined in an open group")

	i = a.I()
	a.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: alice, RoomID: room, Msg: "open hello", I: i})
	a.ExpectI(protocol.KindAck, i)
	m := b.ExpectDirect(bob, alice, "open hello")
	if m.RoomID != room || !m.Transient {
		t.Fatalf("bob: got %s, want roomId %s and transient:true (open groups are live only)", Show(m), room)
	}

	i = a.I()
	a.Send(&protocol.Command{Kind: protocol.KindRoomInvite, PeerID: alice, RoomID: room, RoomPeerIDs: []string{carol}, I: i})
	a.ExpectSet(kind(protocol.KindRoomReject, "(invite to an open group)", func(f *protocol.Command) bool {
		return f.PeerID == alice && f.RoomID == room && f.I == i
	}))

	i = b.I()
	b.Send(&protocol.Command{Kind: protocol.KindRoomLeave, PeerID: bob, RoomID: room, I: i})
	b.ExpectI(protocol.KindRoomLeft, i)
	a.Barrier("no members-left in an open group")
	a.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: alice, RoomID: room, Msg: "after leave", I: a.I()})
	a.Expect(protocol.KindAck)
	b.Barrier("no message after leaving an open group")
}

// groupLiveUnacked: a persistent group message delivered live to a member
// that drops before acking comes back, with its id and offline:true, at
// the member's next open; once acked, never again.
func groupLiveUnacked(t *T) {
	alice, bob := t.Peer("alice"), t.Peer("bob")
	a, b := t.Dial("alice"), t.Dial("bob")
	a.Open(alice)
	b.Open(bob)
	room := createGroup(a, alice)
	joinGroup(b, bob, room, map[string]*Client{alice: a})
	i := a.I()
	a.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: alice, RoomID: room, Msg: "live to the group", I: i})
	ack := a.ExpectI(protocol.KindAck, i)
	if f := b.ExpectDirect(bob, alice, "live to the group"); f.ID != ack.UID || f.Offline {
		t.Fatalf("bob: got %s, want id %s live", Show(f), ack.UID)
	}
	b.Close() // without acking
	b = expectInbox(t, "bob-2", bob, alice, []string{ack.UID}, []string{"live to the group"})
	sendAck(b, &protocol.Command{Kind: protocol.KindAck, PeerID: bob, IDs: []string{ack.UID}, HasIDs: true})
	b.Close()
	expectInbox(t, "bob-3", bob, alice, nil, nil)
}

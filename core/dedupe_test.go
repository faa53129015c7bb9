package core_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/protocol"
)

// TestRepeatedSendIsStoredOnce: a modern client that sends a message again
// with the same client id (as after a dropped connection, from a new one)
// gets the first message's ack, and the recipient gets the message once,
// live and from the inbox alike; the same id on another message, from
// another sender or on a legacy connection is a new message.
func TestRepeatedSendIsStoredOnce(t *testing.T) {
	h, st := newHub(t, nil)
	bob := coretest.Dial(h, true)
	bob.Open(t, app, "bob")
	alice := coretest.Dial(h, true)
	alice.Open(t, app, "alice", "bob")
	cmd := direct("alice", "hello", "bob")
	cmd.ID = "c-1"
	send(t, alice, cmd)
	first := alice.Expect(t, protocol.KindAck)
	got := bob.Expect(t, protocol.KindDirect)
	if got.ID != first.UID || first.ID != "c-1" {
		t.Fatalf("ack %+v, delivered %+v", *first, *got)
	}

	// The connection drops before alice reads her ack; she sends again.
	alice.Drop()
	alice = coretest.Dial(h, true)
	alice.Open(t, app, "alice", "bob")
	cmd.I = 9
	send(t, alice, cmd)
	again := alice.Expect(t, protocol.KindAck)
	if again.UID != first.UID || again.Time != first.Time || again.I != 9 || again.ID != "c-1" {
		t.Fatalf("repeat acked %+v, want uid %s t %d", *again, first.UID, first.Time)
	}
	bob.ExpectNone(t, 50*time.Millisecond)
	if n, _ := st.Count(t.Context(), app, "bob", false); n != 1 {
		t.Fatalf("bob's inbox holds %d, want 1", n)
	}

	// The same id on another message is a new message.
	other := direct("alice", "something else", "bob")
	other.ID = "c-1"
	send(t, alice, other)
	if a := alice.Expect(t, protocol.KindAck); a.UID == first.UID {
		t.Fatalf("a different message with a used id took the first uid")
	}
	if m := bob.Expect(t, protocol.KindDirect); m.Msg != "something else" {
		t.Fatalf("delivered %+v", *m)
	}

	// Another sender's id is its own; so is a legacy connection's.
	carol := coretest.Dial(h, true)
	carol.Open(t, app, "carol", "bob")
	c := direct("carol", "hi", "bob")
	c.ID = "c-1"
	send(t, carol, c)
	if a := carol.Expect(t, protocol.KindAck); a.UID == first.UID {
		t.Fatalf("carol's message took alice's uid")
	}
	legacy := coretest.Dial(h, false)
	legacy.Open(t, app, "alice", "bob")
	send(t, legacy, cmd)
	send(t, legacy, cmd)
	a1, a2 := legacy.Expect(t, protocol.KindAck), legacy.Expect(t, protocol.KindAck)
	if a1.UID == first.UID || a2.UID == a1.UID {
		t.Fatalf("legacy sends deduplicated: %s %s (first %s)", a1.UID, a2.UID, first.UID)
	}
	for range 3 { // carol's, and the two legacy ones
		bob.Expect(t, protocol.KindDirect)
	}
	if n := testutil.ToFloat64(h.Metrics().Deduplicated); n != 1 {
		t.Fatalf("deduplicated counter %v, want 1", n)
	}

	// Bob, offline, gets the message from his inbox once.
	bob.Drop()
	bob = coretest.Dial(h, true)
	bob.Open(t, app, "bob")
	n := 0
	for {
		m, err := bob.Next(100 * time.Millisecond)
		if err != nil {
			break
		}
		if m.Kind == protocol.KindDirect && m.ID == first.UID {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("redelivered %d times, want 1", n)
	}
}

// TestRepeatedGroupSendIsStoredOnce is TestRepeatedSendIsStoredOnce for a
// group message.
func TestRepeatedGroupSendIsStoredOnce(t *testing.T) {
	h, _ := newHub(t, nil)
	alice := coretest.Dial(h, true)
	alice.Open(t, app, "alice")
	send(t, alice, &protocol.Command{Kind: protocol.KindRoomJoin, PeerID: "alice", I: 1})
	gid := alice.Expect(t, protocol.KindRoomJoined).RoomID
	alice.Expect(t, protocol.KindRoomMembersJoined)
	bob := coretest.Dial(h, true)
	bob.Open(t, app, "bob")
	send(t, bob, &protocol.Command{Kind: protocol.KindRoomJoin, PeerID: "bob", RoomID: gid, I: 1})
	bob.Expect(t, protocol.KindRoomJoined)
	bob.Expect(t, protocol.KindRoomMembersJoined)
	alice.Expect(t, protocol.KindRoomMembersJoined)
	cmd := &protocol.Command{Kind: protocol.KindDirect, PeerID: "alice", RoomID: gid, Msg: "all", ID: "g-1", I: 3}
	send(t, alice, cmd)
	first := alice.Expect(t, protocol.KindAck)
	if m := bob.Expect(t, protocol.KindDirect); m.ID != first.UID {
		t.Fatalf("delivered %+v, ack %+v", *m, *first)
	}
	send(t, alice, cmd)
	if again := alice.Expect(t, protocol.KindAck); again.UID != first.UID {
		t.Fatalf("repeat acked %s, want %s", again.UID, first.UID)
	}
	bob.ExpectNone(t, 50*time.Millisecond)
}

// TestDedupeBoundsAndOff: an id over the limit is refused in modern mode;
// with DedupeWindow < 0 a repeat is a new message; the entries are bounded.
func TestDedupeBoundsAndOff(t *testing.T) {
	h, _ := newHub(t, func(c *core.Config) { c.DedupeEntries = 2 })
	alice := coretest.Dial(h, true)
	alice.Open(t, app, "alice", "bob")
	long := direct("alice", "x", "bob")
	long.ID = strings.Repeat("i", 129)
	send(t, alice, long)
	if e := alice.Expect(t, protocol.KindError); e.Code != protocol.ErrCodeBadCommand {
		t.Fatalf("error %+v", *e)
	}
	// Three ids through a table of two: the first is forgotten.
	var acks []string
	for _, id := range []string{"a", "b", "c", "a"} {
		c := direct("alice", "x", "bob")
		c.ID = id
		send(t, alice, c)
		acks = append(acks, alice.Expect(t, protocol.KindAck).UID)
	}
	if acks[3] == acks[0] {
		t.Fatalf("id a still remembered past the bound: %v", acks)
	}

	off, _ := newHub(t, func(c *core.Config) { c.DedupeWindow = -1 })
	a := coretest.Dial(off, true)
	a.Open(t, app, "alice", "bob")
	c := direct("alice", "x", "bob")
	c.ID = "same"
	send(t, a, c)
	send(t, a, c)
	if u1, u2 := a.Expect(t, protocol.KindAck).UID, a.Expect(t, protocol.KindAck).UID; u1 == u2 {
		t.Fatalf("deduplicated with DedupeWindow < 0")
	}
}

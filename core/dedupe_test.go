package core_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/badger"
	"github.com/rtgate/rtgate/storage/memory"
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

// gatedStore holds each Persist until the test lets it go, and fails it
// when told to.
type gatedStore struct {
	storage.Store
	entered chan struct{}
	release chan error // nil: persist; an error: fail with it
}

func (g *gatedStore) Persist(ctx context.Context, m *storage.Message, inbox []string) error {
	g.entered <- struct{}{}
	if err := <-g.release; err != nil {
		return err
	}
	return g.Store.Persist(ctx, m, inbox)
}

// TestRepeatWhileFirstIsStored: a repeat that comes while the first send is
// still being stored waits for it and gets its ack; if the first fails,
// the repeat is stored in its place. Either way bob gets one message.
func TestRepeatWhileFirstIsStored(t *testing.T) {
	for _, firstFails := range []bool{false, true} {
		t.Run(fmt.Sprint("first fails ", firstFails), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { testRepeatWhileFirstIsStored(t, firstFails) })
		})
	}
}

// testRepeatWhileFirstIsStored runs in a synctest bubble, so "the repeat
// waits for the first" is a fact (synctest.Wait) rather than a sleep.
func testRepeatWhileFirstIsStored(t *testing.T, firstFails bool) {
	g := &gatedStore{Store: memory.New(memory.Config{}), entered: make(chan struct{}), release: make(chan error)}
	h, err := core.New(core.Config{Store: g})
	if err != nil {
		t.Fatal(err)
	}
	bob := coretest.Dial(h, true)
	bob.Open(t, app, "bob")
	a1, a2 := coretest.Dial(h, true), coretest.Dial(h, true)
	a1.Open(t, app, "alice", "bob")
	a2.Open(t, app, "alice", "bob")
	cmd := direct("alice", "hello", "bob")
	cmd.ID = "c-1"
	// MemConn.Send handles the command on the caller's goroutine.
	errs := make(chan error, 2)
	go func() { errs <- a1.Send(cmd) }()
	<-g.entered // the first send is in the store
	go func() { errs <- a2.Send(cmd) }()
	synctest.Wait() // the repeat is blocked, waiting for the first
	select {
	case err := <-errs:
		t.Fatalf("the repeat returned (%v) while the first was still being stored", err)
	default:
	}
	if firstFails {
		g.release <- errors.New("disk full")
		if e := a1.Expect(t, protocol.KindError); e.Code != protocol.ErrCodeInternal {
			t.Fatalf("first: %+v", *e)
		}
		<-g.entered // the repeat, stored in its place
	}
	g.release <- nil
	ack := a2.Expect(t, protocol.KindAck)
	if !firstFails {
		if first := a1.Expect(t, protocol.KindAck); first.UID != ack.UID {
			t.Fatalf("repeat acked %s, first %s", ack.UID, first.UID)
		}
	}
	if m := bob.Expect(t, protocol.KindDirect); m.ID != ack.UID {
		t.Fatalf("delivered %+v, ack %s", *m, ack.UID)
	}
	bob.ExpectNone(t, 50*time.Millisecond)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestRepeatAfterRestart: the sends a store keeps outlive the hub. A
// client that repeats a send to a restarted server (its ack was lost with
// the old one) gets the first send's ack, and nothing is stored or
// delivered again; after the window, a repeat is a new message.
func TestRepeatAfterRestart(t *testing.T) {
	dir := t.TempDir()
	open := func(now func() time.Time) (*core.Hub, *badger.Store) {
		st, err := badger.New(badger.Config{Dir: dir, Logger: slog.New(slog.DiscardHandler), GCInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		h, err := core.New(core.Config{Store: st, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return h, st
	}
	h, st := open(nil)
	alice := coretest.Dial(h, true)
	alice.Open(t, app, "alice", "bob")
	send(t, alice, &protocol.Command{Kind: protocol.KindRoomJoin, PeerID: "alice", I: 1})
	gid := alice.Expect(t, protocol.KindRoomJoined).RoomID
	alice.Expect(t, protocol.KindRoomMembersJoined)
	cmd := direct("alice", "hello", "bob")
	cmd.ID = "c-1"
	send(t, alice, cmd)
	first := alice.Expect(t, protocol.KindAck)
	gcmd := &protocol.Command{Kind: protocol.KindDirect, PeerID: "alice", RoomID: gid, Msg: "all", ID: "g-1", I: 3}
	send(t, alice, gcmd)
	gfirst := alice.Expect(t, protocol.KindAck)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	h, st = open(nil)
	bob := coretest.Dial(h, true)
	bob.Open(t, app, "bob")
	if m := bob.Expect(t, protocol.KindDirect); m.ID != first.UID {
		t.Fatalf("bob's inbox: %+v, want %s", *m, first.UID)
	}
	alice = coretest.Dial(h, true)
	alice.Open(t, app, "alice", "bob")
	send(t, alice, cmd)
	if again := alice.Expect(t, protocol.KindAck); again.UID != first.UID || again.Time != first.Time {
		t.Fatalf("repeat after the restart acked %+v, want uid %s t %d", *again, first.UID, first.Time)
	}
	send(t, alice, gcmd)
	if again := alice.Expect(t, protocol.KindAck); again.UID != gfirst.UID {
		t.Fatalf("group repeat after the restart acked %s, want %s", again.UID, gfirst.UID)
	}
	bob.ExpectNone(t, 50*time.Millisecond)
	other := direct("alice", "something else", "bob")
	other.ID = "c-1"
	send(t, alice, other)
	if a := alice.Expect(t, protocol.KindAck); a.UID == first.UID {
		t.Fatal("a different message with a used id took the first uid after the restart")
	}
	bob.Expect(t, protocol.KindDirect)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// Past the window (10 min by default), the repeat is a new message.
	h, st = open(func() time.Time { return time.Now().Add(11 * time.Minute) })
	defer st.Close()
	alice = coretest.Dial(h, true)
	alice.Open(t, app, "alice", "bob")
	send(t, alice, cmd)
	if a := alice.Expect(t, protocol.KindAck); a.UID == first.UID {
		t.Fatal("a repeat after the window took the first uid")
	}
}

package core_test

import (
	"context"
	"testing"
	"time"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/memory"
)

// storedThenHeld stores each Persist at once, then holds the caller until
// the test lets it go: the message is in the inbox and not yet delivered
// live, the window of issue 15 defect 5.
type storedThenHeld struct {
	storage.Store
	stored  chan struct{}
	release chan struct{}
}

func (g *storedThenHeld) Persist(ctx context.Context, m *storage.Message, inbox []string) error {
	err := g.Store.Persist(ctx, m, inbox)
	g.stored <- struct{}{}
	<-g.release
	return err
}

// TestNoRedeliveryTwiceInSession: a message stored while its recipient's
// session opens arrives once in that session — from the inbox, with
// offline:true — and the live delivery that follows is not written again,
// even after the recipient acked the offline copy (issue 15, defect 5).
func TestNoRedeliveryTwiceInSession(t *testing.T) {
	for _, tc := range []struct {
		name  string
		group bool
		ack   bool
	}{
		{"direct", false, false},
		{"direct acked before live", false, true},
		{"group", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &storedThenHeld{Store: memory.New(memory.Config{}), stored: make(chan struct{}), release: make(chan struct{})}
			h, err := core.New(core.Config{Store: g})
			if err != nil {
				t.Fatal(err)
			}
			alice := coretest.Dial(h, false)
			alice.Open(t, app, "alice", "bob")
			cmd := direct("alice", "racing the open", "bob")
			if tc.group {
				room := createGroup(t, alice)
				bob := coretest.Dial(h, false)
				bob.Open(t, app, "bob")
				alice.Expect(t, protocol.KindPresence)
				send(t, bob, roomCmd(protocol.KindRoomJoin, "bob", room))
				bob.Expect(t, protocol.KindRoomJoined)
				bob.Expect(t, protocol.KindRoomMembersJoined)
				alice.Expect(t, protocol.KindRoomMembersJoined)
				bob.Drop()
				alice.Expect(t, protocol.KindPresence)
				cmd = &protocol.Command{Kind: protocol.KindDirect, PeerID: "alice", RoomID: room, Msg: "racing the open", I: 7}
			}
			errs := make(chan error, 1)
			go func() { errs <- alice.Send(cmd) }()
			<-g.stored // in bob's inbox, not yet delivered live

			bob := coretest.Dial(h, false)
			bob.Open(t, app, "bob")
			alice.Expect(t, protocol.KindPresence)
			m := bob.Expect(t, protocol.KindDirect)
			if !m.Offline || m.Msg != "racing the open" {
				t.Fatalf("redelivered = %+v", *m)
			}
			if tc.ack {
				send(t, bob, &protocol.Command{Kind: protocol.KindAck, PeerID: "bob", IDs: []string{m.ID}, HasIDs: true})
			}
			close(g.release) // the live delivery goes on
			ack := alice.Expect(t, protocol.KindAck)
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
			if ack.UID != m.ID {
				t.Fatalf("ack %s, redelivered %s", ack.UID, m.ID)
			}
			bob.ExpectNone(t, 100*time.Millisecond)

			// The next message is delivered live as usual.
			g.release = make(chan struct{})
			close(g.release)
			go func() { <-g.stored }()
			cmd.Msg = "next"
			send(t, alice, cmd)
			alice.Expect(t, protocol.KindAck)
			if n := bob.Expect(t, protocol.KindDirect); n.Msg != "next" || n.Offline {
				t.Fatalf("next = %+v", *n)
			}
		})
	}
}

// TestNoPresenceBeforeOpened: when y opens while x's open is between
// watching y and answering, x gets `opened` (listing y as it was when
// watched) and only then `presence on` for y (issue 15, defect 6). The
// same holds for `session add` and `added`.
func TestNoPresenceBeforeOpened(t *testing.T) {
	for _, add := range []bool{false, true} {
		name := "open"
		if add {
			name = "add"
		}
		t.Run(name, func(t *testing.T) {
			h, _ := newHub(t, nil)
			x := coretest.Dial(h, false)
			if add {
				x.Open(t, app, "x")
			}
			y := coretest.Dial(h, false)
			core.SetAfterWatch(h, func(peer string) {
				if peer == "y" {
					core.SetAfterWatch(h, nil)
					y.Open(t, app, "y") // y's first session: presence on to x
				}
			})
			want := protocol.KindSessionOpened
			if add {
				send(t, x, &protocol.Command{Kind: protocol.KindSessionAdd, PeerID: "x", SessionPeerIDs: []string{"y"}, I: 2})
				want = protocol.KindSessionAdded
			} else {
				send(t, x, &protocol.Command{Kind: protocol.KindSessionOpen, AppID: app, PeerID: "x", SessionPeerIDs: []string{"y"}, I: 1})
			}
			reply := x.Expect(t, want)
			if len(reply.OnlineSessionPeerIDs) != 0 {
				t.Fatalf("%v lists %v online; y opened after x watched it", want, reply.OnlineSessionPeerIDs)
			}
			p := x.Expect(t, protocol.KindPresence)
			if p.Status != protocol.StatusOn || len(p.SessionPeerIDs) != 1 || p.SessionPeerIDs[0] != "y" {
				t.Fatalf("presence = %+v", *p)
			}
			x.ExpectNone(t, 50*time.Millisecond)
		})
	}
}

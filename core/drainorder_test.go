package core_test

import (
	"context"
	"sync"
	"testing"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/memory"
)

// slowInboxStore is a real memory store whose Pending for one peer waits for
// a gate: a slow inbox read, as a cluster store's through the stream
// leader.
type slowInboxStore struct {
	storage.Store
	peer    string
	entered chan struct{} // closed when Pending for peer started
	gate    chan struct{} // Pending for peer returns once it is closed
	once    sync.Once
}

func (s *slowInboxStore) Pending(ctx context.Context, app, peer string) ([]*storage.Message, error) {
	if peer == s.peer {
		s.once.Do(func() { close(s.entered) })
		<-s.gate
	}
	return s.Store.Pending(ctx, app, peer)
}

// TestOfflineBeforeLiveWhileTheInboxIsRead: a live message sent while the
// recipient's inbox is still being read after `opened` (a client that
// answers `opened` at once, a sender on another node) comes after the
// older offline messages, not before them.
func TestOfflineBeforeLiveWhileTheInboxIsRead(t *testing.T) {
	st := &slowInboxStore{Store: memory.New(memory.Config{}), peer: "bob",
		entered: make(chan struct{}), gate: make(chan struct{})}
	h, err := core.New(core.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	alice := coretest.Dial(h, false)
	alice.Open(t, app, "alice", "bob")
	send(t, alice, direct("alice", "offline 1", "bob"))
	alice.Expect(t, protocol.KindAck)
	send(t, alice, direct("alice", "offline 2", "bob"))
	alice.Expect(t, protocol.KindAck)

	bob := coretest.Dial(h, false)
	opened := make(chan error, 1)
	go func() { // ends when bob's open returns (after the gate opens)
		opened <- bob.Send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: app, PeerID: "bob", SessionPeerIDs: []string{"alice"}, I: 1})
	}()
	<-st.entered // `opened` is written; the inbox read is under way
	bob.Expect(t, protocol.KindSessionOpened)
	alice.Expect(t, protocol.KindPresence) // bob on
	send(t, alice, direct("alice", "live", "bob"))
	alice.Expect(t, protocol.KindAck)
	close(st.gate)
	if err := <-opened; err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"offline 1", "offline 2", "live"} {
		m := bob.Expect(t, protocol.KindDirect)
		if m.Msg != want || m.Offline != (want != "live") {
			t.Fatalf("got %q (offline %v), want %q", m.Msg, m.Offline, want)
		}
	}
}

package core_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/internal/natsembed/natstest"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/jetstream"
)

// TestRepeatOnAnotherNodeIsStoredOnce: two hubs on one cluster store
// (JetStream, three in-process servers). A modern client's send goes to
// the first; after a dropped connection it repeats the send on the second,
// which acks it with the first send's uid and time and stores nothing.
func TestRepeatOnAnotherNodeIsStoredOnce(t *testing.T) {
	c := natstest.Start(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var hubs []*core.Hub
	var stores []*jetstream.Store
	for i := range 2 {
		st, err := jetstream.Open(ctx, c.Connect(i), jetstream.Config{})
		if err != nil {
			t.Fatal(err)
		}
		h, err := core.New(core.Config{Store: st})
		if err != nil {
			t.Fatal(err)
		}
		hubs, stores = append(hubs, h), append(stores, st)
	}
	alice := coretest.Dial(hubs[0], true)
	alice.Open(t, app, "alice", "bob")
	cmd := direct("alice", "hello", "bob")
	cmd.ID = "c-1"
	send(t, alice, cmd)
	first := alice.Expect(t, protocol.KindAck)

	alice.Drop()
	alice = coretest.Dial(hubs[1], true)
	alice.Open(t, app, "alice", "bob")
	cmd.I = 9
	send(t, alice, cmd)
	again := alice.Expect(t, protocol.KindAck)
	if again.UID != first.UID || again.Time != first.Time || again.I != 9 {
		t.Fatalf("repeat on the other node acked %+v, want uid %s t %d", *again, first.UID, first.Time)
	}
	if n, err := stores[1].Count(ctx, app, "bob", false); n != 1 || err != nil {
		t.Fatalf("bob's inbox holds %d (%v), want 1", n, err)
	}

	// Another message under the same id is new, on either node.
	other := direct("alice", "something else", "bob")
	other.ID = "c-1"
	send(t, alice, other)
	if a := alice.Expect(t, protocol.KindAck); a.UID == first.UID {
		t.Fatal("a different message with a used id took the first uid")
	}
	if n, _ := stores[0].Count(ctx, app, "bob", false); n != 2 {
		t.Fatalf("bob's inbox holds %d, want 2", n)
	}
}

// gatedJS holds Persist until its gate opens.
type gatedJS struct {
	*jetstream.Store
	entered chan struct{}
	gate    chan struct{}
}

func (g *gatedJS) Persist(ctx context.Context, m *storage.Message, inbox []string) error {
	g.entered <- struct{}{}
	<-g.gate
	return g.Store.Persist(ctx, m, inbox)
}

func (g *gatedJS) PersistOffline(ctx context.Context, m *storage.Message, inbox, _ []string) error {
	return g.Persist(ctx, m, inbox)
}

// TestRepeatOnAnotherNodeWhileFirstIsStored: the repeat reaches the
// second node while the first node is still storing the send; the second
// waits for it and acks the repeat like the first.
func TestRepeatOnAnotherNodeWhileFirstIsStored(t *testing.T) {
	c := natstest.Start(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stores []*jetstream.Store
	for i := range 2 {
		st, err := jetstream.Open(ctx, c.Connect(i), jetstream.Config{})
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, st)
	}
	gated := &gatedJS{Store: stores[0], entered: make(chan struct{}, 1), gate: make(chan struct{})}
	h1, err := core.New(core.Config{Store: gated})
	if err != nil {
		t.Fatal(err)
	}
	h2, err := core.New(core.Config{Store: stores[1]})
	if err != nil {
		t.Fatal(err)
	}
	a1 := coretest.Dial(h1, true)
	a1.Open(t, app, "alice", "bob")
	a2 := coretest.Dial(h2, true)
	a2.Open(t, app, "alice", "bob")
	cmd := direct("alice", "hello", "bob")
	cmd.ID = "c-1"
	// MemConn.Send handles the command in the caller's goroutine.
	var wg sync.WaitGroup
	defer wg.Wait()
	sendAsync := func(c *coretest.MemConn) {
		wg.Go(func() {
			if err := c.Send(cmd); err != nil {
				t.Error(err)
			}
		})
	}
	sendAsync(a1)
	select { // the first send is being stored on h1
	case <-gated.entered:
	case <-ctx.Done():
		t.Fatal("the first send was not stored")
	}
	sendAsync(a2)
	a2.ExpectNone(t, 200*time.Millisecond) // the repeat waits for the first
	close(gated.gate)
	first := a1.Expect(t, protocol.KindAck)
	again := a2.Expect(t, protocol.KindAck)
	if again.UID != first.UID || again.Time != first.Time {
		t.Fatalf("repeat acked %+v, first %+v", *again, *first)
	}
	if n, err := stores[1].Count(ctx, app, "bob", false); n != 1 || err != nil {
		t.Fatalf("bob's inbox holds %d (%v), want 1", n, err)
	}
}

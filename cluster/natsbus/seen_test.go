package natsbus_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rtgate/rtgate/cluster/natsbus"
	"github.com/rtgate/rtgate/internal/natsembed/natstest"
)

// TestSeenBounds: the seen barrier of Register skips a node whose lease is
// there but which has no responder (it is gone) at once; it waits
// SeenTimeout for one that holds its subject but never answers (stalled),
// counts it, and then answers anyway; the next registrations do not wait
// for that late node (they share rounds, and are counted), until it
// answers again, after which it is waited for again. The fake nodes are a
// lease written by hand and, for the stalled one, a bare subscription.
func TestSeenBounds(t *testing.T) {
	const seenTimeout = 1500 * time.Millisecond
	c := natstest.Start(t, 3)
	cfg := testConfig(c.Connect(0), "a")
	cfg.SeenTimeout = seenTimeout
	a := open(t, cfg)
	open(t, testConfig(c.Connect(1), "b")) // a live node that answers
	js, err := jetstream.New(c.Connect(2))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	fakeLease := func(node string) {
		t.Helper()
		value := fmt.Sprintf(`{"t":%q,"url":"ws://%s/"}`, time.Now().UTC().Format(time.RFC3339), node)
		if _, err := js.Publish(ctx, "$KV."+natsbus.LeasesBucket+".n."+node, []byte(value), jetstream.WithMsgTTL(time.Minute)); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for !slices.Contains(a.URLs(), "ws://"+node+"/") {
			if time.Now().After(deadline) {
				t.Fatalf("a never saw %s's lease: %v", node, a.URLs())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	register := func(peer string) time.Duration {
		t.Helper()
		start := time.Now()
		if err := a.Register(ctx, "app", peer); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	missed := func() float64 { return testutil.ToFloat64(a.Metrics().SeenMissed) }

	// A gone node (a lease, no responder) costs nothing.
	fakeLease("gone-1")
	if d := register("p1"); d >= seenTimeout {
		t.Fatalf("Register took %v with a gone node in the lease list, want well under SeenTimeout %v", d, seenTimeout)
	}
	if m := missed(); m != 0 {
		t.Fatalf("seen timeouts = %v after a gone node, want 0", m)
	}

	// A stalled node holds its subject and never answers.
	asked := make(chan uint64, 1024)
	var answer atomic.Bool // the stalled node recovered: it answers, after a while
	const answerAfter = 300 * time.Millisecond
	sub, err := c.Connect(2).Subscribe("rt.n.stalled-1.seen", func(m *nats.Msg) {
		if len(m.Data) == 8 {
			asked <- binary.BigEndian.Uint64(m.Data)
		}
		if answer.Load() {
			time.AfterFunc(answerAfter, func() { m.Respond([]byte{0}) })
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	fakeLease("stalled-1")
	// p2's round waits for the stalled node; eight registrations made
	// meanwhile share the next round, one at most.
	rounds := testutil.ToFloat64(a.Metrics().SeenRounds)
	var d time.Duration
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		d = register("p2")
	}()
	select {
	case seq := <-asked:
		if seq == 0 {
			t.Fatal("the stalled node was asked for sequence 0")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stalled node was never asked")
	}
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.Register(ctx, "app", fmt.Sprint("together", i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if d < seenTimeout*9/10 || d > seenTimeout+5*time.Second {
		t.Fatalf("Register took %v with a stalled node, want about SeenTimeout %v", d, seenTimeout)
	}
	if n := testutil.ToFloat64(a.Metrics().SeenRounds) - rounds; n != 1 && n != 2 {
		t.Fatalf("nine registrations took %v seen rounds, want 1 or 2", n)
	}
	if m := missed(); m < 1 {
		t.Fatalf("seen timeouts = %v after a stalled round, want at least 1", m)
	}
	if !a.Online("app", "p2") {
		t.Fatal("p2 not online on a after Register")
	}

	// The node is late now: a registration does not wait for it, and is
	// counted.
	before := missed()
	took := register("p3")
	if took >= seenTimeout {
		t.Fatalf("Register took %v with a late node, want well under SeenTimeout %v", took, seenTimeout)
	}
	if m := missed(); m < before+1 {
		t.Fatalf("seen timeouts = %v after a round that skipped the late node, want at least %v", m, before+1)
	}

	// It recovers (answers each request after answerAfter): once it
	// answered a request on the side, registrations wait for it again.
	answer.Store(true)
	deadline := time.Now().Add(15 * time.Second)
	waited := time.Duration(0)
	for i := 0; waited < answerAfter*8/10; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("after the late node answered again, no Register waited for it (last took %v)", waited)
		}
		waited = register(fmt.Sprint("after", i))
	}
	t.Logf("gone node: skipped; stalled node: Register %v (SeenTimeout %v); late: Register %v; recovered: Register %v",
		d.Round(time.Millisecond), seenTimeout, took.Round(time.Millisecond), waited.Round(time.Millisecond))
}

package jetstream_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rtgate/rtgate/internal/natsembed/natstest"
	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/jetstream"
)

// waitFor polls cond every 20 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond) // polling, bounded by the deadline
	}
}

// TestHeldEntries: an online recipient's entry is held by the store that
// persisted it; an ack on another node is forwarded through the ref and
// the entry is never published; another node's read makes the holder
// publish the rest first (read-your-writes on every node); an
// unacknowledged entry is published after InboxDelay.
func TestHeldEntries(t *testing.T) {
	c := natstest.Start(t, 3)
	a := open(t, c.Connect(0), jetstream.Config{Namespace: "held", InboxDelay: 2 * time.Second})
	b := open(t, c.Connect(1), jetstream.Config{Namespace: "held", InboxDelay: 2 * time.Second})
	ctx := ctxT(t, 60*time.Second)
	now := time.Now().UnixMilli()
	for i, id := range []string{"m1", "m2"} {
		if err := a.PersistOffline(ctx, &storage.Message{App: "app", ID: id, From: "x", Text: id, Time: now + int64(i), Receipt: true}, []string{"p", "off"}, []string{"off"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := pendingIDs(ctx, t, a, "p"); !slices.Equal(got, []string{"m1", "m2"}) {
		t.Fatalf("writer's Pending(p) = %v", got)
	}
	if got := pendingIDs(ctx, t, b, "off"); !slices.Equal(got, []string{"m1", "m2"}) {
		t.Fatalf("other node's Pending(off) = %v: offline entries are published with the message", got)
	}
	if _, held, _ := a.Stats(); held != 2 {
		t.Fatalf("writer holds %d entries, want 2 (p's)", held)
	}
	// m1 is delivered through b and acked there.
	ref := a.InboxRef("app", "p", "m1")
	if ref == nil {
		t.Fatal("no ref for a held entry")
	}
	b.LearnInboxRef("p", &storage.Message{App: "app", ID: "m1", From: "x", Text: "m1", Time: now}, ref)
	removed, err := b.Remove(ctx, "app", "p", []string{"m1"})
	if err != nil || len(removed) != 1 || removed[0].ID != "m1" || !removed[0].Receipt {
		t.Fatalf("Remove(m1) on the other node = %v, %v", removed, err)
	}
	waitFor(t, 10*time.Second, "the writer drops the forwarded m1", func() bool {
		_, held, _ := a.Stats()
		return held == 1
	})
	// b's read asks a to publish m2 first.
	if got := pendingIDs(ctx, t, b, "p"); !slices.Equal(got, []string{"m2"}) {
		t.Fatalf("other node's Pending(p) = %v, want [m2]", got)
	}
	if published, held, _ := a.Stats(); published != 1 || held != 0 {
		t.Fatalf("writer published %d held entries, holds %d; want 1 (m2), 0", published, held)
	}
	// Without a read elsewhere, an entry is published after InboxDelay.
	if err := a.Persist(ctx, &storage.Message{App: "app", ID: "m3", From: "x", Text: "m3", Time: now + 3}, []string{"r"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "m3 published after InboxDelay", func() bool {
		published, _, _ := a.Stats()
		return published == 2
	})
	// An ack of m2 on b now deletes the published entry.
	if removed, err := b.Remove(ctx, "app", "p", []string{"m2"}); err != nil || len(removed) != 1 {
		t.Fatalf("Remove(m2) = %v, %v", removed, err)
	}
	if got := pendingIDs(ctx, t, a, "p"); len(got) != 0 {
		t.Fatalf("Pending(p) after both acks = %v", got)
	}
}

// TestHeldEntriesRecovered: a store that dies (its NATS connection
// closed, no Close) holding entries: another store sees its writer key go
// stale, publishes every held entry from the RT_HIST records, says which
// peers got entries, and deletes the key. An entry acknowledged while held
// comes back (documented: as after a crash of the single-node store).
func TestHeldEntriesRecovered(t *testing.T) {
	c := natstest.Start(t, 3)
	dying := c.Connect(0)
	fast := jetstream.Config{Namespace: "rec", WriterHeartbeat: 100 * time.Millisecond, WriterStale: time.Second}
	a := fast
	a.InboxDelay = time.Hour // never published by a itself
	sa := open(t, dying, a)
	sb := open(t, c.Connect(1), fast)
	var mu sync.Mutex
	told := map[string]bool{} // guarded by mu
	sb.OnInboxAdded(func(app string, peers []string) {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range peers {
			told[app+"/"+p] = true
		}
	})
	ctx := ctxT(t, 60*time.Second)
	now := time.Now().UnixMilli()
	var want []string
	for i := range 20 {
		id := fmt.Sprintf("m%02d", i)
		want = append(want, id)
		to := []string{"p"}
		if i%5 == 0 {
			to = append(to, "q")
		}
		if err := sa.Persist(ctx, &storage.Message{App: "app", ID: id, From: "x", Text: id, Time: now + int64(i)}, to); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sa.Remove(ctx, "app", "p", []string{"m03"}); err != nil {
		t.Fatal(err)
	}
	if published, held, _ := sa.Stats(); published != 0 || held != 23 {
		t.Fatalf("the dying store published %d and holds %d entries, want 0 and 23", published, held)
	}
	dying.Close() // the process "dies": no Close, no more heartbeats
	waitFor(t, 20*time.Second, "recovery of the held entries", func() bool {
		return slices.Equal(pendingIDs(ctx, t, sb, "p"), want)
	})
	if got := pendingIDs(ctx, t, sb, "q"); !slices.Equal(got, []string{"m00", "m05", "m10", "m15"}) {
		t.Fatalf("Pending(q) after recovery = %v", got)
	}
	waitFor(t, 5*time.Second, "the recovered peers announced", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return told["app/p"] && told["app/q"]
	})
	if _, _, recovered := sb.Stats(); recovered != 24 {
		t.Fatalf("recovered %d entries, want 24", recovered)
	}
	// A third store started later finds nothing left to recover.
	sc := open(t, c.Connect(2), fast)
	time.Sleep(2 * time.Second) // two WriterStale periods: a key left behind would be recovered now
	if _, _, n := sc.Stats(); n != 0 {
		t.Fatalf("a later store recovered %d entries again", n)
	}
	if got := pendingIDs(ctx, t, sc, "p"); !slices.Equal(got, want) {
		t.Fatalf("Pending(p) = %v", got)
	}
}

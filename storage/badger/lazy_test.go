package badger

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/memory"
)

// flushSignal returns a Config.flushed hook and the channel it signals
// (without blocking the committer) after each periodic flush.
func flushSignal() (hook func(), flushed <-chan struct{}) {
	ch := make(chan struct{}, 1)
	return func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}, ch
}

// waitFlushed waits, flush after flush, until done reports true; it
// fails the test if that takes more than 10 s.
func waitFlushed(t *testing.T, flushed <-chan struct{}, what string, done func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !done() {
		select {
		case <-flushed:
		case <-deadline:
			t.Fatalf("the committer's flushes did not get %s in 10 s", what)
		}
	}
}

// inboxKeys counts the inbox keys in badger.
func inboxKeys(t *testing.T, s *Store) int {
	t.Helper()
	n, _ := countKeys(t, s, tInbox)
	return n
}

// TestDelayedInboxEntries: an entry acknowledged within InboxDelay is
// never written; one still pending after it is, and survives a reopen.
func TestDelayedInboxEntries(t *testing.T) {
	const delay = 20 * time.Millisecond
	dir := t.TempDir()
	hook, flushed := flushSignal()
	open := func() *Store {
		s, err := New(Config{Dir: dir, InboxDelay: delay, Logger: slog.New(slog.DiscardHandler), GCInterval: -1, flushed: hook})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	ctx := context.Background()
	now := time.Now().UnixMilli()
	for i := range 50 {
		m := &storage.Message{App: "app", ID: fmt.Sprint("acked", i), From: "a", ConvID: "c", Time: now}
		if err := s.Persist(ctx, m, []string{"b"}); err != nil {
			t.Fatal(err)
		}
		if ms, err := s.Remove(ctx, "app", "b", []string{m.ID}); err != nil || len(ms) != 1 {
			t.Fatalf("Remove(%s) = %d messages, %v", m.ID, len(ms), err)
		}
	}
	kept := &storage.Message{App: "app", ID: "kept", From: "a", ConvID: "c", Time: now + 1}
	if err := s.Persist(ctx, kept, []string{"b", "c"}); err != nil {
		t.Fatal(err)
	}
	if n := inboxKeys(t, s); n != 0 {
		t.Errorf("%d inbox keys written at once, want 0 (delayed)", n)
	}
	if ms, err := s.Pending(ctx, "app", "b"); err != nil || len(ms) != 1 || ms[0].ID != "kept" {
		t.Errorf("Pending(b) before the delay = %v, %v; want kept", ids(ms), err)
	}
	waitFlushed(t, flushed, "the kept entries written", func() bool { return inboxKeys(t, s) >= 2 })
	if n := inboxKeys(t, s); n != 2 {
		t.Errorf("%d inbox keys after the delay, want 2 (kept, in b and c)", n)
	}
	if ms, err := s.Pending(ctx, "app", "c"); err != nil || len(ms) != 1 || ms[0].ID != "kept" {
		t.Errorf("Pending(c) after the delay = %v, %v; want kept", ids(ms), err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open()
	defer s.Close()
	if ms, err := s.Pending(ctx, "app", "b"); err != nil || len(ms) != 1 || ms[0].ID != "kept" {
		t.Errorf("Pending(b) after reopening = %v, %v; want kept", ids(ms), err)
	}
	if ms, err := s.Query(ctx, storage.HistoryQuery{App: "app"}); err != nil || len(ms) != 51 {
		t.Errorf("history after reopening: %d messages, %v; want 51", len(ms), err)
	}
}

// TestOldMessagesAreNotDelayed: a message older than the newest by more
// than lazyMargin has its inbox entry written with it, so that a replay
// never looks far back.
func TestOldMessagesAreNotDelayed(t *testing.T) {
	s, err := New(Config{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	old := &storage.Message{App: "app", ID: "old", From: "a", ConvID: "c", Time: time.Now().UnixMilli() - 2*lazyMargin}
	if err := s.Persist(context.Background(), old, []string{"b"}); err != nil {
		t.Fatal(err)
	}
	if n := inboxKeys(t, s); n != 1 {
		t.Errorf("%d inbox keys after persisting an old message, want 1", n)
	}
}

// TestOfflinePeersAreNotDelayed: PersistOffline writes the entries of the
// offline peers at once and delays the others.
func TestOfflinePeersAreNotDelayed(t *testing.T) {
	s, err := New(Config{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	m := &storage.Message{App: "app", ID: "g1", From: "a", Room: "r", ConvID: "r", Time: time.Now().UnixMilli()}
	if err := s.PersistOffline(ctx, m, []string{"b", "c", "d"}, []string{"c", "d"}); err != nil {
		t.Fatal(err)
	}
	if n, d := inboxKeys(t, s), s.Stats().Delayed; n != 2 || d != 1 {
		t.Errorf("%d inbox keys written and %d delayed, want 2 (c, d) and 1 (b)", n, d)
	}
	for _, p := range []string{"b", "c", "d"} {
		if ms, err := s.Pending(ctx, "app", p); err != nil || len(ms) != 1 || ms[0].ID != "g1" {
			t.Errorf("Pending(%s) = %v, %v; want g1", p, ids(ms), err)
		}
	}
	if ms, err := s.Remove(ctx, "app", "b", []string{"g1"}); err != nil || len(ms) != 1 {
		t.Errorf("Remove(b) = %v, %v", ids(ms), err)
	}
	if n := inboxKeys(t, s); n != 2 {
		t.Errorf("%d inbox keys after b's ack, want 2", n)
	}
}

// TestDelayedEntriesMatchTheMemoryStore runs random Persists (some peers
// offline), Removes, Deletes, flushes and reopens against the Badger store
// with a 1 ms InboxDelay and a tiny inbox cache, and against the memory
// store: Pending, Remove and the history must agree, and the store's
// invariants hold, after every step.
func TestDelayedEntriesMatchTheMemoryStore(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			testAgainstMemory(t, seed)
		})
	}
}

func testAgainstMemory(t *testing.T, seed int64) {
	rnd := rand.New(rand.NewPCG(uint64(seed), 0))
	limits := storage.Limits{InboxSize: 4, InboxTTL: time.Hour}
	dir := t.TempDir()
	open := func() *Store {
		s, err := New(Config{Dir: dir, Limits: limits, InboxDelay: time.Millisecond, InboxCache: 2,
			Logger: slog.New(slog.DiscardHandler), GCInterval: -1, MemTableSize: testMemTable, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	b := open()
	defer func() { b.Close() }()
	mem := memory.New(memory.Config{Limits: limits})
	ctx := context.Background()
	peers := []string{"p0", "p1", "p2", "p3"}
	var sent []*storage.Message
	now := time.Now().UnixMilli()
	for step := range 300 {
		switch op := rnd.IntN(10); {
		case op < 5: // persist to a random subset, some of it offline
			var inbox, offline []string
			for _, p := range peers {
				if rnd.IntN(2) == 0 {
					inbox = append(inbox, p)
					if rnd.IntN(3) == 0 {
						offline = append(offline, p)
					}
				}
			}
			m := &storage.Message{App: "app", ID: fmt.Sprintf("m%03d", step), From: "x", ConvID: "c",
				Time: now + int64(step), Text: fmt.Sprint("text ", step)}
			if err := b.PersistOffline(ctx, m, inbox, offline); err != nil {
				t.Fatal(err)
			}
			if err := mem.Persist(ctx, m, inbox); err != nil {
				t.Fatal(err)
			}
			sent = append(sent, m)
		case op < 8 && len(sent) > 0: // ack one or two of a peer's messages
			p := peers[rnd.IntN(len(peers))]
			ids := []string{sent[rnd.IntN(len(sent))].ID, sent[rnd.IntN(len(sent))].ID}
			got, err := b.Remove(ctx, "app", p, ids)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := mem.Remove(ctx, "app", p, ids)
			if !slices.Equal(idsOf(got), idsOf(want)) {
				t.Fatalf("step %d: Remove(%s, %v) = %v, memory store %v", step, p, ids, idsOf(got), idsOf(want))
			}
		case op == 8 && len(sent) > 0: // delete one from the history
			m := sent[rnd.IntN(len(sent))]
			errB := b.Delete(ctx, "app", "c", m.ID, m.Time)
			errM := mem.Delete(ctx, "app", "c", m.ID, m.Time)
			if (errB == nil) != (errM == nil) {
				t.Fatalf("step %d: Delete(%s) = %v, memory store %v", step, m.ID, errB, errM)
			}
		case op == 9: // write delayed entries (all, or those due), or reopen
			if rnd.IntN(4) == 0 {
				if err := b.Close(); err != nil {
					t.Fatal(err)
				}
				b = open()
			} else if err := b.flushDelayed(ctx, rnd.IntN(2) == 0); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.checkInvariants(ctx); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		for _, p := range peers {
			got, err := b.Pending(ctx, "app", p)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := mem.Pending(ctx, "app", p)
			if !slices.Equal(idsOf(got), idsOf(want)) {
				t.Fatalf("step %d: Pending(%s) = %v, memory store %v", step, p, idsOf(got), idsOf(want))
			}
		}
	}
	got, err := b.Query(ctx, storage.HistoryQuery{App: "app", Limit: storage.MaxHistoryLimit})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := mem.Query(ctx, storage.HistoryQuery{App: "app", Limit: storage.MaxHistoryLimit})
	if !slices.Equal(idsOf(got), idsOf(want)) {
		t.Fatalf("history = %v, memory store %v", idsOf(got), idsOf(want))
	}
}

func idsOf(ms []*storage.Message) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestInboxPeers(t *testing.T) {
	peers, may, delayed := inboxPeers([]string{"a", "b", "a", "c", "b"}, []string{"b", "x"})
	if !slices.Equal(peers, []string{"a", "b", "c"}) || !slices.Equal(may, []bool{true, false, true}) ||
		!slices.Equal(delayed, []string{"a", "c"}) {
		t.Errorf("inboxPeers = %v %v %v", peers, may, delayed)
	}
}

// TestManyDelayedEntriesSmallMemtable: thousands of delayed entries due at
// once are written even with a 1 MiB memtable, whose transactions hold far
// fewer writes (badger limits a transaction to 15 % of the memtable).
func TestManyDelayedEntriesSmallMemtable(t *testing.T) {
	hook, flushed := flushSignal()
	s, err := New(Config{Dir: t.TempDir(), MemTableSize: 1 << 20, NoSync: true, InboxDelay: 300 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler), GCInterval: -1, flushed: hook})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	now := time.Now().UnixMilli()
	const peers, each = 200, 25
	for i := range peers * each {
		m := &storage.Message{App: "app", ID: fmt.Sprintf("m%05d", i), From: "x", ConvID: "c", Time: now}
		if err := s.Persist(ctx, m, []string{fmt.Sprint("peer", i%peers)}); err != nil {
			t.Fatal(err)
		}
	}
	waitFlushed(t, flushed, "every entry written", func() bool { return s.Stats().Delayed == 0 })
	if n := inboxKeys(t, s); n != peers*each {
		t.Errorf("%d of %d delayed inbox entries written", n, peers*each)
	}
}

// TestAcksRaceTheFlush acknowledges messages just before, while and just
// after their delayed entries are written, from many goroutines: every
// acknowledgement must return its message once, and afterwards no inbox
// key may be left, before or after a reopen. An acknowledgement taking
// the fast path (removeLazy) while the committer writes that entry out
// would leave it on disk, pending for ever.
func TestAcksRaceTheFlush(t *testing.T) {
	dir := t.TempDir()
	hook, flushed := flushSignal()
	open := func() *Store {
		s, err := New(Config{Dir: dir, InboxDelay: time.Millisecond, Logger: slog.New(slog.DiscardHandler), GCInterval: -1, flushed: hook})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	ctx := context.Background()
	const workers, each = 16, 60
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			peer := fmt.Sprint("peer", w%4)
			for i := range each {
				m := &storage.Message{App: "app", ID: fmt.Sprintf("w%d-%d", w, i), From: "a", ConvID: "c", Time: time.Now().UnixMilli()}
				if err := s.Persist(ctx, m, []string{peer}); err != nil {
					errs <- err
					return
				}
				time.Sleep(time.Duration(rand.IntN(4000)) * time.Microsecond)
				ms, err := s.Remove(ctx, "app", peer, []string{m.ID})
				if err != nil || len(ms) != 1 || ms[0].ID != m.ID {
					errs <- fmt.Errorf("Remove(%s) = %v, %v; want that message", m.ID, ids(ms), err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		t.Helper()
		for p := range 4 {
			if ms, err := s.Pending(ctx, "app", fmt.Sprint("peer", p)); err != nil || len(ms) != 0 {
				t.Errorf("%s: Pending(peer%d) = %v, %v; want none", when, p, ids(ms), err)
			}
		}
	}
	check("before the delayed entries settle")
	waitFlushed(t, flushed, "every entry settled", func() bool { return s.Stats().Delayed == 0 })
	if err := s.checkInvariants(ctx); err != nil {
		t.Error(err)
	}
	if n := inboxKeys(t, s); n != 0 {
		t.Errorf("%d inbox keys left, want 0: every message was acknowledged", n)
	}
	check("after they settle")
	written := s.Stats().InboxWrites
	t.Logf("%d of %d entries were written before their acknowledgement", written, workers*each)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open()
	defer s.Close()
	check("after a reopen")
	if written == 0 {
		t.Errorf("no delayed entry was written: the test did not race the flush")
	}
}

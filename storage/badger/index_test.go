package badger

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	bdg "github.com/dgraph-io/badger/v4"

	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/memory"
)

// countKeys counts the keys of a table (tConv, tFrom, tInbox ...) and how
// many of them have a value (in the history indexes: hold a group).
func countKeys(t *testing.T, s *Store, table byte) (keys, groups int) {
	t.Helper()
	err := s.db.View(func(tx *bdg.Txn) error {
		it := tx.NewIterator(bdg.IteratorOptions{Prefix: []byte{table}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			keys++
			if it.Item().ValueSize() > 0 {
				groups++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys, groups
}

// testMemTable is the memtable size of the stores of the internal tests:
// small, so that the many opens cost little.
const testMemTable = 4 << 20

// openWithDelay opens the store in dir with InboxDelay delay, without
// fsyncs (NoSync): these tests compare what the store holds, and reopen
// it by Close, never by a machine crash (TestDurable and the crash tests
// cover the syncs).
func openWithDelay(t *testing.T, dir string, delay time.Duration) *Store {
	t.Helper()
	s, err := New(Config{Dir: dir, InboxDelay: delay, Logger: slog.New(slog.DiscardHandler), GCInterval: -1,
		MemTableSize: testMemTable, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestIndexGroups: the history index entries of messages persisted within
// InboxDelay are written as one key per conversation and per sender, and
// every query, before and after that write and across a reopen, pages
// through them in order.
func TestIndexGroups(t *testing.T) {
	// Nothing is written before the test flushes (flushDelayed): all 90
	// persists are pending then, however slow the machine.
	const delay = time.Hour
	dir := t.TempDir()
	s := openWithDelay(t, dir, delay)
	ctx := context.Background()
	now := time.Now().UnixMilli()
	want := map[string][]string{} // conv or sender -> ids, newest first
	var wg sync.WaitGroup
	for i := range 90 {
		// Three conversations, two senders; times repeat (ids break ties)
		// and go back a little.
		m := &storage.Message{App: "app", ID: fmt.Sprintf("m%02d", i), From: fmt.Sprint("s", i%2),
			ConvID: fmt.Sprint("c", i%3), Time: now + int64(i/3) - int64(i%5)}
		wg.Go(func() {
			if err := s.Persist(ctx, m, []string{"peer"}); err != nil {
				t.Error(err)
			}
		})
		want["c:"+m.ConvID] = append(want["c:"+m.ConvID], m.ID)
		want["f:"+m.From] = append(want["f:"+m.From], m.ID)
	}
	wg.Wait()
	all, err := s.Query(ctx, storage.HistoryQuery{App: "app", Limit: storage.MaxHistoryLimit})
	if err != nil {
		t.Fatal(err)
	}
	for k, ids := range want { // newest first, as the records say
		want[k] = slices.DeleteFunc(idsOf(all), func(id string) bool { return !slices.Contains(ids, id) })
	}
	check := func(when string) {
		t.Helper()
		for k, ids := range want {
			q := storage.HistoryQuery{App: "app", Limit: 7}
			if k[0] == 'c' {
				q.ConvID = k[2:]
			} else {
				q.From = k[2:]
			}
			var got []string
			for {
				page, err := s.Query(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, idsOf(page)...)
				if len(page) < q.Limit {
					break
				}
				q.Before, q.BeforeID = page[len(page)-1].Time, page[len(page)-1].ID
			}
			if !slices.Equal(got, ids) {
				t.Errorf("%s: history of %s = %v, want %v", when, k, got, ids)
			}
		}
	}
	check("in memory")
	if keys, _ := countKeys(t, s, tConv); keys != 0 {
		t.Errorf("%d conversation index keys before InboxDelay, want 0", keys)
	}
	if err := s.flushDelayed(ctx, true); err != nil {
		t.Fatal(err)
	}
	check("written")
	if keys, groups := countKeys(t, s, tConv); keys != 3 || groups != 3 {
		t.Errorf("conversation index: %d keys, %d groups; want 3 groups for 90 messages", keys, groups)
	}
	if keys, groups := countKeys(t, s, tFrom); keys != 2 || groups != 2 {
		t.Errorf("sender index: %d keys, %d groups; want 2 groups", keys, groups)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openWithDelay(t, dir, delay)
	defer s.Close()
	check("reopened")

	// Delete: a message inside a group leaves the history, the group stays.
	m := all[40]
	if err := s.Delete(ctx, "app", m.ConvID, m.ID, m.Time); err != nil {
		t.Fatal(err)
	}
	for k, ids := range want {
		want[k] = slices.DeleteFunc(ids, func(id string) bool { return id == m.ID })
	}
	check("after a delete")
}

// TestIndexGroupBounds: a flush with more entries than a group holds, or
// spanning more than indexSpan, writes several groups, and a query bounded
// in time finds entries of a group whose key is after the bound.
func TestIndexGroupBounds(t *testing.T) {
	dir := t.TempDir()
	s := openWithDelay(t, dir, time.Hour) // written at Close only
	ctx := context.Background()
	now := time.Now().UnixMilli()
	var sent []*storage.Message
	for i := range 2*maxGroup + 10 {
		// 10 s apart: lazyMargin lets each be delayed, and 6 of them
		// span indexSpan.
		m := &storage.Message{App: "app", ID: fmt.Sprintf("m%04d", i), From: "s", ConvID: "c",
			Time: now + int64(i)*10_000}
		if err := s.Persist(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, m)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openWithDelay(t, dir, time.Hour)
	defer s.Close()
	if keys, groups := countKeys(t, s, tConv); keys < len(sent)/7 || groups == 0 {
		t.Errorf("conversation index: %d keys, %d groups for %d messages 10 s apart", keys, groups, len(sent))
	}
	for _, i := range []int{3, 100, 300, len(sent) - 1} {
		for _, q := range []storage.HistoryQuery{
			{App: "app", ConvID: "c", Before: sent[i].Time, Limit: 3},
			{App: "app", ConvID: "c", Before: sent[i].Time, BeforeID: sent[i].ID + "x", Limit: 3},
			{App: "app", From: "s", AtOrBefore: sent[i].Time - 1, Limit: 3},
			{App: "app", From: "s", AtOrBefore: sent[i].Time, Before: sent[i].Time + 5, Limit: 2},
		} {
			got, err := s.Query(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for j := len(sent) - 1; j >= 0 && len(want) < q.Limit; j-- {
				if q.Admits(sent[j].Time, sent[j].ID) {
					want = append(want, sent[j].ID)
				}
			}
			if !slices.Equal(idsOf(got), want) {
				t.Errorf("Query(%+v) = %v, want %v", q, idsOf(got), want)
			}
		}
	}
}

// TestIndexMatchesTheMemoryStore runs random persists (times out of order,
// some too old to delay), deletes, flushes and reopens, and random paged
// and bounded queries by conversation and by sender, against the memory
// store, checking the store's invariants after every step.
func TestIndexMatchesTheMemoryStore(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 4} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(seed, 0))
			dir := t.TempDir()
			delay := time.Duration(1+rnd.IntN(3)) * time.Millisecond
			b := openWithDelay(t, dir, delay)
			defer func() { b.Close() }()
			mem := memory.New(memory.Config{})
			ctx := context.Background()
			var sent []*storage.Message
			now := time.Now().UnixMilli()
			for step := range 400 {
				switch op := rnd.IntN(20); {
				case op < 12:
					ts := now
					switch rnd.IntN(6) {
					case 0: // the same time as the last
					case 1: // a little older than the newest
						ts -= rnd.Int64N(15_000)
					case 2: // much older: not delayed
						ts -= 60_000 + rnd.Int64N(120_000)
					default:
						now += rnd.Int64N(20_000)
						ts = now
					}
					m := &storage.Message{App: "app", ID: fmt.Sprintf("m%03d", rnd.IntN(1000)), From: fmt.Sprint("s", rnd.IntN(3)),
						ConvID: fmt.Sprint("c", rnd.IntN(4)), Time: ts}
					if slices.ContainsFunc(sent, func(o *storage.Message) bool { return o.ID == m.ID }) {
						continue
					}
					if err := b.Persist(ctx, m, []string{"p"}); err != nil {
						t.Fatal(err)
					}
					if err := mem.Persist(ctx, m, []string{"p"}); err != nil {
						t.Fatal(err)
					}
					sent = append(sent, m)
				case op < 13 && len(sent) > 0:
					m := sent[rnd.IntN(len(sent))]
					errB := b.Delete(ctx, "app", m.ConvID, m.ID, m.Time)
					errM := mem.Delete(ctx, "app", m.ConvID, m.ID, m.Time)
					if (errB == nil) != (errM == nil) {
						t.Fatalf("step %d: Delete(%s) = %v, memory store %v", step, m.ID, errB, errM)
					}
				case op < 15:
					if err := b.flushDelayed(ctx, rnd.IntN(2) == 0); err != nil {
						t.Fatal(err)
					}
				case op < 16:
					if err := b.Close(); err != nil {
						t.Fatal(err)
					}
					b = openWithDelay(t, dir, delay)
				default:
					q := storage.HistoryQuery{App: "app", Limit: 1 + rnd.IntN(8)}
					if rnd.IntN(2) == 0 {
						q.ConvID = fmt.Sprint("c", rnd.IntN(4))
					} else {
						q.From = fmt.Sprint("s", rnd.IntN(3))
					}
					if len(sent) > 0 && rnd.IntN(2) == 0 {
						m := sent[rnd.IntN(len(sent))]
						switch rnd.IntN(3) {
						case 0:
							q.Before = m.Time
						case 1:
							q.Before, q.BeforeID = m.Time, m.ID
						default:
							q.AtOrBefore = m.Time - rnd.Int64N(3)
						}
					}
					for page := 0; page < 4; page++ {
						got, err := b.Query(ctx, q)
						if err != nil {
							t.Fatal(err)
						}
						want, _ := mem.Query(ctx, q)
						if !slices.Equal(idsOf(got), idsOf(want)) {
							t.Fatalf("step %d: Query(%+v) = %v, memory store %v", step, q, idsOf(got), idsOf(want))
						}
						if len(got) < q.Limit {
							break
						}
						q.Before, q.BeforeID = got[len(got)-1].Time, got[len(got)-1].ID
					}
				}
				if err := b.checkInvariants(ctx); err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
			}
		})
	}
}

func TestBatchEncoding(t *testing.T) {
	ents := []idxEntry{{ts: 100, id: "a"}, {ts: 100, id: "b"}, {ts: 150, id: ""}, {ts: 199, id: "long id"}}
	v := encodeBatch(ents, 200)
	got, err := decodeBatch([]idxEntry{{ts: 1, id: "kept"}}, v, 200)
	if err != nil || !slices.Equal(got, append([]idxEntry{{ts: 1, id: "kept"}}, ents...)) {
		t.Fatalf("decodeBatch(encodeBatch) = %v, %v", got, err)
	}
	if v := encodeBatch(nil, 5); v != nil {
		t.Errorf("encodeBatch of a lone entry = %x, want no value", v)
	}
	for _, bad := range [][]byte{{2, 0, 1, 'a'}, {1, 0, 5, 'a'}, {1, 0x80}, {1, 0xff, 0xff, 0xff, 0xff, 0x7f, 0}} {
		if _, err := decodeBatch(nil, bad, 200); err == nil {
			t.Errorf("decodeBatch(%x) = nil error", bad)
		}
	}
}

// TestRecreateIndexKeepsGroups: after a crash, New recreates the entries
// of the records from the checkpoint on; an entry already written as the
// key of a group keeps its group, and one inside a group comes back as a
// lone key as well, which Query returns once.
func TestRecreateIndexKeepsGroups(t *testing.T) {
	dir := t.TempDir()
	s := openWithDelay(t, dir, time.Hour)
	ctx := context.Background()
	now := time.Now().UnixMilli()
	var ms []*storage.Message
	for i := range 3 {
		m := &storage.Message{App: "app", ID: fmt.Sprint("m", i), From: "s", ConvID: "c", Time: now + int64(i)}
		if err := s.Persist(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	if err := s.Close(); err != nil { // one group per index: m2 holds m0, m1
		t.Fatal(err)
	}
	s = openWithDelay(t, dir, time.Hour)
	defer s.Close()
	recreate := func(ms ...*storage.Message) int {
		wb := s.db.NewWriteBatch()
		n := 0
		err := s.db.View(func(tx *bdg.Txn) error {
			for _, m := range ms {
				k, err := recreateIndex(tx, wb, "app", m.ConvID, m.From, m.Time, m.ID)
				n += k
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			err = wb.Flush()
		}
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	check := func(when string, keys int) {
		t.Helper()
		if n, groups := countKeys(t, s, tConv); n != keys || groups != 1 {
			t.Errorf("%s: conversation index: %d keys, %d groups; want %d and 1", when, n, groups, keys)
		}
		for _, q := range []storage.HistoryQuery{{App: "app", ConvID: "c"}, {App: "app", From: "s", Limit: 2}} {
			got, err := s.Query(ctx, q)
			want := []string{"m2", "m1", "m0"}[:min(3, q.EffectiveLimit())]
			if err != nil || !slices.Equal(idsOf(got), want) {
				t.Errorf("%s: Query(%+v) = %v, %v; want %v", when, q, idsOf(got), err, want)
			}
		}
	}
	// The groups' key only (m0 and m1 were settled by the checkpoint).
	if n := recreate(ms[2]); n != 0 {
		t.Errorf("recreated %d keys for the groups' key, want 0", n)
	}
	check("the groups' key recreated", 1)
	if n := recreate(ms...); n != 4 {
		t.Errorf("recreated %d keys, want 4 (m0 and m1 in both indexes)", n)
	}
	check("all recreated", 3)
}

// TestFormat2Opens: a database of format 2 (every index entry a key of
// its own) opens as it is, is answered from, and is marked format 3.
func TestFormat2Opens(t *testing.T) {
	dir := t.TempDir()
	db, err := bdg.Open(bdg.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	err = db.Update(func(tx *bdg.Txn) error {
		if err := tx.Set(formatKey, []byte{2}); err != nil {
			return err
		}
		for i := range 3 {
			m := &storage.Message{App: "app", ID: fmt.Sprint("m", i), From: "s", ConvID: "c", Time: now + int64(i)}
			rec, n, err := encodeRecord(m, nil, false)
			if err != nil {
				return err
			}
			for j, k := range messageKeys(m) {
				v := []byte(nil)
				if j == 0 {
					v = sealRecord(rec, n, false, 0, false)
				}
				if err := tx.Set(k, v); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err == nil {
		err = db.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	s := openWithDelay(t, dir, 0)
	defer s.Close()
	for _, q := range []storage.HistoryQuery{{App: "app", ConvID: "c"}, {App: "app", From: "s"}} {
		got, err := s.Query(context.Background(), q)
		if err != nil || !slices.Equal(idsOf(got), []string{"m2", "m1", "m0"}) {
			t.Errorf("Query(%+v) = %v, %v; want m2 m1 m0", q, idsOf(got), err)
		}
	}
	var version []byte
	s.db.View(func(tx *bdg.Txn) error {
		item, err := tx.Get(formatKey)
		if err == nil {
			version, err = item.ValueCopy(nil)
		}
		return err
	})
	if !slices.Equal(version, []byte{formatVersion}) || formatVersion != 3 {
		t.Errorf("format after opening = %v, want [3]", version)
	}
}

// TestIndexFlushInChunks: a flush of more keys than indexChunk is grouped
// off the committer, then writes one chunk while operations wait for the
// committer and the rest after the following batches, and every query finds each entry exactly once
// before, during and after it; then the queue is empty and the
// invariants hold.
func TestIndexFlushInChunks(t *testing.T) {
	const n = 600 // 600 conversations and 600 senders: 1 200 keys, 5 chunks
	s := openWithDelay(t, t.TempDir(), time.Hour)
	defer s.Close()
	ctx := context.Background()
	now := time.Now().UnixMilli()
	var wg sync.WaitGroup
	for i := range n {
		m := &storage.Message{App: "app", ID: fmt.Sprintf("m%03d", i), From: fmt.Sprint("s", i),
			ConvID: fmt.Sprint("c", i), Time: now + int64(i)}
		wg.Go(func() {
			if err := s.Persist(ctx, m, []string{"peer"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// check queries every conversation and every sender on the calling
	// goroutine; on the committer, nothing else moves meanwhile.
	check := func(when string) {
		for i := range n {
			want := []string{fmt.Sprintf("m%03d", i)}
			for _, q := range []storage.HistoryQuery{{App: "app", ConvID: fmt.Sprint("c", i), Limit: 10},
				{App: "app", From: fmt.Sprint("s", i), Limit: 10}} {
				page, err := s.Query(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if got := idsOf(page); !slices.Equal(got, want) {
					t.Fatalf("%s: history of %+v = %v, want %v", when, q, got, want)
				}
			}
		}
	}
	check("in memory")
	var chunks, left, queued, keys int
	err := s.onCommitter(ctx, func() {
		// An operation waits for the committer: the flush writes one chunk.
		s.c.ops <- &op{fn: func(*txn) error { return nil }, done: make(chan struct{}, 1)}
		later := time.Now().Add(2 * time.Hour)
		// The first call hands the grouping to a goroutine of its own and
		// returns; a later one takes its result and writes a chunk.
		s.flushIndex(later, false)
		if s.index.flush != nil || !s.index.preparing {
			t.Errorf("the first flushIndex: flush %v, preparing %v; want none, true", s.index.flush, s.index.preparing)
			return
		}
		for s.index.flush == nil {
			time.Sleep(time.Millisecond)
			s.flushIndex(later, false)
		}
		if f := s.index.flush; f != nil {
			chunks, left = len(f.ops)+1, len(f.ops)
		}
		queued = len(s.index.q)
		k1, _ := countKeys(t, s, tConv)
		k2, _ := countKeys(t, s, tFrom)
		keys = k1 + k2
		check("one chunk written")
	})
	if err != nil {
		t.Fatal(err)
	}
	if chunks != 5 || left != 4 || queued != n || keys != indexChunk {
		t.Fatalf("after the first chunk: %d chunks, %d left, %d entries queued, %d keys written; want 5, 4, %d, %d",
			chunks, left, queued, keys, n, indexChunk)
	}
	// The committer writes the rest after its next batch; wait for it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var done bool
		if err := s.onCommitter(ctx, func() { done = s.index.flush == nil }); err != nil {
			t.Fatal(err)
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the index flush did not finish")
		}
		time.Sleep(10 * time.Millisecond)
	}
	check("flushed")
	k1, _ := countKeys(t, s, tConv)
	k2, _ := countKeys(t, s, tFrom)
	if k1 != n || k2 != n || len(s.index.q) != 0 {
		t.Errorf("after the flush: %d conversation keys, %d sender keys, %d queued; want %d, %d, 0", k1, k2, len(s.index.q), n, n)
	}
	if got := s.Stats().IndexWrites; got != 2*n {
		t.Errorf("IndexWrites = %d, want %d", got, 2*n)
	}
	if err := s.checkInvariants(ctx); err != nil {
		t.Error(err)
	}
}

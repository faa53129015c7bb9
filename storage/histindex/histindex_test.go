package histindex

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rtgate/rtgate/internal/natsembed/natstest"
	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/badger"
	jsstore "github.com/rtgate/rtgate/storage/jetstream"
)

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// messages returns n messages of app "a" in conversations c0..c2 and
// "big" (texts of 12 KB: a page of them is more than one NATS message), from peers p0..p3, three per millisecond (so
// that ties are broken by id), starting at time base.
func messages(n int, base int64, idPrefix string) []*storage.Message {
	ms := make([]*storage.Message, n)
	for i := range ms {
		conv := fmt.Sprintf("c%d", i%3)
		text := fmt.Sprintf("text %d", i)
		if i%5 == 0 {
			conv, text = "big", strings.Repeat("x", 12000)+text
		}
		m := &storage.Message{App: "a", ID: fmt.Sprintf("%s%04d", idPrefix, (i*7919)%n), From: fmt.Sprintf("p%d", i%4),
			Time: base + int64(i/3), ConvID: conv, Text: text, FromIP: "10.0.0.1", Receipt: i%2 == 0}
		if i%3 == 1 {
			m.Room = conv
		} else {
			m.To = []string{"q1", "q2"}
		}
		ms[i] = m
	}
	return ms
}

// queries are the history queries compared with a single node's answers:
// by conversation, by sender, app-wide, with every bound and paging.
func queries(base int64) []storage.HistoryQuery {
	return []storage.HistoryQuery{
		{App: "a", ConvID: "c0"},
		{App: "a", ConvID: "c1", Limit: 7},
		{App: "a", ConvID: "big", Limit: 1000},
		{App: "a", From: "p2", Limit: 50},
		{App: "a", Limit: 1000},
		{App: "a"},
		{App: "a", ConvID: "c2", Before: base + 40},
		{App: "a", ConvID: "c2", AtOrBefore: base + 40},
		{App: "a", Before: base + 40, BeforeID: "m0200", Limit: 20},
		{App: "a", ConvID: "c0", Before: base + 60, AtOrBefore: base + 30},
		{App: "nope"},
	}
}

// walk pages through every message q selects, msgid paging, page size 13.
func walk(t *testing.T, h storage.History, q storage.HistoryQuery) []string {
	t.Helper()
	q.Limit = 13
	var ids []string
	for range 1000 {
		ms, err := h.Query(ctxT(t, 20*time.Second), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			ids = append(ids, fmt.Sprintf("%d/%s", m.Time, m.ID))
		}
		if len(ms) < q.Limit {
			return ids
		}
		q.Before, q.BeforeID = ms[len(ms)-1].Time, ms[len(ms)-1].ID
	}
	t.Fatal("walk did not end")
	return nil
}

func norm(ms []*storage.Message) []storage.Message {
	out := make([]storage.Message, len(ms))
	for i, m := range ms {
		out[i] = *m
		if len(out[i].To) == 0 {
			out[i].To = nil
		}
	}
	return out
}

// same checks that a and b answer every query alike.
func same(t *testing.T, what string, want, got storage.History, base int64) {
	t.Helper()
	for _, q := range queries(base) {
		w, err := want.Query(ctxT(t, 20*time.Second), q)
		if err != nil {
			t.Fatal(err)
		}
		g, err := got.Query(ctxT(t, 20*time.Second), q)
		if err != nil {
			t.Fatalf("%s: %+v: %v", what, q, err)
		}
		if !slices.EqualFunc(norm(w), norm(g), func(a, b storage.Message) bool { return fmt.Sprint(a) == fmt.Sprint(b) }) {
			t.Fatalf("%s: %+v: got %d messages, want %d (first difference among them)", what, q, len(g), len(w))
		}
	}
	for _, q := range []storage.HistoryQuery{{App: "a"}, {App: "a", ConvID: "big"}, {App: "a", From: "p1"}} {
		w, g := walk(t, want, q), walk(t, got, q)
		if !slices.Equal(w, g) {
			t.Fatalf("%s: paging %+v: got %d messages, want %d", what, q, len(g), len(w))
		}
		if len(slices.Compact(slices.Clone(g))) != len(g) {
			t.Fatalf("%s: paging %+v repeats a message", what, q)
		}
	}
}

func openIndexer(t *testing.T, nc *nats.Conn, name, dir string) *Indexer {
	t.Helper()
	ix, err := Open(ctxT(t, 30*time.Second), Config{Conn: nc, Dir: dir, Name: name, MemTableSize: 4 << 20, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func persistAll(t *testing.T, ms []*storage.Message, stores ...storage.Messages) {
	t.Helper()
	for _, st := range stores {
		for _, m := range ms {
			if err := st.Persist(ctxT(t, 20*time.Second), m, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestIndexer runs two indexers on a three-server cluster: their pages are
// a single node's, right after the writes; a delete leaves every index; an
// indexer stopped while messages come, then started on its directory,
// catches up with no message missing or repeated; one whose directory is
// lost rebuilds it from the stream.
func TestIndexer(t *testing.T) {
	c := natstest.Start(t, 3)
	st, err := jsstore.Open(ctxT(t, 30*time.Second), c.Connect(0), jsstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ref, err := badger.New(badger.Config{Dir: t.TempDir(), MemTableSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	dirA, dirB := t.TempDir(), t.TempDir()
	a := openIndexer(t, c.Connect(1), "a", dirA)
	b := openIndexer(t, c.Connect(2), "b", dirB)
	defer func() { a.Close(); b.Close() }()
	cl, err := NewClient(ClientConfig{Conn: c.Connect(2)})
	if err != nil {
		t.Fatal(err)
	}

	base := time.Now().UnixMilli()
	ms := messages(600, base, "m")
	persistAll(t, ms, ref, st)
	// No wait: read-your-writes.
	same(t, "cluster", ref, cl, base)
	same(t, "indexer a", ref, a.store, base)
	same(t, "indexer b", ref, b.store, base)
	if r := a.query(ctxT(t, 10*time.Second), storage.HistoryQuery{App: "a", ConvID: "big", Limit: 1000}); !r.More {
		t.Fatalf("a page of %d big messages fits one NATS message: the test does not split pages", len(r.Msgs))
	}

	// A delete through any indexer leaves every index.
	del := ms[10]
	if err := cl.Delete(ctxT(t, 20*time.Second), "a", del.ConvID, del.ID, del.Time); err != nil {
		t.Fatal(err)
	}
	if err := ref.Delete(ctxT(t, 20*time.Second), "a", del.ConvID, del.ID, del.Time); err != nil {
		t.Fatal(err)
	}
	if err := cl.Delete(ctxT(t, 20*time.Second), "a", del.ConvID, del.ID, del.Time); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
	if err := cl.Delete(ctxT(t, 20*time.Second), "a", "c9", ms[11].ID, ms[11].Time); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("delete in the wrong conversation: %v, want ErrNotFound", err)
	}
	if err := a.catchUp(ctxT(t, 20*time.Second), 0); err != nil {
		t.Fatal(err)
	}
	if err := b.catchUp(ctxT(t, 20*time.Second), 0); err != nil {
		t.Fatal(err)
	}
	same(t, "a after delete", ref, a.store, base)
	same(t, "b after delete", ref, b.store, base)

	// Indexer a stopped while messages come, started again on its directory.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	more := messages(300, base+1000, "n")
	persistAll(t, more, ref, st)
	a = openIndexer(t, c.Connect(1), "a", dirA)
	if err := a.catchUp(ctxT(t, 20*time.Second), 0); err != nil {
		t.Fatal(err)
	}
	same(t, "a restarted", ref, a.store, base)

	// Indexer b's directory lost: rebuilt from the stream.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dirB); err != nil {
		t.Fatal(err)
	}
	b = openIndexer(t, c.Connect(2), "b", dirB)
	if got := b.appliedSeq(); got != 0 {
		t.Fatalf("rebuilt indexer starts at %d, want 0", got)
	}
	if err := b.catchUp(ctxT(t, 30*time.Second), 0); err != nil {
		t.Fatal(err)
	}
	same(t, "b rebuilt", ref, b.store, base)
	same(t, "cluster at the end", ref, cl, base)

	info, err := b.stream.Info(ctxT(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for _, ix := range []*Indexer{a, b} {
		if got := testutil.ToFloat64(ix.metrics.Applied); got != float64(info.State.LastSeq) {
			t.Errorf("applied seq metric %v, want %d", got, info.State.LastSeq)
		}
		if got := testutil.ToFloat64(ix.metrics.Lag); got != 0 {
			t.Errorf("lag metric %v, want 0", got)
		}
	}

	// A request needing a sequence the stream will not reach soon fails.
	a.cfg.WaitTimeout = 100 * time.Millisecond
	if err := a.catchUp(ctxT(t, 5*time.Second), info.State.LastSeq+100); !errors.Is(err, ErrBehind) {
		t.Fatalf("catch up to a future sequence: %v, want ErrBehind", err)
	}
}

// TestNoIndexer: without an indexer, queries say so (ErrNotSupported, which
// the REST API answers 501).
func TestNoIndexer(t *testing.T) {
	c := natstest.Single(t)
	cl, err := NewClient(ClientConfig{Conn: c.Connect(0)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.Query(ctxT(t, 10*time.Second), storage.HistoryQuery{App: "a"})
	if !errors.Is(err, storage.ErrNotSupported) || !strings.Contains(err.Error(), "--history-indexer") {
		t.Fatalf("query without indexer: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{{}, {Conn: &nats.Conn{}}, {Conn: &nats.Conn{}, Dir: "x"}, {Conn: &nats.Conn{}, Dir: "x", Name: "a.b"}} {
		if _, err := Open(context.Background(), cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("Open(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
	if _, err := NewClient(ClientConfig{}); !errors.Is(err, ErrConfig) {
		t.Errorf("NewClient without conn: %v", err)
	}
}

// TestDeleteLeavesInboxes: a message deleted through Store (the REST API's
// view of the cluster store) leaves the history and every inbox that held
// it, direct and group, as on a single node.
func TestDeleteLeavesInboxes(t *testing.T) {
	c := natstest.Single(t)
	nc := c.Connect(0)
	ctx := ctxT(t, 60*time.Second)
	st, err := jsstore.Open(ctx, nc, jsstore.Config{UnsafeSingleReplica: true})
	if err != nil {
		t.Fatal(err)
	}
	ix := openIndexer(t, nc, "d", t.TempDir())
	defer ix.Close()
	cl, err := NewClient(ClientConfig{Conn: nc})
	if err != nil {
		t.Fatal(err)
	}
	wrapped := Wrap(st, cl)
	if err := st.CreateGroup(ctx, &storage.Group{App: "a", ID: "g", Members: []string{"s", "u3"}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	direct := &storage.Message{App: "a", ID: "d1", From: "s", To: []string{"u1", "u2"}, ConvID: "c", Time: now, Text: "x"}
	group := &storage.Message{App: "a", ID: "g1", From: "s", Room: "g", ConvID: "g", Time: now, Text: "y"}
	kept := &storage.Message{App: "a", ID: "k1", From: "s", To: []string{"u1"}, ConvID: "c", Time: now + 1, Text: "z"}
	for _, p := range []struct {
		m     *storage.Message
		inbox []string
	}{{direct, []string{"u1", "u2"}}, {group, []string{"u3"}}, {kept, []string{"u1"}}} {
		if err := st.Persist(ctx, p.m, p.inbox); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []*storage.Message{direct, group} {
		if err := wrapped.Delete(ctx, "a", m.ConvID, m.ID, m.Time); err != nil {
			t.Fatal(err)
		}
	}
	for peer, want := range map[string]int{"u1": 1, "u2": 0, "u3": 0} {
		ms, err := st.Pending(ctx, "a", peer)
		if err != nil || len(ms) != want {
			t.Fatalf("%s pending after delete: %d messages (%v), want %d", peer, len(ms), err, want)
		}
	}
	if ms, err := wrapped.Query(ctx, storage.HistoryQuery{App: "a"}); err != nil || len(ms) != 1 || ms[0].ID != "k1" {
		t.Fatalf("history after delete: %v %v", ms, err)
	}
	if err := wrapped.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := wrapped.Query(ctx, storage.HistoryQuery{App: "a"}); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Query after Close: %v", err)
	}
	if err := wrapped.Delete(ctx, "a", "c", "k1", kept.Time); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Delete after Close: %v", err)
	}
}

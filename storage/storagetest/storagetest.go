// Package storagetest is the conformance suite every storage.Store
// implementation runs: Run for the behaviour of one open store, RunDurable
// for what must survive Close and reopen.
//
// An implementation's test calls it with an Opener:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T, o storagetest.Options) storage.Store {
//			return memory.New(memory.Config{Limits: o.Limits, Now: o.Now})
//		})
//	}
//
// Concurrency: the suite runs its subtests one after another; some of them
// call the store from many goroutines (run it under -race).
//
// Imports: the standard library and rtgate/storage only.
package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rtgate/rtgate/storage"
)

// Options tells an Opener how to build the store under test.
type Options struct {
	Limits storage.Limits   // pass to the store as is (zero = defaults)
	Now    func() time.Time // the store's clock; never nil
	// Dir is an empty directory owned by the subtest, or, in RunDurable's
	// reopen, the directory of the store that was closed. In-memory stores
	// ignore it.
	Dir string
}

// Features declares what a store leaves out. The suite then checks that
// the store says so, with storage.ErrNotSupported, instead of checking
// the behaviour.
type Features struct {
	// NoHistory: History.Query and History.Delete answer
	// storage.ErrNotSupported (the cluster store, until its history
	// indexer exists), and a Delete removes nothing from inboxes.
	NoHistory bool
}

// suite is an Opener with the Features of its stores.
type suite struct {
	open Opener
	f    Features
}

// Opener opens a store for one subtest. It fails t if it cannot. The suite
// closes the store itself; the Opener must not register a Close.
type Opener func(t *testing.T, o Options) storage.Store

// Clock is a settable clock for Options.Now; safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time // guarded by mu
}

// NewClock returns a clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// epoch is where every suite clock starts.
var epoch = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// env is one subtest's store, clock and context.
type env struct {
	t     *testing.T
	s     storage.Store
	clock *Clock
	ctx   context.Context
	f     Features
}

// history reports whether the store answers history calls; if it does
// not (Features.NoHistory), it checks that Query and Delete say so.
func (e *env) history() bool {
	e.t.Helper()
	if !e.f.NoHistory {
		return true
	}
	if _, err := e.s.Query(e.ctx, storage.HistoryQuery{App: "app"}); !errors.Is(err, storage.ErrNotSupported) {
		e.t.Errorf("Query = %v, want ErrNotSupported (Features.NoHistory)", err)
	}
	if err := e.s.Delete(e.ctx, "app", "conv", "m", 1); !errors.Is(err, storage.ErrNotSupported) {
		e.t.Errorf("Delete = %v, want ErrNotSupported (Features.NoHistory)", err)
	}
	return false
}

func (e *env) nowMs() int64 { return e.clock.Now().UnixMilli() }

// open builds an env with the given limits; the store is closed when the
// subtest ends unless the subtest closed it itself.
func open(t *testing.T, o *suite, l storage.Limits) *env {
	t.Helper()
	c := NewClock(epoch)
	s := o.open(t, Options{Limits: l, Now: c.Now, Dir: t.TempDir()})
	t.Cleanup(func() { _ = s.Close() })
	return &env{t: t, s: s, clock: c, ctx: context.Background(), f: o.f}
}

// Run runs the conformance suite against stores from open.
func Run(t *testing.T, open Opener) { RunWith(t, open, Features{}) }

// RunWith runs the conformance suite against stores from open that leave
// out what f says.
func RunWith(t *testing.T, open Opener, f Features) {
	o := &suite{open: open, f: f}
	t.Run("Messages", func(t *testing.T) { runMessages(t, o) })
	t.Run("Inbox", func(t *testing.T) { runInbox(t, o) })
	t.Run("History", func(t *testing.T) { runHistory(t, o) })
	t.Run("Groups", func(t *testing.T) { runGroups(t, o) })
	t.Run("GroupAttrs", func(t *testing.T) { runGroupAttrs(t, o) })
	t.Run("Store", func(t *testing.T) { runStore(t, o) })
}

// msg builds a message of app "app" in conversation conv.
func msg(id, from, conv string, t int64) *storage.Message {
	return &storage.Message{App: "app", ID: id, From: from, ConvID: conv, Time: t, Text: "text of " + id}
}

// persist stores m for the inbox peers or fails the test.
func (e *env) persist(m *storage.Message, inbox ...string) {
	e.t.Helper()
	if err := e.s.Persist(e.ctx, m, inbox); err != nil {
		e.t.Fatalf("Persist(%s): %v", m.ID, err)
	}
}

// pendingIDs returns the ids Pending returns for peer of app "app".
func (e *env) pendingIDs(peer string) []string {
	e.t.Helper()
	ms, err := e.s.Pending(e.ctx, "app", peer)
	if err != nil {
		e.t.Fatalf("Pending(%s): %v", peer, err)
	}
	return ids(ms)
}

func (e *env) count(peer string, direct bool) int {
	e.t.Helper()
	n, err := e.s.Count(e.ctx, "app", peer, direct)
	if err != nil {
		e.t.Fatalf("Count(%s, %v): %v", peer, direct, err)
	}
	return n
}

func (e *env) query(q storage.HistoryQuery) []string {
	e.t.Helper()
	if q.App == "" {
		q.App = "app"
	}
	ms, err := e.s.Query(e.ctx, q)
	if err != nil {
		e.t.Fatalf("Query(%+v): %v", q, err)
	}
	return ids(ms)
}

func ids(ms []*storage.Message) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

// wantIDs fails the test unless got equals want.
func wantIDs(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

// sameMessage reports how got differs from want ("" if not at all).
func sameMessage(got, want *storage.Message) string {
	switch {
	case got.App != want.App, got.ID != want.ID, got.From != want.From,
		got.Room != want.Room, got.Text != want.Text, got.Time != want.Time,
		got.Receipt != want.Receipt, got.FromIP != want.FromIP,
		got.ConvID != want.ConvID, !slices.Equal(got.To, want.To),
		got.ClientID != want.ClientID, got.ClientSum != want.ClientSum:
		return fmt.Sprintf("got %+v, want %+v", *got, *want)
	}
	return ""
}

// ids0 returns "prefix0".."prefix<n-1>" zero-padded so they sort.
func seqIDs(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%04d", prefix, i)
	}
	return out
}

// runStore covers what holds for the store as a whole.
func runStore(t *testing.T, o *suite) {
	t.Run("apps are isolated", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		now := e.nowMs()
		for _, app := range []string{"a1", "a2"} {
			m := msg("same-id", "x", "conv", now)
			m.App, m.Text = app, "in "+app
			e.persist(m, "peer")
			if err := e.s.CreateGroup(e.ctx, &storage.Group{App: app, ID: "g1", Members: []string{"peer-" + app}}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.s.Remove(e.ctx, "a1", "peer", []string{"same-id"}); err != nil {
			t.Fatal(err)
		}
		for app, wantPending := range map[string]int{"a1": 0, "a2": 1, "a3": 0} {
			ms, err := e.s.Pending(e.ctx, app, "peer")
			if err != nil || len(ms) != wantPending {
				t.Errorf("Pending(%s) = %d messages, %v; want %d", app, len(ms), err, wantPending)
			}
		}
		if e.history() {
			hs, err := e.s.Query(e.ctx, storage.HistoryQuery{App: "a2"})
			if err != nil || len(hs) != 1 || hs[0].Text != "in a2" || hs[0].App != "a2" {
				t.Errorf("Query(a2) = %v, %v", hs, err)
			}
			if err := e.s.Delete(e.ctx, "a1", "conv", "same-id", now); err != nil {
				t.Fatal(err)
			}
			if hs, _ := e.s.Query(e.ctx, storage.HistoryQuery{App: "a2"}); len(hs) != 1 {
				t.Errorf("Delete in a1 touched a2: %v", hs)
			}
		}
		g, err := e.s.Group(e.ctx, "a2", "g1")
		if err != nil || !slices.Equal(g.Members, []string{"peer-a2"}) {
			t.Errorf("Group(a2, g1) = %+v, %v", g, err)
		}
		if gs, _ := e.s.GroupsOf(e.ctx, "a1", "peer-a2"); len(gs) != 0 {
			t.Errorf("GroupsOf(a1, peer-a2) = %v, want none", gs)
		}
	})

	t.Run("concurrent Persist", func(t *testing.T) {
		e := open(t, o, storage.Limits{InboxSize: 10000})
		const writers, each = 16, 25
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					m := msg(fmt.Sprintf("w%02d-%03d", w, i), fmt.Sprintf("w%02d", w), "conv", e.nowMs()+int64(i))
					errs <- e.s.Persist(e.ctx, m, []string{"shared", m.From})
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := e.count("shared", false); n != writers*each {
			t.Errorf("Count(shared) = %d, want %d", n, writers*each)
		}
		for w := range writers {
			if n := e.count(fmt.Sprintf("w%02d", w), false); n != each {
				t.Errorf("Count(w%02d) = %d, want %d", w, n, each)
			}
		}
		if !e.history() {
			return
		}
		if got := e.query(storage.HistoryQuery{ConvID: "conv", Limit: 1000}); len(got) != writers*each {
			t.Errorf("history holds %d messages, want %d", len(got), writers*each)
		}
	})

	t.Run("concurrent Persist and Remove on one peer", func(t *testing.T) {
		e := open(t, o, storage.Limits{InboxSize: 10000})
		const n = 100
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				id := fmt.Sprintf("m%03d", i)
				if err := e.s.Persist(e.ctx, msg(id, "x", "c", e.nowMs()+int64(i)), []string{"p"}); err != nil {
					t.Error(err)
					return
				}
				if i%2 == 0 {
					if _, err := e.s.Remove(e.ctx, "app", "p", []string{id}); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		if got := e.count("p", false); got != n/2 {
			t.Errorf("Count = %d, want %d", got, n/2)
		}
	})

	t.Run("closed store", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		if err := e.s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		calls := map[string]func() error{
			"Persist": func() error { return e.s.Persist(e.ctx, msg("m", "x", "c", 1), []string{"p"}) },
			"Pending": func() error { _, err := e.s.Pending(e.ctx, "app", "p"); return err },
			"Remove":  func() error { _, err := e.s.Remove(e.ctx, "app", "p", []string{"m"}); return err },
			"Count":   func() error { _, err := e.s.Count(e.ctx, "app", "p", false); return err },
			"Query":   func() error { _, err := e.s.Query(e.ctx, storage.HistoryQuery{App: "app"}); return err },
			"Delete":  func() error { return e.s.Delete(e.ctx, "app", "c", "m", 1) },
			"CreateGroup": func() error {
				return e.s.CreateGroup(e.ctx, &storage.Group{App: "app", ID: "g"})
			},
			"Group":         func() error { _, err := e.s.Group(e.ctx, "app", "g"); return err },
			"AddMembers":    func() error { _, err := e.s.AddMembers(e.ctx, "app", "g", []string{"a"}, 0); return err },
			"RemoveMembers": func() error { _, err := e.s.RemoveMembers(e.ctx, "app", "g", []string{"a"}); return err },
			"GroupsOf":      func() error { _, err := e.s.GroupsOf(e.ctx, "app", "a"); return err },
			"SetAttrs":      func() error { _, err := e.s.SetAttrs(e.ctx, "app", "g", nil); return err },
			"QueryGroups":   func() error { _, err := e.s.QueryGroups(e.ctx, storage.GroupQuery{App: "app"}); return err },
		}
		for name, call := range calls {
			if err := call(); !errors.Is(err, storage.ErrClosed) {
				t.Errorf("%s after Close = %v, want ErrClosed", name, err)
			}
		}
	})

	t.Run("canceled context", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		ctx, cancel := context.WithCancel(e.ctx)
		cancel()
		if err := e.s.Persist(ctx, msg("m", "x", "c", 1), []string{"p"}); !errors.Is(err, context.Canceled) {
			t.Errorf("Persist = %v, want context.Canceled", err)
		}
		if _, err := e.s.Query(ctx, storage.HistoryQuery{App: "app"}); !errors.Is(err, context.Canceled) {
			t.Errorf("Query = %v, want context.Canceled", err)
		}
		if !e.history() {
			wantIDs(t, "Pending after a canceled Persist", e.pendingIDs("p"))
		} else if got := e.query(storage.HistoryQuery{}); len(got) != 0 {
			t.Errorf("canceled Persist stored %q", got)
		}
	})
}

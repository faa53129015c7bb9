package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rtgate/rtgate/storage"
)

// runMessages covers Persist.
func runMessages(t *testing.T, o *suite) {
	t.Run("writes history and every inbox", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		m := &storage.Message{App: "app", ID: "m1", From: "a", To: []string{"b", "c"},
			Text: `{"hello":"world"}`, Time: e.nowMs(), Receipt: true, FromIP: "192.0.2.7", ConvID: "conv-abc",
			ClientID: "c-17", ClientSum: 1<<63 + 5}
		e.persist(m, "b", "c")
		for _, peer := range []string{"b", "c"} {
			ms, err := e.s.Pending(e.ctx, "app", peer)
			if err != nil || len(ms) != 1 {
				t.Fatalf("Pending(%s) = %v, %v", peer, ms, err)
			}
			if d := sameMessage(ms[0], m); d != "" {
				t.Errorf("Pending(%s): %s", peer, d)
			}
		}
		wantIDs(t, "Pending(a)", e.pendingIDs("a"))
		if !e.history() {
			return
		}
		hs, err := e.s.Query(e.ctx, storage.HistoryQuery{App: "app", ConvID: "conv-abc"})
		if err != nil || len(hs) != 1 {
			t.Fatalf("Query = %v, %v", hs, err)
		}
		if d := sameMessage(hs[0], m); d != "" {
			t.Errorf("history: %s", d)
		}
	})

	t.Run("group message keeps Room", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		m := msg("g1", "a", "0123456789abcdef01234567", e.nowMs())
		m.Room = m.ConvID
		e.persist(m, "b")
		ms, err := e.s.Pending(e.ctx, "app", "b")
		if err != nil || len(ms) != 1 || sameMessage(ms[0], m) != "" {
			t.Errorf("Pending = %v, %v; want %+v", ms, err, m)
		}
	})

	t.Run("history only without inbox peers", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		e.persist(msg("m1", "a", "c", e.nowMs()))
		if e.history() {
			wantIDs(t, "history", e.query(storage.HistoryQuery{}), "m1")
		}
		wantIDs(t, "Pending(a)", e.pendingIDs("a"))
	})

	t.Run("duplicate inbox peers are stored once", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		e.persist(msg("m1", "a", "c", e.nowMs()), "b", "b", "b")
		wantIDs(t, "Pending(b)", e.pendingIDs("b"), "m1")
	})

	t.Run("persisting again overwrites", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		m := msg("m1", "a", "c", e.nowMs())
		e.persist(m, "b")
		m2 := *m
		m2.Text = "edited"
		e.persist(&m2, "b")
		ms, _ := e.s.Pending(e.ctx, "app", "b")
		if len(ms) != 1 || ms[0].Text != "edited" {
			t.Errorf("Pending = %v, want the edited message once", ms)
		}
		if e.history() {
			wantIDs(t, "history", e.query(storage.HistoryQuery{}), "m1")
		}
	})

	t.Run("store keeps no reference to caller data", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		m := msg("m1", "a", "c", e.nowMs())
		m.To = []string{"b"}
		e.persist(m, "b")
		m.Text, m.To[0] = "changed", "z"
		ms, _ := e.s.Pending(e.ctx, "app", "b")
		if len(ms) != 1 || ms[0].Text != "text of m1" || ms[0].To[0] != "b" {
			t.Fatalf("stored message changed with the caller's: %+v", ms)
		}
		ms[0].Text = "changed again"
		if !e.history() {
			if ms, _ := e.s.Pending(e.ctx, "app", "b"); len(ms) != 1 || ms[0].Text != "text of m1" {
				t.Errorf("stored message changed with a returned one: %+v", ms)
			}
			return
		}
		hs, _ := e.s.Query(e.ctx, storage.HistoryQuery{App: "app"})
		if len(hs) != 1 || hs[0].Text != "text of m1" {
			t.Errorf("stored message changed with a returned one: %+v", hs)
		}
	})

	for _, tc := range []struct {
		name string
		m    *storage.Message
	}{
		{"no app", &storage.Message{ID: "m1", Time: 1}},
		{"no id", &storage.Message{App: "app", Time: 1}},
		{"nil message", nil},
	} {
		t.Run("invalid: "+tc.name, func(t *testing.T) {
			e := open(t, o, storage.Limits{})
			if err := e.s.Persist(e.ctx, tc.m, []string{"b"}); !errors.Is(err, storage.ErrInvalid) {
				t.Errorf("Persist = %v, want ErrInvalid", err)
			}
		})
	}
}

// runInbox covers Pending, Remove and Count with the inbox limits.
func runInbox(t *testing.T, o *suite) {
	t.Run("Pending is oldest first by time then id", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		now := e.nowMs()
		for _, m := range []*storage.Message{
			msg("c", "a", "x", now-1), msg("a", "a", "x", now-3), msg("z", "a", "x", now-2),
			msg("b", "a", "x", now-1),
		} {
			e.persist(m, "p")
		}
		wantIDs(t, "Pending", e.pendingIDs("p"), "a", "z", "b", "c")
	})

	for _, tc := range []struct {
		name   string
		limits storage.Limits
		n      int
		want   int
	}{
		{"size limit keeps the newest", storage.Limits{InboxSize: 3}, 5, 3},
		{"default size is 50", storage.Limits{}, 60, 50},
		{"under the limit keeps all", storage.Limits{InboxSize: 10}, 7, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := open(t, o, tc.limits)
			all := seqIDs("m", tc.n)
			for i, id := range all {
				e.persist(msg(id, "a", "x", e.nowMs()+int64(i)), "p", "q")
			}
			want := all[tc.n-tc.want:]
			wantIDs(t, "Pending(p)", e.pendingIDs("p"), want...)
			wantIDs(t, "Pending(q)", e.pendingIDs("q"), want...)
			if n := e.count("p", false); n != tc.want {
				t.Errorf("Count = %d, want %d", n, tc.want)
			}
			if !e.history() {
				return
			}
			if got := e.query(storage.HistoryQuery{}); len(got) != tc.n {
				t.Errorf("history holds %d, want all %d", len(got), tc.n)
			}
		})
	}

	t.Run("TTL drops old messages", func(t *testing.T) {
		e := open(t, o, storage.Limits{InboxTTL: time.Hour})
		e.persist(msg("old", "a", "x", e.nowMs()), "p")
		e.clock.Advance(30 * time.Minute)
		e.persist(msg("new", "a", "x", e.nowMs()), "p")
		wantIDs(t, "Pending at 30m", e.pendingIDs("p"), "old", "new")
		e.clock.Advance(31 * time.Minute)
		wantIDs(t, "Pending at 61m", e.pendingIDs("p"), "new")
		if n := e.count("p", false); n != 1 {
			t.Errorf("Count at 61m = %d, want 1", n)
		}
		if got, _ := e.s.Remove(e.ctx, "app", "p", []string{"old"}); len(got) != 0 {
			t.Errorf("Remove(expired) returned %v, want nothing", ids(got))
		}
		e.clock.Advance(time.Hour)
		wantIDs(t, "Pending at 121m", e.pendingIDs("p"))
		e.persist(msg("newest", "a", "x", e.nowMs()), "p")
		wantIDs(t, "Pending after a new Persist", e.pendingIDs("p"), "newest")
	})

	t.Run("default TTL is 7 days", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		e.persist(msg("m", "a", "x", e.nowMs()), "p")
		e.clock.Advance(7*24*time.Hour - time.Minute)
		wantIDs(t, "Pending before 7 days", e.pendingIDs("p"), "m")
		e.clock.Advance(2 * time.Minute)
		wantIDs(t, "Pending after 7 days", e.pendingIDs("p"))
	})

	t.Run("Remove returns removed messages and ignores unknown ids", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		for i, id := range []string{"m1", "m2", "m3"} {
			e.persist(msg(id, "a", "x", e.nowMs()+int64(i)), "p", "q")
		}
		got, err := e.s.Remove(e.ctx, "app", "p", []string{"m3", "nope", "m1"})
		if err != nil {
			t.Fatal(err)
		}
		wantIDs(t, "removed", ids(got), "m1", "m3")
		if len(got) == 2 && got[0].Text != "text of m1" {
			t.Errorf("removed message lost its text: %+v", got[0])
		}
		wantIDs(t, "Pending(p)", e.pendingIDs("p"), "m2")
		wantIDs(t, "Pending(q)", e.pendingIDs("q"), "m1", "m2", "m3")
		got, err = e.s.Remove(e.ctx, "app", "p", []string{"m1"})
		if err != nil || len(got) != 0 {
			t.Errorf("second Remove = %v, %v; want nothing", ids(got), err)
		}
		got, err = e.s.Remove(e.ctx, "app", "nobody", []string{"m2"})
		if err != nil || len(got) != 0 {
			t.Errorf("Remove for unknown peer = %v, %v; want nothing", ids(got), err)
		}
		if e.history() {
			wantIDs(t, "history", e.query(storage.HistoryQuery{}), "m3", "m2", "m1")
		}
	})

	t.Run("Count direct counts messages without Room", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		for i := range 5 {
			m := msg(fmt.Sprint("m", i), "a", "x", e.nowMs()+int64(i))
			if i%2 == 1 {
				m.Room, m.ConvID = "room1", "room1"
			}
			e.persist(m, "p")
		}
		if all, direct := e.count("p", false), e.count("p", true); all != 5 || direct != 3 {
			t.Errorf("Count = %d all, %d direct; want 5, 3", all, direct)
		}
		if n := e.count("other", false); n != 0 {
			t.Errorf("Count(other) = %d, want 0", n)
		}
	})

	t.Run("a message deleted from history is not pending", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		now := e.nowMs()
		e.persist(msg("m1", "a", "x", now-2), "p")
		e.persist(msg("m2", "a", "x", now-1), "p")
		if !e.history() {
			wantIDs(t, "Pending after an unsupported Delete", e.pendingIDs("p"), "m1", "m2")
			return
		}
		if err := e.s.Delete(e.ctx, "app", "x", "m1", now-2); err != nil {
			t.Fatal(err)
		}
		wantIDs(t, "Pending", e.pendingIDs("p"), "m2")
		// Acknowledging both removes only the one still pending.
		got, err := e.s.Remove(e.ctx, "app", "p", []string{"m1", "m2"})
		if err != nil {
			t.Fatal(err)
		}
		wantIDs(t, "Remove", ids(got), "m2")
		if len(got) == 1 && (got[0].Text != "text of m2" || got[0].Time != now-1 || got[0].From != "a") {
			t.Errorf("removed message = %+v", got[0])
		}
	})
}

// history is the data set of the history tests: conversations c1 and c2,
// senders x and y, ties at time 20. Newest-first order of all of it:
// e(40) d(30) c3(20) c2(20) c1(20) b(10) a(10).
func historySet(e *env) {
	e.t.Helper()
	for _, m := range []*storage.Message{
		msg("a", "x", "c1", 10), msg("b", "y", "c2", 10),
		msg("c1", "x", "c1", 20), msg("c2", "y", "c1", 20), msg("c3", "x", "c2", 20),
		msg("d", "y", "c1", 30), msg("e", "x", "c1", 40),
	} {
		e.persist(m)
	}
}

// runHistory covers Query and Delete.
func runHistory(t *testing.T, o *suite) {
	if o.f.NoHistory {
		t.Run("Query and Delete say they are not supported", func(t *testing.T) {
			e := open(t, o, storage.Limits{})
			historySet(e)
			if e.history() {
				t.Fatal("unreachable: Features.NoHistory is set")
			}
		})
		return
	}
	t.Run("Query", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		historySet(e)
		for _, tc := range []struct {
			name string
			q    storage.HistoryQuery
			want []string
		}{
			{"app-wide newest first", storage.HistoryQuery{}, []string{"e", "d", "c3", "c2", "c1", "b", "a"}},
			{"by conversation", storage.HistoryQuery{ConvID: "c1"}, []string{"e", "d", "c2", "c1", "a"}},
			{"by sender", storage.HistoryQuery{From: "y"}, []string{"d", "c2", "b"}},
			{"by conversation and sender", storage.HistoryQuery{ConvID: "c1", From: "x"}, []string{"e", "c1", "a"}},
			{"limit", storage.HistoryQuery{Limit: 2}, []string{"e", "d"}},
			{"Before is exclusive", storage.HistoryQuery{Before: 30}, []string{"c3", "c2", "c1", "b", "a"}},
			{"AtOrBefore is inclusive", storage.HistoryQuery{AtOrBefore: 30}, []string{"d", "c3", "c2", "c1", "b", "a"}},
			{"both bounds: tighter wins", storage.HistoryQuery{Before: 30, AtOrBefore: 10}, []string{"b", "a"}},
			{"both bounds: Before tighter", storage.HistoryQuery{Before: 20, AtOrBefore: 40}, []string{"b", "a"}},
			{"BeforeID continues among ties", storage.HistoryQuery{Before: 20, BeforeID: "c2"}, []string{"c1", "b", "a"}},
			{"BeforeID lowest of ties", storage.HistoryQuery{Before: 20, BeforeID: "c1"}, []string{"b", "a"}},
			{"BeforeID unknown id", storage.HistoryQuery{Before: 20, BeforeID: "c25"}, []string{"c2", "c1", "b", "a"}},
			{"BeforeID with conversation", storage.HistoryQuery{ConvID: "c1", Before: 20, BeforeID: "c2"}, []string{"c1", "a"}},
			{"BeforeID ignored without Before", storage.HistoryQuery{BeforeID: "c2", Limit: 1}, []string{"e"}},
			{"unknown conversation", storage.HistoryQuery{ConvID: "nope"}, nil},
			{"unknown sender", storage.HistoryQuery{From: "nope"}, nil},
			{"before everything", storage.HistoryQuery{Before: 10}, nil},
			{"other app", storage.HistoryQuery{App: "other"}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantIDs(t, "Query", e.query(tc.q), tc.want...)
			})
		}
	})

	t.Run("paging with Before and BeforeID visits every message once", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		var want []string
		for i := range 40 {
			m := msg(fmt.Sprintf("m%02d", i), "x", "c", int64(100+i/7)) // runs of equal times
			e.persist(m)
			want = append(want, m.ID)
		}
		slices.Reverse(want)
		for _, limit := range []int{1, 3, 7, 8} {
			var got []string
			q := storage.HistoryQuery{ConvID: "c", Limit: limit}
			for range 100 {
				page, err := e.s.Query(e.ctx, storage.HistoryQuery{App: "app", ConvID: q.ConvID, Limit: limit, Before: q.Before, BeforeID: q.BeforeID})
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				got = append(got, ids(page)...)
				last := page[len(page)-1]
				q.Before, q.BeforeID = last.Time, last.ID
			}
			wantIDs(t, fmt.Sprintf("pages of %d", limit), got, want...)
		}
	})

	t.Run("Limit default 100 and clamp 1000", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		for i := range storage.MaxHistoryLimit + 10 {
			e.persist(msg(fmt.Sprintf("m%04d", i), "x", "c", int64(i+1)))
		}
		for _, tc := range []struct{ limit, want int }{{0, 100}, {-1, 100}, {5000, 1000}, {1000, 1000}, {250, 250}} {
			if got := e.query(storage.HistoryQuery{ConvID: "c", Limit: tc.limit}); len(got) != tc.want {
				t.Errorf("Limit %d returned %d, want %d", tc.limit, len(got), tc.want)
			}
		}
	})

	t.Run("Delete", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		historySet(e)
		for _, tc := range []struct {
			name              string
			conv, id          string
			ts                int64
			wantErr           error
			wantAll, wantFrom []string
		}{
			{"unknown id", "c1", "zz", 20, storage.ErrNotFound, nil, nil},
			{"wrong conversation", "c2", "c1", 20, storage.ErrNotFound, nil, nil},
			{"wrong time", "c1", "c1", 21, storage.ErrNotFound, nil, nil},
			{"one of a tie", "c1", "c1", 20, nil, []string{"e", "d", "c3", "c2", "b", "a"}, []string{"e", "c3", "a"}},
			{"again", "c1", "c1", 20, storage.ErrNotFound, nil, nil},
			{"newest", "c1", "e", 40, nil, []string{"d", "c3", "c2", "b", "a"}, []string{"c3", "a"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := e.s.Delete(e.ctx, "app", tc.conv, tc.id, tc.ts)
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Delete = %v, want %v", err, tc.wantErr)
				}
				if tc.wantAll != nil {
					wantIDs(t, "app-wide", e.query(storage.HistoryQuery{}), tc.wantAll...)
					wantIDs(t, "from x", e.query(storage.HistoryQuery{From: "x"}), tc.wantFrom...)
				}
			})
		}
		wantIDs(t, "conversation c1", e.query(storage.HistoryQuery{ConvID: "c1"}), "d", "c2", "a")
	})
}

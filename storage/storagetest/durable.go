package storagetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rtgate/rtgate/storage"
)

// RunDurable checks that everything a store keeps survives Close and a
// reopen of the same Options.Dir: messages, inbox state after Remove and
// Delete, groups, members and attributes, and the inbox limits.
func RunDurable(t *testing.T, o Opener) { RunDurableWith(t, o, Features{}) }

// RunDurableWith is RunDurable for stores that leave out what f says.
func RunDurableWith(t *testing.T, o Opener, f Features) {
	t.Run("data survives reopen", func(t *testing.T) {
		clock := NewClock(epoch)
		opts := Options{Limits: storage.Limits{InboxSize: 5, InboxTTL: time.Hour}, Now: clock.Now, Dir: t.TempDir()}
		e := &env{t: t, s: o(t, opts), clock: clock, ctx: t.Context(), f: f}
		now := e.nowMs()
		full := &storage.Message{App: "app", ID: "full", From: "a", To: []string{"b", "c"}, Text: "hi",
			Time: now, Receipt: true, FromIP: "198.51.100.1", ConvID: "conv", ClientID: "c1", ClientSum: 42}
		e.persist(full, "b", "c")
		for i := range 8 {
			e.persist(msg(fmt.Sprint("m", i), "x", "conv", now+int64(i+1)), "b")
		}
		if _, err := e.s.Remove(e.ctx, "app", "b", []string{"m7"}); err != nil {
			t.Fatal(err)
		}
		history := e.history()
		if history {
			if err := e.s.Delete(e.ctx, "app", "conv", "m6", now+7); err != nil {
				t.Fatal(err)
			}
		}
		e.createGroup("g1", "a", "b")
		if _, err := e.s.AddMembers(e.ctx, "app", "g1", []string{"c"}, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.RemoveMembers(e.ctx, "app", "g1", []string{"a"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.SetAttrs(e.ctx, "app", "g1", map[string]any{"name": "lobby"}); err != nil {
			t.Fatal(err)
		}
		if err := e.s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}

		e.s = o(t, opts)
		t.Cleanup(func() { _ = e.s.Close() })
		// b's inbox kept the newest 5 (m3..m7); m7 was removed, m6 deleted.
		if history {
			wantIDs(t, "Pending(b)", e.pendingIDs("b"), "m3", "m4", "m5")
		} else { // m6 stays: Delete is not supported
			wantIDs(t, "Pending(b)", e.pendingIDs("b"), "m3", "m4", "m5", "m6")
		}
		ms, err := e.s.Pending(e.ctx, "app", "c")
		if err != nil || len(ms) != 1 || sameMessage(ms[0], full) != "" {
			t.Errorf("Pending(c) = %v, %v; want %+v", ms, err, full)
		}
		if history {
			wantIDs(t, "history", e.query(storage.HistoryQuery{ConvID: "conv"}),
				"m7", "m5", "m4", "m3", "m2", "m1", "m0", "full")
			wantIDs(t, "history from x", e.query(storage.HistoryQuery{From: "x", Limit: 2}), "m7", "m5")
		}
		g := e.group("g1")
		if !slices.Equal(g.Members, []string{"b", "c"}) || g.Attrs["name"] != "lobby" || !g.CreatedAt.Equal(epoch) {
			t.Errorf("Group after reopen = %+v", g)
		}
		wantIDs(t, "GroupsOf(c)", e.groupsOf("c"), "g1")
		wantIDs(t, "GroupsOf(a)", e.groupsOf("a"))
		clock.Advance(2 * time.Hour)
		wantIDs(t, "Pending(b) after the TTL", e.pendingIDs("b"))
	})
}

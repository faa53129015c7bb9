package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rtgate/rtgate/storage"
)

func (e *env) createGroup(id string, members ...string) *storage.Group {
	e.t.Helper()
	g := &storage.Group{App: "app", ID: id, Members: members}
	if err := e.s.CreateGroup(e.ctx, g); err != nil {
		e.t.Fatalf("CreateGroup(%s): %v", id, err)
	}
	return g
}

func (e *env) group(id string) *storage.Group {
	e.t.Helper()
	g, err := e.s.Group(e.ctx, "app", id)
	if err != nil {
		e.t.Fatalf("Group(%s): %v", id, err)
	}
	return g
}

func (e *env) groupsOf(peer string) []string {
	e.t.Helper()
	gs, err := e.s.GroupsOf(e.ctx, "app", peer)
	if err != nil {
		e.t.Fatalf("GroupsOf(%s): %v", peer, err)
	}
	if gs == nil {
		gs = []string{}
	}
	return gs
}

// runGroups covers the Groups interface.
func runGroups(t *testing.T, o *suite) {
	t.Run("CreateGroup and Group", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		in := &storage.Group{App: "app", ID: "0123456789abcdef01234567", Members: []string{"a", "b", "a"},
			Attrs: map[string]any{"name": "lobby", "n": 3}}
		if err := e.s.CreateGroup(e.ctx, in); err != nil {
			t.Fatal(err)
		}
		if !in.CreatedAt.Equal(epoch) || !in.UpdatedAt.Equal(epoch) {
			t.Errorf("CreateGroup set times %v, %v; want %v", in.CreatedAt, in.UpdatedAt, epoch)
		}
		g := e.group(in.ID)
		if g.App != "app" || g.ID != in.ID || !slices.Equal(g.Members, []string{"a", "b"}) || g.Transient {
			t.Errorf("Group = %+v", g)
		}
		if g.Attrs["name"] != "lobby" || g.Attrs["n"] != float64(3) || len(g.Attrs) != 2 {
			t.Errorf("Attrs = %#v, want name=lobby n=3.0", g.Attrs)
		}
		if !g.CreatedAt.Equal(epoch) || !g.UpdatedAt.Equal(epoch) {
			t.Errorf("Group times %v, %v; want %v", g.CreatedAt, g.UpdatedAt, epoch)
		}
		g.Members[0] = "changed"
		if e.group(in.ID).Members[0] != "a" {
			t.Error("changing a returned group changed the stored one")
		}
	})

	t.Run("CreateGroup keeps given times and Transient", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		at := epoch.Add(-time.Hour)
		if err := e.s.CreateGroup(e.ctx, &storage.Group{App: "app", ID: "open", Transient: true, CreatedAt: at, UpdatedAt: at}); err != nil {
			t.Fatal(err)
		}
		g := e.group("open")
		if !g.Transient || len(g.Members) != 0 || !g.CreatedAt.Equal(at) || !g.UpdatedAt.Equal(at) {
			t.Errorf("Group = %+v", g)
		}
	})

	t.Run("CreateGroup errors", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		e.createGroup("g1", "a")
		for _, tc := range []struct {
			name string
			g    *storage.Group
			want error
		}{
			{"existing id", &storage.Group{App: "app", ID: "g1", Members: []string{"z"}}, storage.ErrExists},
			{"no id", &storage.Group{App: "app"}, storage.ErrInvalid},
			{"no app", &storage.Group{ID: "g2"}, storage.ErrInvalid},
			{"nil group", nil, storage.ErrInvalid},
		} {
			if err := e.s.CreateGroup(e.ctx, tc.g); !errors.Is(err, tc.want) {
				t.Errorf("%s: CreateGroup = %v, want %v", tc.name, err, tc.want)
			}
		}
		if g := e.group("g1"); !slices.Equal(g.Members, []string{"a"}) {
			t.Errorf("failed CreateGroup changed g1: %+v", g)
		}
		wantIDs(t, "GroupsOf(z)", e.groupsOf("z"))
	})

	t.Run("unknown group", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		if _, err := e.s.Group(e.ctx, "app", "nope"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Group = %v, want ErrNotFound", err)
		}
		if _, err := e.s.AddMembers(e.ctx, "app", "nope", []string{"a"}, 0); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("AddMembers = %v, want ErrNotFound", err)
		}
		if _, err := e.s.RemoveMembers(e.ctx, "app", "nope", []string{"a"}); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("RemoveMembers = %v, want ErrNotFound", err)
		}
	})

	t.Run("AddMembers", func(t *testing.T) {
		for _, tc := range []struct {
			name        string
			start, add  []string
			limit       int
			wantAdded   []string
			wantErr     error
			wantMembers []string
		}{
			{"adds in order", []string{"a"}, []string{"c", "b"}, 0, []string{"c", "b"}, nil, []string{"a", "c", "b"}},
			{"skips members and duplicates", []string{"a", "b"}, []string{"b", "c", "c", "a"}, 0, []string{"c"}, nil, []string{"a", "b", "c"}},
			{"nothing new", []string{"a"}, []string{"a"}, 0, []string{}, nil, []string{"a"}},
			{"up to the limit", []string{"a"}, []string{"b", "c"}, 3, []string{"b", "c"}, nil, []string{"a", "b", "c"}},
			{"over the limit adds nothing", []string{"a"}, []string{"b", "c", "d"}, 3, []string{}, storage.ErrGroupFull, []string{"a"}},
			{"duplicates do not count toward the limit", []string{"a"}, []string{"a", "b", "b"}, 2, []string{"b"}, nil, []string{"a", "b"}},
			{"empty group", nil, []string{"a"}, 1, []string{"a"}, nil, []string{"a"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := open(t, o, storage.Limits{})
				e.createGroup("g", tc.start...)
				e.clock.Advance(time.Minute)
				added, err := e.s.AddMembers(e.ctx, "app", "g", tc.add, tc.limit)
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("AddMembers = %v, want %v", err, tc.wantErr)
				}
				if added == nil {
					added = []string{}
				}
				wantIDs(t, "added", added, tc.wantAdded...)
				g := e.group("g")
				wantIDs(t, "members", append([]string{}, g.Members...), tc.wantMembers...)
				changed := len(tc.wantAdded) > 0
				if g.UpdatedAt.Equal(epoch) == changed {
					t.Errorf("UpdatedAt = %v with changed = %v", g.UpdatedAt, changed)
				}
				for _, p := range tc.add {
					want := []string{}
					if slices.Contains(tc.wantMembers, p) {
						want = []string{"g"}
					}
					wantIDs(t, "GroupsOf("+p+")", e.groupsOf(p), want...)
				}
			})
		}
	})

	t.Run("RemoveMembers", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		e.createGroup("g", "a", "b", "c", "d")
		e.clock.Advance(time.Minute)
		removed, err := e.s.RemoveMembers(e.ctx, "app", "g", []string{"c", "x", "a", "c"})
		if err != nil {
			t.Fatal(err)
		}
		wantIDs(t, "removed", removed, "c", "a")
		g := e.group("g")
		wantIDs(t, "members", g.Members, "b", "d")
		if !g.UpdatedAt.Equal(epoch.Add(time.Minute)) {
			t.Errorf("UpdatedAt = %v, want bumped", g.UpdatedAt)
		}
		wantIDs(t, "GroupsOf(a)", e.groupsOf("a"))
		wantIDs(t, "GroupsOf(b)", e.groupsOf("b"), "g")
		removed, err = e.s.RemoveMembers(e.ctx, "app", "g", []string{"a"})
		if err != nil || len(removed) != 0 {
			t.Errorf("RemoveMembers(non-member) = %v, %v", removed, err)
		}
	})

	t.Run("GroupsOf is sorted", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		for _, id := range []string{"g3", "g1", "g2", "g4"} {
			e.createGroup(id, "b")
		}
		if _, err := e.s.AddMembers(e.ctx, "app", "g2", []string{"a"}, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.AddMembers(e.ctx, "app", "g3", []string{"a"}, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.RemoveMembers(e.ctx, "app", "g4", []string{"b"}); err != nil {
			t.Fatal(err)
		}
		wantIDs(t, "GroupsOf(a)", e.groupsOf("a"), "g2", "g3")
		wantIDs(t, "GroupsOf(b)", e.groupsOf("b"), "g1", "g2", "g3")
		wantIDs(t, "GroupsOf(nobody)", e.groupsOf("nobody"))
	})
}

// runGroupAttrs covers SetAttrs and QueryGroups.
func runGroupAttrs(t *testing.T, o *suite) {
	t.Run("SetAttrs merges and deletes", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		g := &storage.Group{App: "app", ID: "g", Members: []string{"a"}, Attrs: map[string]any{"name": "x", "owner": "a", "n": 1}}
		if err := e.s.CreateGroup(e.ctx, g); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute)
		got, err := e.s.SetAttrs(e.ctx, "app", "g", map[string]any{"name": "y", "owner": nil, "tags": []string{"t"}})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"name": "y", "n": float64(1), "tags": []any{"t"}}
		for _, g := range []*storage.Group{got, e.group("g")} {
			if fmt.Sprint(g.Attrs) != fmt.Sprint(want) {
				t.Errorf("Attrs = %#v, want %#v", g.Attrs, want)
			}
			if !g.UpdatedAt.Equal(epoch.Add(time.Minute)) || !g.CreatedAt.Equal(epoch) {
				t.Errorf("times = %v, %v", g.CreatedAt, g.UpdatedAt)
			}
			if !slices.Equal(g.Members, []string{"a"}) {
				t.Errorf("Members = %v", g.Members)
			}
		}
	})

	t.Run("SetAttrs errors", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		e.createGroup("g")
		if _, err := e.s.SetAttrs(e.ctx, "app", "nope", map[string]any{"a": 1}); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("unknown group: %v, want ErrNotFound", err)
		}
		if _, err := e.s.SetAttrs(e.ctx, "app", "g", map[string]any{"a": make(chan int)}); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("unencodable value: %v, want ErrInvalid", err)
		}
	})

	t.Run("QueryGroups", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		// Created a minute apart in this order: g5 g4 g3 g2 g1.
		for i, id := range []string{"g5", "g4", "g3", "g2", "g1"} {
			g := &storage.Group{App: "app", ID: id, Members: []string{"all"}, Attrs: map[string]any{"kind": "chat", "n": i % 2}}
			if i%2 == 0 {
				g.Members = append(g.Members, "even")
			}
			if err := e.s.CreateGroup(e.ctx, g); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(time.Minute)
		}
		for _, tc := range []struct {
			name string
			q    storage.GroupQuery
			want []string
		}{
			{"all oldest first", storage.GroupQuery{}, []string{"g5", "g4", "g3", "g2", "g1"}},
			{"by member", storage.GroupQuery{Member: "even"}, []string{"g5", "g3", "g1"}},
			{"by attrs", storage.GroupQuery{Attrs: map[string]any{"n": 1}}, []string{"g4", "g2"}},
			{"by attrs, several", storage.GroupQuery{Attrs: map[string]any{"n": 0, "kind": "chat"}}, []string{"g5", "g3", "g1"}},
			{"by attrs, no match", storage.GroupQuery{Attrs: map[string]any{"kind": "game"}}, nil},
			{"by member and attrs", storage.GroupQuery{Member: "all", Attrs: map[string]any{"n": 1}}, []string{"g4", "g2"}},
			{"limit", storage.GroupQuery{Limit: 2}, []string{"g5", "g4"}},
			{"skip", storage.GroupQuery{Skip: 3}, []string{"g2", "g1"}},
			{"skip and limit with member", storage.GroupQuery{Member: "even", Skip: 1, Limit: 1}, []string{"g3"}},
			{"skip past the end", storage.GroupQuery{Skip: 10}, nil},
			{"unknown member", storage.GroupQuery{Member: "nobody"}, nil},
			{"other app", storage.GroupQuery{App: "other"}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.q.App == "" {
					tc.q.App = "app"
				}
				gs, err := e.s.QueryGroups(e.ctx, tc.q)
				if err != nil {
					t.Fatal(err)
				}
				got := []string{}
				for _, g := range gs {
					got = append(got, g.ID)
				}
				wantIDs(t, "QueryGroups", got, tc.want...)
			})
		}
	})

	t.Run("QueryGroups default limit 100", func(t *testing.T) {
		e := open(t, o, storage.Limits{})
		for i := range 105 {
			e.createGroup(fmt.Sprintf("g%03d", i))
		}
		gs, err := e.s.QueryGroups(e.ctx, storage.GroupQuery{App: "app"})
		if err != nil || len(gs) != 100 || gs[0].ID != "g000" || gs[99].ID != "g099" {
			t.Errorf("QueryGroups = %d groups, %v", len(gs), err)
		}
	})
}

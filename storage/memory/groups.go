package memory

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/rtgate/rtgate/storage"
)

func copyGroup(g *storage.Group) *storage.Group {
	c := *g
	c.Members = slices.Clone(g.Members)
	c.Attrs = maps.Clone(g.Attrs) // values are normalized JSON; nested ones are never mutated
	if c.Attrs == nil {
		c.Attrs = map[string]any{}
	}
	return &c
}

// group returns the stored group or ErrNotFound; s.mu must be held.
func group(a *appData, id string) (*storage.Group, error) {
	if a == nil || a.groups[id] == nil {
		return nil, storage.ErrNotFound
	}
	return a.groups[id], nil
}

// CreateGroup implements storage.Groups.
func (s *Store) CreateGroup(ctx context.Context, g *storage.Group) error {
	if g == nil || g.App == "" || g.ID == "" {
		return fmt.Errorf("%w: group needs App and ID", storage.ErrInvalid)
	}
	attrs, err := storage.NormalizeAttrs(g.Attrs)
	if err != nil {
		return err
	}
	a, err := s.lock(ctx, g.App, true)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	if a.groups[g.ID] != nil {
		return storage.ErrExists
	}
	if g.CreatedAt.IsZero() {
		g.CreatedAt = s.now()
	}
	if g.UpdatedAt.IsZero() {
		g.UpdatedAt = g.CreatedAt
	}
	c := copyGroup(g)
	c.Attrs = attrs
	c.Members = nil
	for _, p := range g.Members {
		if !slices.Contains(c.Members, p) {
			c.Members = append(c.Members, p)
		}
	}
	a.groups[g.ID] = c
	return nil
}

// Group implements storage.Groups.
func (s *Store) Group(ctx context.Context, app, id string) (*storage.Group, error) {
	a, err := s.lock(ctx, app, false)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	g, err := group(a, id)
	if err != nil {
		return nil, err
	}
	return copyGroup(g), nil
}

// AddMembers implements storage.Groups.
func (s *Store) AddMembers(ctx context.Context, app, id string, peers []string, limit int) ([]string, error) {
	a, err := s.lock(ctx, app, false)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	g, err := group(a, id)
	if err != nil {
		return nil, err
	}
	added, err := g.Add(peers, limit)
	if len(added) > 0 {
		g.UpdatedAt = s.now()
	}
	return added, err
}

// RemoveMembers implements storage.Groups.
func (s *Store) RemoveMembers(ctx context.Context, app, id string, peers []string) ([]string, error) {
	a, err := s.lock(ctx, app, false)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	g, err := group(a, id)
	if err != nil {
		return nil, err
	}
	removed := g.Remove(peers)
	if len(removed) > 0 {
		g.UpdatedAt = s.now()
	}
	return removed, nil
}

// GroupsOf implements storage.Groups.
func (s *Store) GroupsOf(ctx context.Context, app, peer string) ([]string, error) {
	a, err := s.lock(ctx, app, false)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []string
	if a != nil {
		for id, g := range a.groups {
			if slices.Contains(g.Members, peer) {
				out = append(out, id)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// SetAttrs implements storage.GroupAttrs.
func (s *Store) SetAttrs(ctx context.Context, app, id string, attrs map[string]any) (*storage.Group, error) {
	patch, err := storage.NormalizeAttrs(attrs)
	if err != nil {
		return nil, err
	}
	a, err := s.lock(ctx, app, false)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	g, err := group(a, id)
	if err != nil {
		return nil, err
	}
	g.Attrs = maps.Clone(g.Attrs) // earlier copies handed out share the old map
	storage.MergeAttrs(g.Attrs, patch)
	g.UpdatedAt = s.now()
	return copyGroup(g), nil
}

// QueryGroups implements storage.GroupAttrs.
func (s *Store) QueryGroups(ctx context.Context, q storage.GroupQuery) ([]*storage.Group, error) {
	want, err := storage.NormalizeAttrs(q.Attrs)
	if err != nil {
		return nil, err
	}
	a, err := s.lock(ctx, q.App, false)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []*storage.Group
	if a != nil {
		for _, g := range a.groups {
			if (q.Member == "" || slices.Contains(g.Members, q.Member)) && storage.AttrsMatch(g.Attrs, want) {
				out = append(out, g)
			}
		}
	}
	slices.SortFunc(out, func(x, y *storage.Group) int {
		return cmp.Or(x.CreatedAt.Compare(y.CreatedAt), cmp.Compare(x.ID, y.ID))
	})
	out = out[min(len(out), max(q.Skip, 0)):]
	out = out[:min(len(out), q.EffectiveLimit())]
	for i, g := range out {
		out[i] = copyGroup(g)
	}
	return out, nil
}

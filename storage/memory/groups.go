package memory

import (
	"cmp"
	"context"
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

// lockGroup takes s.mu and returns the stored group, or ErrNotFound. On
// error the mutex is not held.
func (s *Store) lockGroup(ctx context.Context, app, id string) (*storage.Group, error) {
	a, err := s.lock(ctx, app, false)
	if err != nil {
		return nil, err
	}
	if a == nil || a.groups[id] == nil {
		s.mu.Unlock()
		return nil, storage.ErrNotFound
	}
	return a.groups[id], nil
}

// CreateGroup implements storage.Groups.
func (s *Store) CreateGroup(ctx context.Context, g *storage.Group) error {
	c, err := storage.PrepareGroup(g, s.now)
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
	a.groups[g.ID] = c
	return nil
}

// Group implements storage.Groups.
func (s *Store) Group(ctx context.Context, app, id string) (*storage.Group, error) {
	g, err := s.lockGroup(ctx, app, id)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	return copyGroup(g), nil
}

// changeMembers applies change (Group.Add or Group.Remove) to the stored
// group and bumps its UpdatedAt if that changed any member.
func (s *Store) changeMembers(ctx context.Context, app, id string, change func(*storage.Group) ([]string, error)) ([]string, error) {
	g, err := s.lockGroup(ctx, app, id)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	changed, err := change(g)
	if len(changed) > 0 {
		g.UpdatedAt = s.now()
	}
	return changed, err
}

// AddMembers implements storage.Groups.
func (s *Store) AddMembers(ctx context.Context, app, id string, peers []string, limit int) ([]string, error) {
	return s.changeMembers(ctx, app, id, func(g *storage.Group) ([]string, error) { return g.Add(peers, limit) })
}

// RemoveMembers implements storage.Groups.
func (s *Store) RemoveMembers(ctx context.Context, app, id string, peers []string) ([]string, error) {
	return s.changeMembers(ctx, app, id, func(g *storage.Group) ([]string, error) { return g.Remove(peers), nil })
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
	g, err := s.lockGroup(ctx, app, id)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
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

package badger

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	bdg "github.com/dgraph-io/badger/v4"

	"github.com/rtgate/rtgate/storage"
)

// getGroup reads one group; storage.ErrNotFound if there is none.
func getGroup(tx *bdg.Txn, app, id string) (*storage.Group, error) {
	item, err := tx.Get(key(tGroup, app, id))
	if errors.Is(err, bdg.ErrKeyNotFound) {
		return nil, storage.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var g *storage.Group
	err = item.Value(func(v []byte) error {
		g, err = decodeGroup(app, id, v)
		return err
	})
	return g, err
}

// putGroup writes g's record.
func putGroup(t *txn, g *storage.Group) error {
	b, err := encodeGroup(g)
	if err != nil {
		return fmt.Errorf("badger: encode group: %w", err)
	}
	return t.set(key(tGroup, g.App, g.ID), b)
}

// orderKey is g's key in the creation-order index.
func orderKey(g *storage.Group) []byte {
	return append(appendTime(key(tGroupOrder, g.App), g.CreatedAt.UnixNano()), g.ID...)
}

// CreateGroup implements storage.Groups.
func (s *Store) CreateGroup(ctx context.Context, g *storage.Group) error {
	c, err := storage.PrepareGroup(g, s.now)
	if err != nil {
		return err
	}
	return s.write(ctx, 2+len(c.Members), true, func(t *txn) error {
		if _, err := getGroup(t.Txn, c.App, c.ID); !errors.Is(err, storage.ErrNotFound) {
			if err == nil {
				err = storage.ErrExists
			}
			return err
		}
		if err := putGroup(t, c); err != nil {
			return err
		}
		if err := t.set(orderKey(c), nil); err != nil {
			return err
		}
		for _, p := range c.Members {
			if err := t.set(key(tMembership, c.App, p, c.ID), nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// Group implements storage.Groups.
func (s *Store) Group(ctx context.Context, app, id string) (g *storage.Group, err error) {
	err = s.read(ctx, func(tx *bdg.Txn) error {
		g, err = getGroup(tx, app, id)
		return err
	})
	return g, err
}

// changeMembers applies change (Group.Add or Group.Remove) to the group
// in a write of up to n peers; if that changed any member, it stores the
// group with a new UpdatedAt and calls mark with the membership key of
// each changed peer.
func (s *Store) changeMembers(ctx context.Context, app, id string, n int,
	change func(*storage.Group) ([]string, error), mark func(t *txn, k []byte) error) ([]string, error) {
	var changed []string
	err := s.write(ctx, 1+n, true, func(t *txn) error {
		changed = nil
		g, err := getGroup(t.Txn, app, id)
		if err != nil {
			return err
		}
		if changed, err = change(g); err != nil || len(changed) == 0 {
			return err
		}
		g.UpdatedAt = s.now()
		if err := putGroup(t, g); err != nil {
			return err
		}
		for _, p := range changed {
			if err := mark(t, key(tMembership, app, p, id)); err != nil {
				return err
			}
		}
		return nil
	})
	return changed, err
}

// AddMembers implements storage.Groups.
func (s *Store) AddMembers(ctx context.Context, app, id string, peers []string, limit int) ([]string, error) {
	return s.changeMembers(ctx, app, id, len(peers),
		func(g *storage.Group) ([]string, error) { return g.Add(peers, limit) },
		func(t *txn, k []byte) error { return t.set(k, nil) })
}

// RemoveMembers implements storage.Groups.
func (s *Store) RemoveMembers(ctx context.Context, app, id string, peers []string) ([]string, error) {
	return s.changeMembers(ctx, app, id, len(peers),
		func(g *storage.Group) ([]string, error) { return g.Remove(peers), nil },
		(*txn).del)
}

// groupsOf lists the ids of the peer's groups, sorted.
func groupsOf(tx *bdg.Txn, app, peer string) []string {
	prefix := key(tMembership, app, peer)
	it := tx.NewIterator(bdg.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var ids []string
	for it.Rewind(); it.Valid(); it.Next() {
		// The group id is a length-prefixed string: decode the length.
		rest := it.Item().Key()[len(prefix):]
		if n, w := uvarint(rest); w > 0 && w+n <= len(rest) {
			ids = append(ids, string(rest[w:w+n]))
		}
	}
	slices.Sort(ids) // key order is by length first
	return ids
}

// GroupsOf implements storage.Groups.
func (s *Store) GroupsOf(ctx context.Context, app, peer string) (ids []string, err error) {
	err = s.read(ctx, func(tx *bdg.Txn) error {
		ids = groupsOf(tx, app, peer)
		return nil
	})
	return ids, err
}

// SetAttrs implements storage.GroupAttrs.
func (s *Store) SetAttrs(ctx context.Context, app, id string, attrs map[string]any) (*storage.Group, error) {
	patch, err := storage.NormalizeAttrs(attrs)
	if err != nil {
		return nil, err
	}
	var g *storage.Group
	err = s.write(ctx, 1, true, func(t *txn) error {
		if g, err = getGroup(t.Txn, app, id); err != nil {
			return err
		}
		storage.MergeAttrs(g.Attrs, patch)
		g.UpdatedAt = s.now()
		return putGroup(t, g)
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// QueryGroups implements storage.GroupAttrs.
func (s *Store) QueryGroups(ctx context.Context, q storage.GroupQuery) ([]*storage.Group, error) {
	want, err := storage.NormalizeAttrs(q.Attrs)
	if err != nil {
		return nil, err
	}
	skip, limit := max(q.Skip, 0), q.EffectiveLimit()
	var out []*storage.Group
	// match counts matching groups and keeps those after skip; it reports
	// whether the page is full.
	match := func(g *storage.Group) bool {
		if !storage.AttrsMatch(g.Attrs, want) {
			return false
		}
		if skip > 0 {
			skip--
			return false
		}
		out = append(out, g)
		return len(out) >= limit
	}
	err = s.read(ctx, func(tx *bdg.Txn) error {
		if q.Member != "" {
			var gs []*storage.Group
			for _, id := range groupsOf(tx, q.App, q.Member) {
				g, err := getGroup(tx, q.App, id)
				if err != nil {
					return err
				}
				gs = append(gs, g)
			}
			slices.SortFunc(gs, func(x, y *storage.Group) int {
				return cmp.Or(x.CreatedAt.Compare(y.CreatedAt), cmp.Compare(x.ID, y.ID))
			})
			for _, g := range gs {
				if match(g) {
					break
				}
			}
			return nil
		}
		prefix := key(tGroupOrder, q.App)
		it := tx.NewIterator(bdg.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			_, id, err := splitTimeID(it.Item().Key(), len(prefix))
			if err != nil {
				return err
			}
			g, err := getGroup(tx, q.App, id)
			if err != nil {
				return err
			}
			if match(g) {
				break
			}
		}
		return nil
	})
	return out, err
}

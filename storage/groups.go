package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Errors of the group store (ErrNotFound also of History.Delete).
var (
	ErrNotFound  = errors.New("storage: not found")
	ErrGroupFull = errors.New("storage: group full")
	ErrExists    = errors.New("storage: already exists")
)

// Group is one group ("room"), the AVOSRealtimeGroups row of the v1 service.
type Group struct {
	App       string
	ID        string   // 24 lowercase hex digits
	Members   []string // m: member peer ids, in join order (empty for open groups)
	Transient bool     // tr: an open group (no member list, transient messages only)
	// Attrs holds the app's own columns (name, owner, ...) as JSON values
	// keyed by column name; never m, tr, objectId, createdAt or updatedAt.
	// Stores return them as encoding/json decodes them (numbers are
	// float64); see NormalizeAttrs.
	Attrs     map[string]any
	CreatedAt time.Time
	UpdatedAt time.Time
}

// PrepareGroup does what every store's CreateGroup does before it looks at
// what is stored: it checks g (App and ID set, else ErrInvalid; Attrs as
// NormalizeAttrs accepts them), sets g's zero CreatedAt to now() and zero
// UpdatedAt to CreatedAt, and returns the record to store: a copy of g
// with normalized Attrs and the members once each, in order.
func PrepareGroup(g *Group, now func() time.Time) (*Group, error) {
	if g == nil || g.App == "" || g.ID == "" {
		return nil, fmt.Errorf("%w: group needs App and ID", ErrInvalid)
	}
	attrs, err := NormalizeAttrs(g.Attrs)
	if err != nil {
		return nil, err
	}
	if g.CreatedAt.IsZero() {
		g.CreatedAt = now()
	}
	if g.UpdatedAt.IsZero() {
		g.UpdatedAt = g.CreatedAt
	}
	c := *g
	c.Attrs, c.Members = attrs, nil
	c.Add(g.Members, 0)
	return &c, nil
}

// Add adds the peers that are not members yet, in order and once each,
// and returns them. If that would take the group over limit members
// (limit <= 0: no limit) it changes nothing and returns ErrGroupFull.
// Every store applies membership changes with Add and Remove.
func (g *Group) Add(peers []string, limit int) ([]string, error) {
	var added []string
	for _, p := range peers {
		if !slices.Contains(g.Members, p) && !slices.Contains(added, p) {
			added = append(added, p)
		}
	}
	if limit > 0 && len(g.Members)+len(added) > limit {
		return nil, ErrGroupFull
	}
	g.Members = append(g.Members, added...)
	return added, nil
}

// Remove removes the peers that are members and returns them.
func (g *Group) Remove(peers []string) []string {
	var removed []string
	for _, p := range peers {
		if slices.Contains(g.Members, p) && !slices.Contains(removed, p) {
			removed = append(removed, p)
		}
	}
	if len(removed) > 0 {
		g.Members = slices.DeleteFunc(g.Members, func(p string) bool { return slices.Contains(removed, p) })
	}
	return removed
}

// Groups stores groups and their membership durably.
type Groups interface {
	// CreateGroup stores a new group; g.ID must be set (else ErrInvalid)
	// and unused (else ErrExists). Duplicate members are dropped. Zero
	// CreatedAt and UpdatedAt are set to the store's clock, in g too.
	CreateGroup(ctx context.Context, g *Group) error
	// Group returns one group, or ErrNotFound.
	Group(ctx context.Context, app, id string) (*Group, error)
	// AddMembers adds peers that are not members yet, keeping at most limit
	// members (limit <= 0: no limit); it returns the peers actually added.
	// If the additions would exceed limit nothing is added and ErrGroupFull
	// is returned. Unknown group: ErrNotFound.
	AddMembers(ctx context.Context, app, id string, peers []string, limit int) (added []string, err error)
	// RemoveMembers removes peers and returns those that were members, in
	// the order given. Unknown group: ErrNotFound.
	RemoveMembers(ctx context.Context, app, id string, peers []string) (removed []string, err error)
	// GroupsOf returns the ids of the groups the peer is a member of,
	// sorted (byte-wise).
	GroupsOf(ctx context.Context, app, peer string) ([]string, error)
}

// GroupQuery selects groups for the REST class API.
type GroupQuery struct {
	App    string
	Member string         // only groups with this member (where={"m": peer}); empty = any
	Attrs  map[string]any // only groups whose app columns equal these values
	Limit  int            // <= 0 means 100; clamped to 1000
	Skip   int
}

// EffectiveLimit returns q.Limit with the default (100) and the clamp
// (1000) applied.
func (q GroupQuery) EffectiveLimit() int {
	return HistoryQuery{Limit: q.Limit}.EffectiveLimit()
}

// GroupAttrs reads and writes the app columns of groups (the REST class API).
type GroupAttrs interface {
	// SetAttrs merges attrs into the group's app columns (a nil value
	// deletes a column) and bumps UpdatedAt. Unknown group: ErrNotFound.
	// Values must be JSON-encodable (else ErrInvalid).
	SetAttrs(ctx context.Context, app, id string, attrs map[string]any) (*Group, error)
	// QueryGroups lists groups, oldest first (CreatedAt, then ID).
	QueryGroups(ctx context.Context, q GroupQuery) ([]*Group, error)
}

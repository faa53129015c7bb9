package jetstream

import (
	"cmp"
	"context"
	cryptorand "crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtgate/rtgate/storage"
)

// maxCASAttempts bounds the read-modify-write retries of one group change
// (each retry means another node changed the group in between); the
// retries back off with jitter, and PersistTimeout bounds them too.
const maxCASAttempts = 1000

// maxGroupsScanned bounds GroupsOf and QueryGroups, which read every group
// of the app through the stream leader.
const maxGroupsScanned = 100_000

// readGroup reads a group and its revision (the stream sequence of its
// value) through the stream leader.
func (s *Store) readGroup(ctx context.Context, app, id string) (*storage.Group, uint64, error) {
	sm, err := s.leaderGet(ctx, "KV_"+s.n.groups, msgGetRequest{LastBySubj: s.n.groupSubject(app, id)})
	if errors.Is(err, errNoMsg) {
		return nil, 0, fmt.Errorf("%w: group %s", storage.ErrNotFound, id)
	}
	if err != nil {
		return nil, 0, err
	}
	g, err := decodeGroup(sm.Data)
	return g, sm.Seq, err
}

// writeGroup stores g if the group's revision is still rev (0: the group
// must not exist). It reports false, with no error, when the revision has
// moved on. A retry of the same write (same revision and value) is
// recognised by its Nats-Msg-Id.
func (s *Store) writeGroup(ctx context.Context, g *storage.Group, rev uint64) (bool, error) {
	data, err := encodeGroup(g)
	if err != nil {
		return false, err
	}
	return s.writeKV(ctx, s.n.groupSubject(g.App, g.ID), data, rev)
}

// writeKV publishes data as the value of a KV subject if its revision is
// still rev (0: no value yet); false, with no error, if it is not. A
// retry of this call's write is recognised by its Nats-Msg-Id, which is
// unique to the call: two callers writing the same value at the same
// revision must not both succeed.
func (s *Store) writeKV(ctx context.Context, subj string, data []byte, rev uint64) (bool, error) {
	return s.publishKV(ctx, subj, data, nonceID(), jetstream.WithExpectLastSequencePerSubject(rev))
}

// putKV publishes data as the value of a KV subject, whatever is there.
func (s *Store) putKV(ctx context.Context, subj string, data []byte) (bool, error) {
	return s.publishKV(ctx, subj, data, nonceID())
}

// nonceID is a Nats-Msg-Id no other write has.
func nonceID() string {
	var b [16]byte
	_, _ = cryptorand.Read(b[:])
	return "kv-" + base64.RawURLEncoding.EncodeToString(b[:])
}

// errCodeDupInProcess is JetStream's "duplicate message id is in process":
// an earlier attempt of the same write is not through yet.
const errCodeDupInProcess = 10158

func (s *Store) publishKV(ctx context.Context, subj string, data []byte, id string, opts ...jetstream.PublishOpt) (bool, error) {
	opts = append(opts, jetstream.WithMsgID(id))
	for {
		actx, cancel := context.WithTimeout(ctx, s.cfg.PublishTimeout)
		_, err := s.js.PublishMsg(actx, &nats.Msg{Subject: subj, Data: data}, opts...)
		cancel()
		var apiErr *jetstream.APIError
		switch {
		case err == nil:
			return true, nil
		case errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant):
			return false, nil
		case ctx.Err() != nil:
			return false, fmt.Errorf("jetstream: write %s: %w", subj, err)
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout), errors.Is(err, nats.ErrNoResponders),
			errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeDupInProcess:
			// No leader yet, or the last attempt still under way: the
			// same Nats-Msg-Id makes a retry safe.
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Millisecond):
			}
			continue
		default:
			return false, fmt.Errorf("jetstream: write %s: %w", subj, err)
		}
	}
}

// groupCtx bounds a group call by PersistTimeout (a write may wait for a
// new stream leader).
func (s *Store) groupCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.PersistTimeout)
}

// CreateGroup stores a new group; ErrExists if the id is taken.
func (s *Store) CreateGroup(ctx context.Context, g *storage.Group) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	rec, err := storage.PrepareGroup(g, s.cfg.Now)
	if err != nil {
		return err
	}
	ctx, cancel := s.groupCtx(ctx)
	defer cancel()
	ok, err := s.writeGroup(ctx, rec, 0)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: group %s", storage.ErrExists, g.ID)
	}
	return nil
}

// Group returns one group, read through the stream leader.
func (s *Store) Group(ctx context.Context, app, id string) (*storage.Group, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	g, _, err := s.readGroup(ctx, app, id)
	return g, err
}

// update applies change to the group by compare-and-swap: read, change,
// write if nobody wrote in between, else again. change reports whether it
// changed anything (nothing is written if not).
func (s *Store) update(ctx context.Context, app, id string, change func(*storage.Group) (bool, error)) (*storage.Group, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := s.groupCtx(ctx)
	defer cancel()
	for attempt := range maxCASAttempts {
		if attempt > 0 {
			// Spread the contenders out: up to 1 ms per attempt so far, at
			// most 50 ms.
			d := time.Duration(rand.Int64N(int64(min(attempt, 50)) * int64(time.Millisecond)))
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("jetstream: group %s: %w", id, ctx.Err())
			case <-time.After(d):
			}
		}
		g, rev, err := s.readGroup(ctx, app, id)
		if err != nil {
			return nil, err
		}
		changed, err := change(g)
		if err != nil || !changed {
			return g, err
		}
		ok, err := s.writeGroup(ctx, g, rev)
		if err != nil {
			return nil, err
		}
		if ok {
			return g, nil
		}
	}
	return nil, fmt.Errorf("jetstream: group %s: changed by others %d times in a row", id, maxCASAttempts)
}

// AddMembers adds the peers that are not members, atomically with the
// limit check: concurrent calls from several nodes never take the group
// over limit.
func (s *Store) AddMembers(ctx context.Context, app, id string, peers []string, limit int) ([]string, error) {
	var added []string
	_, err := s.update(ctx, app, id, func(g *storage.Group) (bool, error) {
		var err error
		added, err = g.Add(peers, limit)
		if len(added) > 0 {
			g.UpdatedAt = s.cfg.Now()
		}
		return len(added) > 0, err
	})
	if err != nil {
		return nil, err
	}
	return added, nil
}

// RemoveMembers removes the peers that are members.
func (s *Store) RemoveMembers(ctx context.Context, app, id string, peers []string) ([]string, error) {
	var removed []string
	_, err := s.update(ctx, app, id, func(g *storage.Group) (bool, error) {
		removed = g.Remove(peers)
		if len(removed) > 0 {
			g.UpdatedAt = s.cfg.Now()
		}
		return len(removed) > 0, nil
	})
	if err != nil {
		return nil, err
	}
	return removed, nil
}

// SetAttrs merges attrs into the group's app columns.
func (s *Store) SetAttrs(ctx context.Context, app, id string, attrs map[string]any) (*storage.Group, error) {
	patch, err := storage.NormalizeAttrs(attrs)
	if err != nil {
		return nil, err
	}
	return s.update(ctx, app, id, func(g *storage.Group) (bool, error) {
		storage.MergeAttrs(g.Attrs, patch)
		g.UpdatedAt = s.cfg.Now()
		return true, nil
	})
}

// groups reads every group of app through the stream leader, oldest
// first (CreatedAt, then ID).
func (s *Store) groups(ctx context.Context, app string) ([]*storage.Group, error) {
	var out []*storage.Group
	err := s.scan(ctx, "KV_"+s.n.groups, s.n.groupsFilter(app), maxGroupsScanned, func(sm *storedMsg) error {
		g, err := decodeGroup(sm.Data)
		if err == nil {
			out = append(out, g)
		}
		return err
	})
	slices.SortFunc(out, func(a, b *storage.Group) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, err
}

// GroupsOf returns the ids of the peer's groups, sorted. It reads every
// group of the app.
func (s *Store) GroupsOf(ctx context.Context, app, peer string) ([]string, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	gs, err := s.groups(ctx, app)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, g := range gs {
		if slices.Contains(g.Members, peer) {
			ids = append(ids, g.ID)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// QueryGroups lists groups, oldest first. It reads every group of the app.
func (s *Store) QueryGroups(ctx context.Context, q storage.GroupQuery) ([]*storage.Group, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	want, err := storage.NormalizeAttrs(q.Attrs)
	if err != nil {
		return nil, err
	}
	gs, err := s.groups(ctx, q.App)
	if err != nil {
		return nil, err
	}
	var out []*storage.Group
	skip, limit := q.Skip, q.EffectiveLimit()
	for _, g := range gs {
		if q.Member != "" && !slices.Contains(g.Members, q.Member) || !storage.AttrsMatch(g.Attrs, want) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		out = append(out, g)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

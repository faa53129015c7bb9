// Package memory is an in-memory storage.Store for tests of other packages:
// it follows the storage contracts (checked by storagetest) but keeps
// nothing across processes and syncs nothing.
//
// Concurrency: a Store is safe for concurrent use; one mutex guards all of
// it, which is fine for tests and wrong for production.
//
// Imports: the standard library and rtgate/storage only.
package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rtgate/rtgate/storage"
)

// Config configures a Store. The zero value is ready to use.
type Config struct {
	Limits storage.Limits   // zero fields mean the storage defaults
	Now    func() time.Time // the clock for inbox expiry and group times; nil means time.Now
}

// Store is an in-memory storage.Store.
type Store struct {
	limits storage.Limits
	now    func() time.Time

	mu     sync.Mutex
	closed bool                // guarded by mu
	apps   map[string]*appData // guarded by mu
}

var _ storage.Store = (*Store)(nil)

// appData is the state of one app.
type appData struct {
	msgs   map[string]*storage.Message // history by message id; owned copies
	inbox  map[string][]entry          // per peer, sorted by (t, id)
	groups map[string]*storage.Group   // by group id; owned copies
}

// entry is one inbox entry: a reference to a history message.
type entry struct {
	t  int64
	id string
}

func (a entry) cmp(b entry) int {
	return cmp.Or(cmp.Compare(a.t, b.t), cmp.Compare(a.id, b.id))
}

// New returns an empty store.
func New(cfg Config) *Store {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Store{limits: cfg.Limits.WithDefaults(), now: cfg.Now, apps: map[string]*appData{}}
}

// Close makes every later call fail with storage.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

// lock takes s.mu and returns the app's data (created when create is
// true, else possibly nil). On error the mutex is not held.
func (s *Store) lock(ctx context.Context, app string, create bool) (*appData, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, storage.ErrClosed
	}
	a := s.apps[app]
	if a == nil && create {
		a = &appData{msgs: map[string]*storage.Message{}, inbox: map[string][]entry{}, groups: map[string]*storage.Group{}}
		s.apps[app] = a
	}
	return a, nil
}

// Persist implements storage.Messages.
func (s *Store) Persist(ctx context.Context, m *storage.Message, inbox []string) error {
	if m == nil || m.App == "" || m.ID == "" {
		return fmt.Errorf("%w: message needs App and ID", storage.ErrInvalid)
	}
	a, err := s.lock(ctx, m.App, true)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	a.msgs[m.ID] = m.Clone()
	e := entry{m.Time, m.ID}
	cutoff := s.cutoff()
	for _, peer := range inbox {
		es := slices.DeleteFunc(a.inbox[peer], func(x entry) bool { return x.id == m.ID || x.t <= cutoff })
		i, _ := slices.BinarySearchFunc(es, e, entry.cmp)
		es = slices.Insert(es, i, e)
		if over := len(es) - s.limits.InboxSize; over > 0 {
			es = slices.Delete(es, 0, over)
		}
		a.inbox[peer] = es
	}
	return nil
}

// cutoff returns the Time at or below which inbox messages have expired.
func (s *Store) cutoff() int64 {
	return s.now().Add(-s.limits.InboxTTL).UnixMilli()
}

// pending returns the peer's pending messages, oldest first (not copies).
// s.mu must be held.
func (s *Store) pending(a *appData, peer string) []*storage.Message {
	if a == nil {
		return nil
	}
	cutoff := s.cutoff()
	var out []*storage.Message
	es := a.inbox[peer]
	for i := len(es) - 1; i >= 0 && len(out) < s.limits.InboxSize; i-- {
		if es[i].t <= cutoff {
			break
		}
		if m := a.msgs[es[i].id]; m != nil && m.Time == es[i].t {
			out = append(out, m)
		}
	}
	slices.Reverse(out)
	return out
}

// Pending implements storage.Inbox.
func (s *Store) Pending(ctx context.Context, app, peer string) ([]*storage.Message, error) {
	a, err := s.lock(ctx, app, false)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []*storage.Message
	for _, m := range s.pending(a, peer) {
		out = append(out, m.Clone())
	}
	return out, nil
}

// Remove implements storage.Inbox.
func (s *Store) Remove(ctx context.Context, app, peer string, ids []string) ([]*storage.Message, error) {
	a, err := s.lock(ctx, app, false)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []*storage.Message
	for _, m := range s.pending(a, peer) {
		if slices.Contains(ids, m.ID) {
			out = append(out, m.Clone())
		}
	}
	if a != nil {
		a.inbox[peer] = slices.DeleteFunc(a.inbox[peer], func(e entry) bool { return slices.Contains(ids, e.id) })
	}
	return out, nil
}

// Count implements storage.Inbox.
func (s *Store) Count(ctx context.Context, app, peer string, direct bool) (int, error) {
	a, err := s.lock(ctx, app, false)
	if err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.pending(a, peer) {
		if !direct || m.Room == "" {
			n++
		}
	}
	return n, nil
}

// Query implements storage.History.
func (s *Store) Query(ctx context.Context, q storage.HistoryQuery) ([]*storage.Message, error) {
	a, err := s.lock(ctx, q.App, false)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if a == nil {
		return nil, nil
	}
	var out []*storage.Message
	for _, m := range a.msgs {
		if (q.ConvID == "" || m.ConvID == q.ConvID) && (q.From == "" || m.From == q.From) && q.Admits(m.Time, m.ID) {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(x, y *storage.Message) int { return entry{y.Time, y.ID}.cmp(entry{x.Time, x.ID}) })
	out = out[:min(len(out), q.EffectiveLimit())]
	for i, m := range out {
		out[i] = m.Clone()
	}
	return out, nil
}

// Delete implements storage.History.
func (s *Store) Delete(ctx context.Context, app, convID, msgID string, ts int64) error {
	a, err := s.lock(ctx, app, false)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	if a == nil {
		return storage.ErrNotFound
	}
	m := a.msgs[msgID]
	if m == nil || m.ConvID != convID || m.Time != ts {
		return storage.ErrNotFound
	}
	delete(a.msgs, msgID)
	return nil
}

package badger

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	bdg "github.com/dgraph-io/badger/v4"

	"github.com/rtgate/rtgate/storage"
)

// Persist implements storage.Messages.
func (s *Store) Persist(ctx context.Context, m *storage.Message, inbox []string) error {
	return s.PersistOffline(ctx, m, inbox, nil)
}

var _ storage.OfflineHinter = (*Store)(nil)

// PersistOffline implements storage.OfflineHinter: the inbox entries of
// the offline peers are written with the message, not delayed.
func (s *Store) PersistOffline(ctx context.Context, m *storage.Message, inbox, offline []string) error {
	if m == nil || m.App == "" || m.ID == "" {
		return fmt.Errorf("%w: message needs App and ID", storage.ErrInvalid)
	}
	peers, mayDelay, delayed := inboxPeers(inbox, offline)
	conv, from := keyString(tConv, m.App, m.ConvID), keyString(tFrom, m.App, m.From)
	var own *storage.Message // for Remove, while delayed entries are in memory
	if len(delayed) > 0 {
		own = m.Clone()
	}
	// The record key, then the record, in one recycled buffer.
	buf := persistBufs.Get().(*[]byte)
	b := append(appendTime(appendKey((*buf)[:0], tMessage, m.App), m.Time), m.ID...)
	recordKey := b[:len(b):len(b)]
	b, n, err := appendRecord(b, m, delayed, s.inboxDelay > 0)
	if err != nil {
		return fmt.Errorf("badger: encode message: %w", err)
	}
	record := b[len(recordKey):]
	defer func() {
		if cap(b) <= maxPooledBuf {
			*buf = b[:0]
			persistBufs.Put(buf)
		}
	}()
	return s.write(ctx, 3+2*len(peers), true, func(t *txn) error {
		// Delay the history index entries (index.go) and the inbox
		// entries (lazy.go) if m is not too old.
		delay := s.lazyOK(m.Time)
		lazy := len(delayed) > 0 && delay
		var seq uint64
		if delay {
			seq = t.nextSeq()
		}
		body := sealRecord(record, n, delay, seq, m.ClientID != "")
		if err := t.set(recordKey, body); err != nil {
			return err
		}
		t.maxTime = max(t.maxTime, m.Time)
		if delay {
			t.idxAdds = append(t.idxAdds, idxRef{conv: conv, from: from, ts: m.Time, id: m.ID, seq: seq})
		} else {
			for _, p := range [2]string{conv, from} {
				if err := t.set(timeID([]byte(p), m.Time, m.ID), nil); err != nil {
					return err
				}
			}
		}
		cutoff := s.cutoff()
		for i, p := range peers {
			prefix := key(tInbox, m.App, p)
			x, err := t.inbox(prefix)
			if err != nil {
				return err
			}
			e := inboxEntry{ts: m.Time, id: m.ID}
			delay := lazy && mayDelay[i]
			if delay {
				e.lazy, e.msg = true, own
			}
			x.insert(e)
			if delay {
				t.lazyAdds = append(t.lazyAdds, lazyRef{prefix: x.prefix, ts: m.Time, id: m.ID, seq: seq})
			} else if err := t.setEntry(s.inboxEntry(prefix, m.Time, m.ID)); err != nil {
				return err
			}
			if err := s.trimInbox(t, prefix, x, cutoff); err != nil {
				return err
			}
		}
		return nil
	})
}

// inboxPeers returns inbox without duplicates, whether each may have its
// entry delayed (it is not in offline), and those that may. Sets, not
// scans, for groups: a message to 1000 members must not cost a million
// comparisons.
func inboxPeers(inbox, offline []string) (peers []string, mayDelay []bool, delayed []string) {
	if len(inbox) == 1 { // a direct message to one peer: no sets
		if slices.Contains(offline, inbox[0]) {
			return inbox, []bool{false}, nil
		}
		return inbox, []bool{true}, inbox
	}
	peers = make([]string, 0, len(inbox))
	mayDelay = make([]bool, 0, len(inbox))
	seen := make(map[string]bool, len(inbox))
	off := make(map[string]bool, len(offline))
	for _, p := range offline {
		off[p] = true
	}
	for _, p := range inbox {
		if seen[p] {
			continue
		}
		seen[p] = true
		peers = append(peers, p)
		mayDelay = append(mayDelay, !off[p])
		if !off[p] {
			delayed = append(delayed, p)
		}
	}
	return peers, mayDelay, delayed
}

// cutoff returns the Time at or below which inbox messages have expired.
func (s *Store) cutoff() int64 {
	return s.now().Add(-s.limits.InboxTTL).UnixMilli()
}

// trimInbox deletes the entries of inbox x (under prefix) that have
// expired and the oldest beyond the size limit.
func (s *Store) trimInbox(t *txn, prefix []byte, x *inboxIndex, cutoff int64) error {
	drop := max(len(x.ents)-s.limits.InboxSize, 0)
	n := 0
	for n < len(x.ents) && (n < drop || x.ents[n].ts <= cutoff) {
		if !x.ents[n].lazy {
			if err := t.del(timeID(prefix, x.ents[n].ts, x.ents[n].id)); err != nil {
				return err
			}
		}
		n++
	}
	if n > 0 {
		x.ents = slices.Delete(x.ents, 0, n)
	}
	return nil
}

// getMessage reads the message record app/ts/id; nil if there is none.
func getMessage(tx *bdg.Txn, app string, ts int64, id string) (*storage.Message, error) {
	item, err := tx.Get(messageKey(app, ts, id))
	if errors.Is(err, bdg.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m *storage.Message
	err = item.Value(func(v []byte) error {
		m, err = decodeMessage(app, id, v)
		return err
	})
	return m, err
}

// pending returns the pending messages of the inbox under prefix, oldest
// first: its entries ents (sorted), read from tx.
func (s *Store) pending(tx *bdg.Txn, app string, ents []inboxEntry) ([]*storage.Message, error) {
	cutoff := s.cutoff()
	var out []*storage.Message
	for i := len(ents) - 1; i >= 0 && len(out) < s.limits.InboxSize; i-- {
		if ents[i].ts <= cutoff {
			break
		}
		m, err := getMessage(tx, app, ents[i].ts, ents[i].id)
		if err != nil {
			return nil, err
		}
		if m != nil {
			out = append(out, m)
		}
	}
	slices.Reverse(out)
	return out, nil
}

// Pending implements storage.Inbox. It reads the inbox's lazy entries
// before its keys, so an entry being written meanwhile is in one or both.
func (s *Store) Pending(ctx context.Context, app, peer string) (ms []*storage.Message, err error) {
	prefix := key(tInbox, app, peer)
	ents := s.inbox.snapshot(string(prefix))
	err = s.read(ctx, func(tx *bdg.Txn) error {
		ents, err := loadInbox(tx, prefix, ents)
		if err != nil {
			return err
		}
		ms, err = s.pending(tx, app, ents)
		return err
	})
	return ms, err
}

// Count implements storage.Inbox.
func (s *Store) Count(ctx context.Context, app, peer string, direct bool) (int, error) {
	ms, err := s.Pending(ctx, app, peer)
	n := 0
	for _, m := range ms {
		if !direct || m.Room == "" {
			n++
		}
	}
	return n, err
}

// Remove implements storage.Inbox. The removal is committed but not
// synced before Remove returns (see the package doc).
func (s *Store) Remove(ctx context.Context, app, peer string, ids []string) ([]*storage.Message, error) {
	if removed, ok, err := s.removeLazy(ctx, app, peer, ids); ok || err != nil {
		return removed, err
	}
	var removed []*storage.Message
	err := s.write(ctx, len(ids), false, func(t *txn) error {
		removed = nil
		prefix := key(tInbox, app, peer)
		x, err := t.inbox(prefix)
		if err != nil {
			return err
		}
		// What Pending would return: the newest InboxSize entries that
		// have not expired (and whose message is still there).
		cutoff := s.cutoff()
		first := max(len(x.ents)-s.limits.InboxSize, 0)
		hit := false
		for i, e := range x.ents {
			if !slices.Contains(ids, e.id) {
				continue
			}
			hit = true
			if i < first || e.ts <= cutoff {
				continue
			}
			var m *storage.Message
			if e.msg != nil {
				m = e.msg // the store's own copy, which nothing modifies
			} else {
				var err error
				if m, err = getMessage(t.Txn, app, e.ts, e.id); err != nil {
					return err
				}
			}
			if m != nil && m.Time == e.ts {
				removed = append(removed, m)
			}
		}
		if !hit {
			return nil
		}
		kept := x.ents[:0] // x.ents is this transaction's own copy
		for _, e := range x.ents {
			if !slices.Contains(ids, e.id) {
				kept = append(kept, e)
				continue
			}
			if e.lazy {
				continue // in memory only: dropping it is all
			}
			if err := t.del(timeID(prefix, e.ts, e.id)); err != nil {
				return err
			}
		}
		clear(x.ents[len(kept):])
		x.ents = kept
		return nil
	})
	return removed, err
}

// Query implements storage.History.
func (s *Store) Query(ctx context.Context, q storage.HistoryQuery) (ms []*storage.Message, err error) {
	var prefix []byte
	switch {
	case q.ConvID != "":
		prefix = key(tConv, q.App, q.ConvID)
	case q.From != "":
		prefix = key(tFrom, q.App, q.From)
	default: // the records themselves
		return s.queryRecords(ctx, q)
	}
	// The entries in memory, read before the keys: an entry written
	// meanwhile is in one or both (index.go).
	var merge indexMerge
	merge.add(slices.DeleteFunc(s.index.pending(prefix), func(e idxEntry) bool { return !q.Admits(e.ts, e.id) }))
	// Reverse iteration starts at the greatest key <= seek. A group's key
	// is its newest entry, and its others are at most indexSpan older.
	seek := afterPrefix(prefix)
	if bound, ok := timeBound(q); ok && bound < math.MaxInt64-indexSpan {
		seek = timeID(prefix, bound+indexSpan+1, "")
	}
	limit := q.EffectiveLimit()
	err = s.read(ctx, func(tx *bdg.Txn) error {
		emit := func(k idxEntry, final bool) error {
			for len(ms) < limit {
				e, ok := merge.next(k, final)
				if !ok {
					return nil
				}
				m, err := getMessage(tx, q.App, e.ts, e.id)
				if err != nil {
					return err
				}
				if m == nil || q.ConvID != "" && m.ConvID != q.ConvID || q.From != "" && m.From != q.From {
					continue // a stale index entry, or filtered out
				}
				ms = append(ms, m)
			}
			return nil
		}
		it := tx.NewIterator(bdg.IteratorOptions{Prefix: prefix, Reverse: true})
		defer it.Close()
		var group []idxEntry
		for it.Seek(seek); it.Valid() && len(ms) < limit; it.Next() {
			item := it.Item()
			ts, id, err := splitTimeID(item.Key(), len(prefix))
			if err != nil {
				return err
			}
			k := idxEntry{ts: ts, id: id}
			if err := emit(k, false); err != nil {
				return err
			}
			group = append(group[:0], k)
			if err := item.Value(func(v []byte) (err error) {
				group, err = decodeBatch(group, v, ts)
				return err
			}); err != nil {
				return err
			}
			merge.add(slices.DeleteFunc(group, func(e idxEntry) bool { return !q.Admits(e.ts, e.id) }))
		}
		return emit(idxEntry{}, true)
	})
	return ms, err
}

// timeBound returns the newest Time q admits, if q bounds it.
func timeBound(q storage.HistoryQuery) (bound int64, ok bool) {
	bound = math.MaxInt64
	if q.Before != 0 {
		bound = q.Before
	}
	if q.AtOrBefore != 0 {
		bound = min(bound, q.AtOrBefore)
	}
	return bound, bound != math.MaxInt64
}

// queryRecords answers q, which has no filter, from the message records.
func (s *Store) queryRecords(ctx context.Context, q storage.HistoryQuery) (ms []*storage.Message, err error) {
	prefix := key(tMessage, q.App)
	// Reverse iteration starts at the greatest key <= seek.
	seek := afterPrefix(prefix)
	if q.Before != 0 {
		seek = timeID(prefix, q.Before, q.BeforeID)
	}
	if q.AtOrBefore != 0 && q.AtOrBefore != math.MaxInt64 && (q.Before == 0 || q.AtOrBefore < q.Before) {
		seek = timeID(prefix, q.AtOrBefore+1, "")
	}
	limit := q.EffectiveLimit()
	err = s.read(ctx, func(tx *bdg.Txn) error {
		it := tx.NewIterator(bdg.IteratorOptions{Prefix: prefix, Reverse: true})
		defer it.Close()
		for it.Seek(seek); it.Valid() && len(ms) < limit; it.Next() {
			item := it.Item()
			ts, id, err := splitTimeID(item.Key(), len(prefix))
			if err != nil {
				return err
			}
			if !q.Admits(ts, id) {
				continue
			}
			var m *storage.Message
			err = item.Value(func(v []byte) error {
				m, err = decodeMessage(q.App, id, v)
				return err
			})
			if err != nil {
				return err
			}
			ms = append(ms, m)
		}
		return nil
	})
	return ms, err
}

// Delete implements storage.History.
func (s *Store) Delete(ctx context.Context, app, convID, msgID string, ts int64) error {
	return s.write(ctx, 3, true, func(t *txn) error {
		m, err := getMessage(t.Txn, app, ts, msgID)
		if err != nil {
			return err
		}
		if m == nil || m.ConvID != convID {
			return storage.ErrNotFound
		}
		if err := s.forgetLazy(t, app, msgID, ts); err != nil {
			return err
		}
		keys := messageKeys(m) // m has App app, ID msgID and Time ts
		if err := t.del(keys[0]); err != nil {
			return err
		}
		// An index key with a value is a group of entries (index.go):
		// it stays, and Query skips this one.
		for _, k := range keys[1:] {
			item, err := t.Get(k)
			if errors.Is(err, bdg.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if item.ValueSize() > 0 {
				continue
			}
			if err := t.del(k); err != nil {
				return err
			}
		}
		return nil
	})
}

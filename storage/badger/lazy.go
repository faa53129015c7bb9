package badger

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	bdg "github.com/dgraph-io/badger/v4"

	"github.com/rtgate/rtgate/storage"
)

// Delayed inbox entries.
//
// Most persistent messages are acknowledged (Remove) moments after they
// are persisted. Writing their inbox entry and then its deletion would
// cost two of the five keys such a message writes. Instead, Persist
// writes the message record durably with the list of its inbox peers and a
// sequence number, and keeps the inbox entries in memory only (the inbox
// cache, pinned there, marked lazy). An acknowledgement within
// Config.InboxDelay drops the entry from memory, without a trip to the
// committer (removeLazy); the committer writes the entries that are still
// pending after that delay, together with a
// checkpoint: the lowest sequence number whose entries are not all written
// yet, the next sequence number and the earliest time such a record can
// have. After a crash, New replays the records from the checkpoint on
// (those of sequence number >= its first), recreating their inbox entries;
// after a clean Close (its checkpoint is marked clean) there is nothing to
// replay.
// A record persisted with a time much older than the newest one seen
// (beyond lazyMargin) gets its inbox entries written at once, so that the
// replay never has to look far back; so do the entries of peers the
// caller says are offline (PersistOffline), as no acknowledgement is
// coming soon.

const (
	defaultInboxDelay = time.Second
	lazyMargin        = int64(10 * time.Second / time.Millisecond)
)

var checkpointKey = []byte{tFormat, 'i'}

// lazyRef is an inbox entry kept in memory only, in commit order.
type lazyRef struct {
	prefix string // the inbox's key prefix
	ts     int64
	id     string
	seq    uint64    // its record's sequence number
	at     time.Time // when it was committed
}

// checkpoint is the durable state of the delayed inbox entries.
type checkpoint struct {
	first    uint64 // records of seq >= first may have unwritten inbox entries
	next     uint64 // the next sequence number to give out
	scanFrom int64  // no such record has a Time before scanFrom
	// clean: written by Close with every entry written, so New need not
	// look for any. New overwrites it before anything is persisted.
	clean bool
}

func (c checkpoint) encode() []byte {
	b := binary.AppendUvarint(nil, c.first)
	b = binary.AppendUvarint(b, c.next)
	b = binary.AppendVarint(b, c.scanFrom)
	if c.clean {
		b = append(b, 1)
	}
	return b
}

func decodeCheckpoint(b []byte) (checkpoint, error) {
	var c checkpoint
	var w1, w2, w3 int
	c.first, w1 = binary.Uvarint(b)
	if w1 > 0 {
		c.next, w2 = binary.Uvarint(b[w1:])
	}
	if w2 > 0 {
		c.scanFrom, w3 = binary.Varint(b[w1+w2:])
	}
	if w1 <= 0 || w2 <= 0 || w3 <= 0 {
		return c, fmt.Errorf("badger: bad inbox checkpoint %x", b)
	}
	c.clean = len(b) > w1+w2+w3 && b[w1+w2+w3] == 1
	return c, nil
}

// closeLazy writes the delayed inbox entries and a clean checkpoint; the
// committer calls it when it stops.
func (s *Store) closeLazy() {
	s.flushIndex(time.Time{}, true)
	s.flushLazy(time.Time{}, true)
	if len(s.lazyQ) > 0 || len(s.idxQ) > 0 {
		return // not all written: the next New replays
	}
	c := checkpoint{first: s.seq, next: s.seq, scanFrom: s.maxTime - lazyMargin, clean: true}
	err := s.db.Update(func(tx *bdg.Txn) error { return tx.Set(checkpointKey, c.encode()) })
	if err != nil {
		s.log.Warn("badger: writing the clean checkpoint failed; the next start replays", "err", err)
	}
}

// lazyOK reports whether a message of time ts may have its inbox entries
// delayed.
func (s *Store) lazyOK(ts int64) bool {
	return s.inboxDelay > 0 && ts >= s.maxTime-lazyMargin
}

// checkpointNow returns the checkpoint once the first n refs of s.lazyQ
// are written (and none of s.idxQ).
func (s *Store) checkpointNow(n int) checkpoint {
	c := checkpoint{first: s.seq, next: s.seq, scanFrom: s.maxTime - lazyMargin}
	for _, r := range s.lazyQ[n:] {
		c.first = min(c.first, r.seq)
		c.scanFrom = min(c.scanFrom, r.ts)
	}
	for _, r := range s.idxQ {
		c.first = min(c.first, r.seq)
		c.scanFrom = min(c.scanFrom, r.ts)
	}
	return c
}

// flushChunk bounds the delayed entries written in one transaction:
// badger refuses a transaction beyond 15 % of the memtable (about 1 500
// inbox entries with a 1 MiB memtable).
const flushChunk = 512

// flushLazy writes the delayed inbox entries committed before now minus
// Config.InboxDelay (all of them if all), and the checkpoint, a chunk per
// transaction. The committer calls it.
func (s *Store) flushLazy(now time.Time, all bool) {
	for {
		n := 0
		for n < len(s.lazyQ) && n < flushChunk && (all || now.Sub(s.lazyQ[n].at) >= s.inboxDelay) {
			n++
		}
		if n == 0 || !s.flushRefs(n) {
			return
		}
	}
}

// flushRefs writes the first n delayed entries of s.lazyQ and the
// checkpoint after them; false if that failed (they stay queued).
func (s *Store) flushRefs(n int) bool {
	cp := s.checkpointNow(n)
	// Most were acknowledged (or trimmed) meanwhile: skip those without
	// loading their inboxes. The others are marked flushing in s.lazy, so
	// that an acknowledgement from now on leaves them to Remove's
	// committer path, which comes after this write and deletes what it
	// wrote.
	var refs []lazyRef
	s.lazyMu.Lock()
	for _, r := range s.lazyQ[:n] {
		ents := s.lazy[r.prefix]
		if i, ok := slices.BinarySearchFunc(ents, inboxEntry{ts: r.ts, id: r.id}, compareEntries); ok && ents[i].lazy {
			ents[i].flushing = true
			refs = append(refs, r)
		}
	}
	s.lazyMu.Unlock()
	written := 0
	o := &op{cost: len(refs) + 1, fn: func(t *txn) error {
		written = 0
		for _, r := range refs {
			x, err := t.inbox([]byte(r.prefix))
			if err != nil {
				return err
			}
			i, ok := x.find(r.ts, r.id)
			if !ok || !x.ents[i].lazy {
				continue // acknowledged or trimmed meanwhile
			}
			x.ents[i].lazy, x.ents[i].msg = false, nil
			if err := t.setEntry(s.inboxEntry([]byte(r.prefix), r.ts, r.id)); err != nil {
				return err
			}
			written++
		}
		return t.set(checkpointKey, cp.encode())
	}}
	s.gcMu.Lock()
	s.commit([]*op{o})
	s.gcMu.Unlock()
	if o.err != nil {
		s.log.Warn("badger: writing delayed inbox entries failed; will retry", "entries", n, "err", o.err)
		return false
	}
	m := copy(s.lazyQ, s.lazyQ[n:])
	clear(s.lazyQ[m:])
	s.lazyQ = s.lazyQ[:m]
	s.delayed.Store(int64(len(s.lazyQ)))
	s.inboxWrites.Add(uint64(written))
	return true
}

// removeLazy is Remove's fast path, for the common acknowledgement: every
// id names a lazy entry of the inbox (in memory only, its message in
// hand). Such a removal writes nothing, so it needs no transaction and no
// trip to the committer: it drops the entries from s.lazy, which readers
// and the flush of delayed entries go by, and notes them in s.acks, which
// the committer applies to the inbox key sets it keeps (ackedOut). ok is
// false, with nothing done, when any id is not such an entry; Remove then
// takes the committer's path.
func (s *Store) removeLazy(ctx context.Context, app, peer string, ids []string) (removed []*storage.Message, ok bool, err error) {
	if s.inboxDelay <= 0 || len(ids) == 0 {
		return nil, false, nil
	}
	if err := s.enter(ctx); err != nil {
		return nil, false, err
	}
	defer s.mu.RUnlock()
	var buf [64]byte
	prefix := appendKey(buf[:0], tInbox, app, peer)
	cutoff := s.cutoff()
	s.lazyMu.Lock()
	defer s.lazyMu.Unlock()
	ents := s.lazy[string(prefix)]
	for _, id := range ids {
		i := slices.IndexFunc(ents, func(e inboxEntry) bool { return e.id == id })
		if i < 0 || ents[i].msg == nil || ents[i].flushing || ents[i].ts <= cutoff {
			return nil, false, nil
		}
	}
	acks := s.acks[string(prefix)]
	kept := ents[:0] // in place: readers copy s.lazy under lazyMu
	for _, e := range ents {
		if !slices.Contains(ids, e.id) {
			kept = append(kept, e)
			continue
		}
		removed = append(removed, e.msg) // oldest first, as ents are sorted
		acks = append(acks, inboxEntry{ts: e.ts, id: e.id})
	}
	clear(ents[len(kept):])
	s.acks[string(prefix)] = acks
	if len(kept) == 0 {
		delete(s.lazy, string(prefix))
	} else {
		s.lazy[string(prefix)] = kept
	}
	return removed, true, nil
}

// ackedOut drops from ents (a transaction's own copy of the inbox under
// prefix) the entries removeLazy has removed. Hold lazyMu.
func (s *Store) ackedOut(prefix string, ents []inboxEntry) []inboxEntry {
	acked := s.acks[prefix]
	if len(acked) == 0 {
		return ents
	}
	return slices.DeleteFunc(ents, func(e inboxEntry) bool {
		return e.lazy && slices.ContainsFunc(acked, func(a inboxEntry) bool { return a.ts == e.ts && a.id == e.id })
	})
}

// applyAcks applies the removals of removeLazy still pending to the inbox
// cache, and forgets them. The committer calls it, holding lazyMu.
func (s *Store) applyAcks() {
	for p := range s.acks {
		if ents, ok := s.inboxCache.get(p); ok {
			s.inboxCache.put(p, s.ackedOut(p, slices.Clone(ents)))
		}
		delete(s.acks, p)
	}
}

// inboxEntry returns the badger entry of an inbox entry; its TTL (from
// the wall clock) only lets badger drop old entries: what is pending is
// decided by s.now.
func (s *Store) inboxEntry(prefix []byte, ts int64, id string) *bdg.Entry {
	return bdg.NewEntry(timeID(prefix, ts, id), nil).WithTTL(s.limits.InboxTTL)
}

// replayLazy recreates, after a crash, the inbox entries and history index
// entries (index.go) that were only in memory: those of the records from
// the checkpoint on. It runs in New,
// before the committer starts, and sets s.seq and s.maxTime.
func (s *Store) replayLazy() error {
	var cp checkpoint
	found := false
	err := s.db.View(func(tx *bdg.Txn) error {
		item, err := tx.Get(checkpointKey)
		if err == bdg.ErrKeyNotFound {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return item.Value(func(v []byte) (err error) {
			cp, err = decodeCheckpoint(v)
			return err
		})
	})
	if err != nil {
		return err
	}
	s.seq, s.maxTime = 1, s.now().UnixMilli()
	if !found || cp.clean {
		// A new database, one from before delayed entries, or one closed
		// cleanly: every inbox entry is written. Start (or resume) the
		// checkpoints, no longer clean.
		if found {
			s.seq, s.maxTime = max(cp.next, 1), max(s.maxTime, cp.scanFrom+lazyMargin)
		}
		c := checkpoint{first: s.seq, next: s.seq, scanFrom: s.maxTime - lazyMargin}
		err := s.db.Update(func(tx *bdg.Txn) error { return tx.Set(checkpointKey, c.encode()) })
		if err == nil {
			err = s.db.Sync()
		}
		return err
	}
	s.seq = max(cp.next, 1)
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	records, entries, indexed := 0, 0, 0
	cutoff := s.cutoff()
	err = s.db.View(func(tx *bdg.Txn) error {
		return recordsSince(tx, cp.scanFrom, func(app, id string, v []byte) error {
			var r msgRecord
			if err := decodeRecord(v, &r); err != nil {
				return err
			}
			s.maxTime = max(s.maxTime, r.Time)
			if r.Seq < cp.first || r.Seq == 0 {
				return nil
			}
			s.seq = max(s.seq, r.Seq+1)
			records++
			n, err := recreateIndex(tx, wb, app, r.ConvID, r.From, r.Time, id)
			if err != nil {
				return err
			}
			indexed += n
			if r.Time <= cutoff {
				return nil
			}
			for _, p := range r.Inbox {
				if err := wb.SetEntry(s.inboxEntry(key(tInbox, app, p), r.Time, id)); err != nil {
					return err
				}
				entries++
			}
			return nil
		})
	})
	if err == nil {
		c := checkpoint{first: s.seq, next: s.seq, scanFrom: s.maxTime - lazyMargin}
		err = wb.Set(checkpointKey, c.encode())
	}
	if err == nil {
		err = wb.Flush()
	}
	if err == nil {
		err = s.db.Sync()
	}
	if err != nil {
		return fmt.Errorf("badger: replay delayed inbox and history index entries: %w", err)
	}
	if records > 0 {
		s.log.Info("badger: recreated delayed inbox and history index entries after an unclean stop",
			"messages", records, "entries", entries, "index_entries", indexed)
	}
	return nil
}

// recordsSince calls fn with the app, id and value of every message record
// in tx with a time at or after since, app by app in time order. The
// value is valid only during the call.
func recordsSince(tx *bdg.Txn, since int64, fn func(app, id string, v []byte) error) error {
	it := tx.NewIterator(bdg.IteratorOptions{Prefix: []byte{tMessage}})
	defer it.Close()
	for it.Rewind(); it.Valid(); {
		k := it.Item().Key()
		n, w := uvarint(k[1:])
		if w == 0 {
			return fmt.Errorf("badger: bad message key %x", k)
		}
		app := string(k[1+w : 1+w+n])
		prefix := key(tMessage, app)
		for it.Seek(appendTime(prefix, since)); it.ValidForPrefix(prefix); it.Next() {
			item := it.Item()
			_, id, err := splitTimeID(item.Key(), len(prefix))
			if err != nil {
				return err
			}
			if err := item.Value(func(v []byte) error { return fn(app, id, v) }); err != nil {
				return err
			}
		}
		it.Seek(afterPrefix(prefix))
	}
	return nil
}

// forgetLazy drops the message app/id/ts (being deleted) from the lazy
// entries that hold it, so that Remove reads its record (finds none)
// instead.
func (s *Store) forgetLazy(t *txn, app, id string, ts int64) error {
	item, err := t.Get(messageKey(app, ts, id))
	if err != nil {
		return err
	}
	var r msgRecord
	if err := item.Value(func(v []byte) error { return decodeRecord(v, &r) }); err != nil {
		return err
	}
	for _, p := range r.Inbox {
		x, err := t.inbox(key(tInbox, app, p))
		if err != nil {
			return err
		}
		if i, ok := x.find(ts, id); ok {
			x.ents[i].msg = nil
		}
	}
	return nil
}

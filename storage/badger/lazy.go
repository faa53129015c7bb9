package badger

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
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

// delayedInbox holds the inbox entries kept in memory only. The committer
// adds them (queue, publish) and writes them out (flushLazy); Remove's fast
// path (removeLazy) drops acknowledged ones, and readers (Pending) copy
// them, under mu. q is owned by the committer goroutine.
type delayedInbox struct {
	q       []lazyRef     // the lazy entries in commit order; committer only
	pending atomic.Int64  // len(q), for Stats
	writes  atomic.Uint64 // delayed entries written (still pending after the delay)

	mu sync.Mutex // guards lazy and acks, and the entries they hold
	// lazy holds, by inbox prefix, the lazy entries of that inbox
	// (sorted), for readers and removeLazy.
	lazy map[string][]inboxEntry
	// acks holds, by inbox prefix, the lazy entries removeLazy removed
	// that the committer has not yet dropped from its inbox key sets.
	acks map[string][]inboxEntry
}

// queue appends the lazy entries a transaction committed at now to q.
// The committer calls it.
func (d *delayedInbox) queue(refs []lazyRef, now time.Time) {
	for _, r := range refs {
		r.at = now
		d.q = append(d.q, r)
	}
	d.pending.Store(int64(len(d.q)))
}

// dequeue drops the first n refs of q. The committer calls it.
func (d *delayedInbox) dequeue(n int) {
	m := copy(d.q, d.q[n:])
	clear(d.q[m:])
	d.q = d.q[:m]
	d.pending.Store(int64(len(d.q)))
}

// snapshot returns a copy of the lazy entries of the inbox under prefix.
func (d *delayedInbox) snapshot(prefix string) []inboxEntry {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.lazy[prefix])
}

// publish makes the inbox key sets a transaction committed (inboxes, by
// prefix) current: without the entries removeLazy removed meanwhile, into
// cache, and their lazy entries into d.lazy; then it applies the other
// pending removals to cache. The committer calls it.
func (d *delayedInbox) publish(inboxes map[string]*inboxIndex, cache *inboxCache) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for p, x := range inboxes {
		// Acknowledged by removeLazy since the transaction loaded it.
		x.ents = d.ackedOutLocked(p, x.ents)
		delete(d.acks, p)
		cache.put(p, x.ents)
		if l := lazyOf(x.ents); l != nil {
			d.lazy[p] = l
		} else {
			delete(d.lazy, p)
		}
	}
	d.applyAcksLocked(cache)
}

// markFlushing returns the refs of refs whose entries are still lazy, and
// marks those flushing in d.lazy, so that an acknowledgement from now on
// leaves them to Remove's committer path, which comes after their write
// and deletes what it wrote. The committer calls it.
func (d *delayedInbox) markFlushing(refs []lazyRef) []lazyRef {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []lazyRef
	for _, r := range refs {
		ents := d.lazy[r.prefix]
		if i, ok := slices.BinarySearchFunc(ents, inboxEntry{ts: r.ts, id: r.id}, compareEntries); ok && ents[i].lazy {
			ents[i].flushing = true
			out = append(out, r)
		}
	}
	return out
}

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
	if len(s.inbox.q) > 0 || len(s.index.q) > 0 {
		return // not all written: the next New replays
	}
	s.crashHere(crashBeforeClean)
	c := checkpoint{first: s.c.seq, next: s.c.seq, scanFrom: s.c.maxTime - lazyMargin, clean: true}
	err := s.db.Update(func(tx *bdg.Txn) error { return tx.Set(checkpointKey, c.encode()) })
	if err != nil {
		s.log.Warn("badger: writing the clean checkpoint failed; the next start replays", "err", err)
	}
}

// lazyOK reports whether a message of time ts may have its inbox entries
// delayed.
func (s *Store) lazyOK(ts int64) bool {
	return s.inboxDelay > 0 && ts >= s.c.maxTime-lazyMargin
}

// checkpointNow returns the checkpoint once the first n refs of
// s.inbox.q are written (and none of s.index.q). The committer calls it.
func (s *Store) checkpointNow(n int) checkpoint {
	c := checkpoint{first: s.c.seq, next: s.c.seq, scanFrom: s.c.maxTime - lazyMargin}
	for _, r := range s.inbox.q[n:] {
		c.first = min(c.first, r.seq)
		c.scanFrom = min(c.scanFrom, r.ts)
	}
	for _, r := range s.index.q {
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
		for n < len(s.inbox.q) && n < flushChunk && (all || now.Sub(s.inbox.q[n].at) >= s.inboxDelay) {
			n++
		}
		if n == 0 || !s.flushRefs(n) {
			return
		}
	}
}

// flushRefs writes the first n delayed entries of s.inbox.q and the
// checkpoint after them; false if that failed (they stay queued).
func (s *Store) flushRefs(n int) bool {
	cp := s.checkpointNow(n)
	// Most were acknowledged (or trimmed) meanwhile: skip those without
	// loading their inboxes.
	refs := s.inbox.markFlushing(s.inbox.q[:n])
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
	s.crashHere(crashBeforeInboxFlush)
	s.c.writeMu.Lock()
	s.commit([]*op{o})
	s.c.writeMu.Unlock()
	if o.err != nil {
		s.log.Warn("badger: writing delayed inbox entries failed; will retry", "entries", n, "err", o.err)
		return false
	}
	s.crashHere(crashAfterInboxFlush)
	s.inbox.dequeue(n)
	s.inbox.writes.Add(uint64(written))
	return true
}

// removeLazy is Remove's fast path, for the common acknowledgement: every
// id names a lazy entry of the inbox (in memory only, its message in
// hand). Such a removal writes nothing, so it needs no transaction and no
// trip to the committer: it drops the entries from s.inbox.lazy, which
// readers and the flush of delayed entries go by, and notes them in
// s.inbox.acks, which the committer applies to the inbox key sets it
// keeps (ackedOut). ok is false, with nothing done, when any id is not
// such an entry; Remove then takes the committer's path.
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
	removed, ok = s.inbox.remove(prefix, ids, s.cutoff())
	return removed, ok, nil
}

// remove drops the lazy entries ids of the inbox under prefix, all or
// none: ok is false, with nothing done, if any id is not a lazy entry
// with its message in hand, not being flushed and not expired (ts above
// cutoff). It returns their messages, oldest first.
func (d *delayedInbox) remove(prefix []byte, ids []string, cutoff int64) (removed []*storage.Message, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ents := d.lazy[string(prefix)]
	for _, id := range ids {
		i := slices.IndexFunc(ents, func(e inboxEntry) bool { return e.id == id })
		if i < 0 || ents[i].msg == nil || ents[i].flushing || ents[i].ts <= cutoff {
			return nil, false
		}
	}
	acks := d.acks[string(prefix)]
	kept := ents[:0] // in place: readers copy d.lazy under mu
	for _, e := range ents {
		if !slices.Contains(ids, e.id) {
			kept = append(kept, e)
			continue
		}
		removed = append(removed, e.msg) // oldest first, as ents are sorted
		acks = append(acks, inboxEntry{ts: e.ts, id: e.id})
	}
	clear(ents[len(kept):])
	d.acks[string(prefix)] = acks
	if len(kept) == 0 {
		delete(d.lazy, string(prefix))
	} else {
		d.lazy[string(prefix)] = kept
	}
	return removed, true
}

// ackedOut drops from ents (a transaction's own copy of the inbox under
// prefix) the entries removeLazy has removed.
func (d *delayedInbox) ackedOut(prefix string, ents []inboxEntry) []inboxEntry {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ackedOutLocked(prefix, ents)
}

// ackedOutLocked is ackedOut with d.mu held.
func (d *delayedInbox) ackedOutLocked(prefix string, ents []inboxEntry) []inboxEntry {
	acked := d.acks[prefix]
	if len(acked) == 0 {
		return ents
	}
	return slices.DeleteFunc(ents, func(e inboxEntry) bool {
		return e.lazy && slices.ContainsFunc(acked, func(a inboxEntry) bool { return a.ts == e.ts && a.id == e.id })
	})
}

// applyAcks applies the removals of removeLazy still pending to the inbox
// key sets in cache, and forgets them. The committer calls it.
func (d *delayedInbox) applyAcks(cache *inboxCache) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.applyAcksLocked(cache)
}

// applyAcksLocked is applyAcks with d.mu held.
func (d *delayedInbox) applyAcksLocked(cache *inboxCache) {
	for p := range d.acks {
		if ents, ok := cache.get(p); ok {
			cache.put(p, d.ackedOutLocked(p, slices.Clone(ents)))
		}
		delete(d.acks, p)
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
// before the committer starts, and sets s.c.seq and s.c.maxTime, and
// s.replayed. crashAt is Config.crashAt (crash.go).
func (s *Store) replayLazy(crashAt func(crashPoint) bool) error {
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
	s.c.seq, s.c.maxTime = 1, s.now().UnixMilli()
	if !found || cp.clean {
		// A new database, one from before delayed entries, or one closed
		// cleanly: every inbox entry is written. Start (or resume) the
		// checkpoints, no longer clean.
		if found {
			s.c.seq, s.c.maxTime = max(cp.next, 1), max(s.c.maxTime, cp.scanFrom+lazyMargin)
		}
		c := checkpoint{first: s.c.seq, next: s.c.seq, scanFrom: s.c.maxTime - lazyMargin}
		err := s.db.Update(func(tx *bdg.Txn) error { return tx.Set(checkpointKey, c.encode()) })
		if err == nil {
			err = s.db.Sync()
		}
		return err
	}
	s.c.seq = max(cp.next, 1)
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
			s.c.maxTime = max(s.c.maxTime, r.Time)
			if r.Seq < cp.first || r.Seq == 0 {
				return nil
			}
			s.c.seq = max(s.c.seq, r.Seq+1)
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
		c := checkpoint{first: s.c.seq, next: s.c.seq, scanFrom: s.c.maxTime - lazyMargin}
		err = wb.Set(checkpointKey, c.encode())
	}
	if err == nil && crashAt != nil && crashAt(crashInReplay) {
		return errCrashed
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
	s.replayed = records
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

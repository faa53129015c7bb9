package badger

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bdg "github.com/dgraph-io/badger/v4"
)

// Delayed history index entries.
//
// Every persistent message is indexed twice, by conversation and by
// sender. Writing those entries as keys of their own doubled the keys a
// message costs (three instead of one), and each memtable insert is a walk
// of badger's skiplist. Instead, like its delayed inbox entries (lazy.go),
// Persist keeps a new message's index entries in memory (delayedIndex) and the
// committer writes them Config.InboxDelay
// later, all that are pending at once, grouped by index: one key per
// conversation (and per sender) for all its messages of that second.
//
// Such a key is shaped as before (prefix, time, id) and names the newest
// entry of its group; its value lists the others, each older than it by at
// most indexSpan (encodeBatch). An empty value is a lone entry, as format 2
// wrote every entry. Query merges the groups by time (a group's entries
// interleave with the next group's) and the entries still in memory.
//
// The message records carry a sequence number, and the checkpoint of
// lazy.go covers these entries too: after a crash, New recreates the
// entries of the records from the checkpoint on, as lone entries where no
// key is there already. An entry may then be in two keys; Query drops the
// repeat. Delete removes a lone entry's key; an entry inside a group
// stays, and Query skips it, as its record is gone.

const (
	// indexSpan bounds how much older than its key an entry of a group
	// may be, so that a query bounded at time T starts at T+indexSpan.
	indexSpan = int64(time.Minute / time.Millisecond)
	// maxGroup and maxGroupBytes bound the entries of one group.
	maxGroup      = 256
	maxGroupBytes = 4096
	// batchVersion starts a group's value.
	batchVersion = 1
)

// idxEntry is a history index entry: the time and id of its record.
type idxEntry struct {
	ts int64
	id string
}

func compareIdx(a, b idxEntry) int {
	if c := cmp.Compare(a.ts, b.ts); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

// idxRef is a message's two index entries kept in memory only.
type idxRef struct {
	conv, from string // the key prefixes of its two indexes
	ts         int64
	id         string
	seq        uint64    // its record's sequence number
	at         time.Time // when it was committed
}

// encodeBatch encodes a group's value: the entries ents (sorted, all older
// than the key's time ts, by at most indexSpan) of a group whose key names
// its newest entry. A lone entry has no value.
func encodeBatch(ents []idxEntry, ts int64) []byte {
	if len(ents) == 0 {
		return nil
	}
	n := 1
	for _, e := range ents {
		n += binary.MaxVarintLen64 + binary.MaxVarintLen32 + len(e.id)
	}
	b := append(make([]byte, 0, n), batchVersion)
	for _, e := range ents {
		b = binary.AppendUvarint(b, uint64(ts-e.ts))
		b = binary.AppendUvarint(b, uint64(len(e.id)))
		b = append(b, e.id...)
	}
	return b
}

// decodeBatch appends the entries of the group value v whose key has time
// ts to ents.
func decodeBatch(ents []idxEntry, v []byte, ts int64) ([]idxEntry, error) {
	if len(v) == 0 {
		return ents, nil
	}
	if v[0] != batchVersion {
		return ents, fmt.Errorf("badger: index group of version %d", v[0])
	}
	for rest := v[1:]; len(rest) > 0; {
		d, w := binary.Uvarint(rest)
		if w <= 0 || d > uint64(indexSpan) {
			return ents, errors.New("badger: bad index group")
		}
		rest = rest[w:]
		n, w := uvarint(rest)
		if w == 0 || len(rest) < w+n {
			return ents, errors.New("badger: bad index group")
		}
		ents = append(ents, idxEntry{ts: ts - int64(d), id: string(rest[w : w+n])})
		rest = rest[w+n:]
	}
	return ents, nil
}

// groupLen returns how many of ents (sorted, not empty) go into one group:
// at most maxGroup entries of at most about maxGroupBytes, all within
// indexSpan of the last.
func groupLen(ents []idxEntry) int {
	n, size := 1, len(ents[0].id)
	for n < len(ents) && n < maxGroup && size < maxGroupBytes && ents[n].ts-ents[0].ts <= indexSpan {
		size += len(ents[n].id) + 4
		n++
	}
	return n
}

// delayedIndex holds the history index entries kept in memory only, in
// commit order. Only the committer changes q, under mu; Query reads it
// under mu too (pending), the committer without it.
type delayedIndex struct {
	mu     sync.Mutex
	q      []idxRef
	writes atomic.Uint64 // keys of delayed history index entries written
	flush  *indexFlush   // a flush under way (committer only)
	// preparing: a flush is being prepared, to come on prepared (cap 1;
	// committer only).
	preparing bool
	prepared  chan *indexFlush
}

// add queues the index entries of the records a transaction committed at
// now. The committer calls it.
func (d *delayedIndex) add(refs []idxRef, now time.Time) {
	if len(refs) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range refs {
		r.at = now
		d.q = append(d.q, r)
	}
}

// drop removes the first n entries of q, once they are written. The
// committer calls it.
func (d *delayedIndex) drop(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := copy(d.q, d.q[n:])
	clear(d.q[m:])
	d.q = d.q[:m]
}

// pending returns the entries of the index under prefix that are in
// memory only. It scans them all (about a second's messages), which costs
// a query less than a map of them would cost every message.
func (d *delayedIndex) pending(prefix []byte) (ents []idxEntry) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range d.q {
		if r.conv == string(prefix) || r.from == string(prefix) {
			ents = append(ents, idxEntry{ts: r.ts, id: r.id})
		}
	}
	return ents
}

// flushIndex writes the delayed index entries once the oldest was
// committed Config.InboxDelay before now (or if all): grouped by index, in
// chunks of indexChunk keys, then the checkpoint. The committer calls it
// after every batch and every tick. It writes one chunk, and more while
// no operation waits for the committer, so that a flush (about 3 000 keys
// a second at 15 000 messages/s) is spread over the batches around it
// instead of holding every persistent message back for its whole write;
// with all it writes every chunk. On failure the chunk is tried again
// later (a key written twice is the same key; a repeat Query drops).
func (s *Store) flushIndex(now time.Time, all bool) {
	if s.index.flush == nil && s.index.preparing {
		// Grouping a second's entries takes the committer 5-12 ms at
		// 15 000 messages/s: under load it runs on a goroutine of its
		// own, and the committer takes the result as soon as it comes
		// (commitLoop) or after a later batch.
		if all {
			s.takeIndexFlush(<-s.index.prepared)
		} else {
			select {
			case f := <-s.index.prepared:
				s.takeIndexFlush(f)
			default:
				return
			}
		}
	}
	if s.index.flush == nil {
		if len(s.index.q) == 0 || !all && now.Sub(s.index.q[0].at) < s.inboxDelay {
			return
		}
		refs := s.index.q[:len(s.index.q):len(s.index.q)] // the committer only appends to q meanwhile
		if !all && len(s.c.ops) > 0 {
			// Busy: group them off the committer. Idle, grouping here
			// costs nobody a wait, and the checkpoints of this tick then
			// pass these entries, so that acknowledgements are settled
			// within InboxDelay (a crash no longer undoes them).
			s.index.preparing = true
			go func() { s.index.prepared <- s.prepareIndexFlush(refs) }()
			return
		}
		s.index.flush = s.prepareIndexFlush(refs)
		s.crashHere(crashBeforeIndexFlush)
	}
	for first := true; s.index.flush != nil && (all || first || len(s.c.ops) == 0); first = false {
		if !s.flushIndexChunk() {
			return
		}
	}
	if all && len(s.index.q) > 0 {
		s.flushIndex(now, true) // entries queued after the flush began
	}
}

// takeIndexFlush makes f, prepared off the committer, the flush under way.
func (s *Store) takeIndexFlush(f *indexFlush) {
	s.index.flush, s.index.preparing = f, false
	s.crashHere(crashBeforeIndexFlush)
}

// indexFlush is a flush of delayed index entries under way.
type indexFlush struct {
	ops  []*op // the chunks not yet written
	n    int   // the entries it writes: s.index.q[:n]
	keys int   // the keys it writes
}

// indexChunk bounds the keys of one chunk of an index flush (about a
// millisecond of the committer's time).
const indexChunk = 256

// prepareIndexFlush groups the delayed index entries refs (the first of
// the queue) by index and cuts the keys into chunks. It reads nothing the
// committer changes.
func (s *Store) prepareIndexFlush(refs []idxRef) *indexFlush {
	groups := map[string][]idxEntry{}
	for _, r := range refs {
		e := idxEntry{ts: r.ts, id: r.id}
		groups[r.conv] = append(groups[r.conv], e)
		groups[r.from] = append(groups[r.from], e)
	}
	type kv struct{ k, v []byte }
	var kvs []kv
	for p, ents := range groups {
		slices.SortFunc(ents, compareIdx)
		ents = slices.Compact(ents)
		for len(ents) > 0 {
			n := groupLen(ents)
			last := ents[n-1]
			kvs = append(kvs, kv{timeID([]byte(p), last.ts, last.id), encodeBatch(ents[:n-1], last.ts)})
			ents = ents[n:]
		}
	}
	f := &indexFlush{n: len(refs), keys: len(kvs)}
	// Chunks of at most indexChunk keys and a 20th of the memtable: badger
	// refuses a transaction beyond 15 % of it.
	budget := int(s.db.Opts().MemTableSize / 20)
	for len(kvs) > 0 {
		n, size := 0, 0
		for n < len(kvs) && n < indexChunk && (n == 0 || size+len(kvs[n].k)+len(kvs[n].v) <= budget) {
			size += len(kvs[n].k) + len(kvs[n].v)
			n++
		}
		chunk := kvs[:n]
		kvs = kvs[n:]
		f.ops = append(f.ops, &op{cost: len(chunk), fn: func(t *txn) error {
			for _, e := range chunk {
				if err := t.set(e.k, e.v); err != nil {
					return err
				}
			}
			return nil
		}})
	}
	return f
}

// flushIndexChunk writes the next chunk of the flush under way; after the
// last, it drops the flushed entries from the queue and writes the
// checkpoint. It reports whether the chunk was written.
func (s *Store) flushIndexChunk() bool {
	f := s.index.flush
	s.c.writeMu.Lock()
	defer s.c.writeMu.Unlock()
	if len(f.ops) > 0 {
		o := f.ops[0]
		s.commit([]*op{o})
		if o.err != nil {
			s.log.Warn("badger: writing delayed history index entries failed; will retry", "entries", f.n, "err", o.err)
			return false
		}
		f.ops = f.ops[1:]
		if len(f.ops) > 0 {
			return true
		}
	}
	s.crashHere(crashAfterIndexKeys)
	s.index.drop(f.n)
	s.index.flush = nil
	cp := s.checkpointNow(0)
	o := &op{cost: 1, fn: func(t *txn) error { return t.set(checkpointKey, cp.encode()) }}
	s.commit([]*op{o})
	if o.err != nil {
		// The entries are written; the next checkpoint covers them.
		s.log.Warn("badger: writing the checkpoint failed", "err", o.err)
	}
	s.crashHere(crashAfterIndexFlush)
	s.index.writes.Add(uint64(f.keys))
	return true
}

// recreateIndex writes, in wb, the index entries of the record app/ts/id
// (conversation conv, sender from) whose keys are not in tx. After a
// crash, New calls it for the records from the checkpoint on.
func recreateIndex(tx *bdg.Txn, wb *bdg.WriteBatch, app, conv, from string, ts int64, id string) (int, error) {
	n := 0
	for _, k := range [2][]byte{timeKey(tConv, ts, id, app, conv), timeKey(tFrom, ts, id, app, from)} {
		_, err := tx.Get(k)
		if err == nil {
			continue // a group's key: keep its value
		}
		if !errors.Is(err, bdg.ErrKeyNotFound) {
			return n, err
		}
		if err := wb.Set(k, nil); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// indexMerge yields the entries of an index newest first: the entries in
// memory (given at the start) and those of the index's keys, read newest
// key first. Each key is the newest entry of its group, so once a key is
// read, the entries newer than it are final.
type indexMerge struct {
	buf  []idxEntry // sorted; the newest last
	last idxEntry   // the last entry emitted, so that a repeat is dropped
	some bool       // last is set
}

// add adds entries to the merge.
func (m *indexMerge) add(ents []idxEntry) {
	if len(ents) > 0 {
		m.buf = append(m.buf, ents...)
		slices.SortFunc(m.buf, compareIdx)
	}
}

// next returns the newest entry not yet returned that is newer than
// bound, or all that remain if final; false when there is none.
func (m *indexMerge) next(bound idxEntry, final bool) (idxEntry, bool) {
	for len(m.buf) > 0 {
		e := m.buf[len(m.buf)-1]
		if !final && compareIdx(e, bound) <= 0 {
			return idxEntry{}, false
		}
		m.buf = m.buf[:len(m.buf)-1]
		if m.some && e == m.last {
			continue
		}
		m.last, m.some = e, true
		return e, true
	}
	return idxEntry{}, false
}

package badger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	bdg "github.com/dgraph-io/badger/v4"
)

// The invariants of the committer and of the delayed-write layer, which
// checkInvariants checks. Tests call it after every operation of the
// model-based tests (lazy_test.go, index_test.go); it reads the whole
// database, so it is for small test stores only.
//
// Recovery: a record is covered by the checkpoint cp when New would
// replay it after a crash: its Seq is set and >= cp.first, and its Time
// >= cp.scanFrom.
//
//	C1 the checkpoint exists and is not marked clean while the store runs;
//	   cp.first <= cp.next <= the committer's next sequence number.
//	C2 every ref queued in delayedInbox.q and delayedIndex.q has a
//	   sequence number below the committer's next one, and is in commit
//	   order; its record, if not deleted, carries that sequence number and
//	   is covered.
//	C3 every record that is not covered has both history index entries on
//	   disk (a key of its own or inside a group's key): only covered
//	   records may have entries in memory only.
//	L1 every lazy entry (delayedInbox.lazy) is marked lazy, the entries of
//	   an inbox are sorted without repeats, and none is on disk.
//	L2 every lazy entry has a ref in delayedInbox.q, so it will be written
//	   or dropped; and its record, if not deleted, lists its peer and is
//	   covered. An entry whose message is in hand (msg) has its record.
//	L3 an entry removeLazy removed (delayedInbox.acks) is no longer in
//	   delayedInbox.lazy.
//	K1 a cached inbox key set (the committer's cache) is sorted without
//	   repeats; its lazy entries are exactly delayedInbox.lazy plus
//	   delayedInbox.acks of that inbox, its others exactly the inbox keys
//	   on disk (expired ones aside); an inbox with lazy entries is cached.
var errInvariant = errors.New("badger: invariant broken")

// onCommitter runs fn on the committer goroutine, between two batches,
// and waits for it. Tests use it to look at the committer's state, or to
// run a step of the committer (a flush) at a chosen moment.
func (s *Store) onCommitter(ctx context.Context, fn func()) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	done := make(chan struct{})
	s.c.calls <- func() {
		defer close(done)
		fn()
	}
	<-done
	return nil
}

// flushDelayed makes the committer apply the pending acknowledgements
// and write the delayed entries: all of them if all, else those whose
// delay is over, as its periodic flush does.
func (s *Store) flushDelayed(ctx context.Context, all bool) error {
	return s.onCommitter(ctx, func() { s.flushTick(time.Now(), all) })
}

// checkInvariants checks the invariants above on the committer goroutine
// and returns every violation found, wrapping errInvariant.
func (s *Store) checkInvariants(ctx context.Context) error {
	var err error
	if cerr := s.onCommitter(ctx, func() { err = s.invariants() }); cerr != nil {
		return cerr
	}
	return err
}

// invariants does checkInvariants' work; the committer runs it.
func (s *Store) invariants() error {
	var errs []error
	fail := func(format string, args ...any) {
		if len(errs) < 20 {
			errs = append(errs, fmt.Errorf("%w: "+format, append([]any{errInvariant}, args...)...))
		}
	}
	// A copy of what is under the leaf locks: the committer is the only
	// other writer of it but removeLazy, which the caller does not run
	// meanwhile.
	s.inbox.mu.Lock()
	lazy := map[string][]inboxEntry{}
	for p, ents := range s.inbox.lazy {
		lazy[p] = slices.Clone(ents)
	}
	acks := map[string][]inboxEntry{}
	for p, ents := range s.inbox.acks {
		acks[p] = slices.Clone(ents)
	}
	s.inbox.mu.Unlock()
	idxQ := slices.Clone(s.index.q)

	tx := s.db.NewTransaction(false)
	defer tx.Discard()

	// C1
	var cp checkpoint
	item, err := tx.Get(checkpointKey)
	if err != nil {
		return fmt.Errorf("%w: C1: no checkpoint: %v", errInvariant, err)
	}
	if err := item.Value(func(v []byte) (err error) { cp, err = decodeCheckpoint(v); return err }); err != nil {
		return fmt.Errorf("%w: C1: %v", errInvariant, err)
	}
	if cp.clean {
		fail("C1: checkpoint %+v is clean while the store runs", cp)
	}
	if cp.first > cp.next || cp.next > s.c.seq {
		fail("C1: checkpoint %+v, next sequence number %d", cp, s.c.seq)
	}
	covered := func(r *msgRecord) bool { return r.Seq != 0 && r.Seq >= cp.first && r.Time >= cp.scanFrom }

	// The records, by app and key time/id.
	type recKey struct {
		app string
		e   idxEntry
	}
	// One pass over the whole database (one iterator: creating them is
	// what costs most here): the records, the history index entries and
	// the inbox keys.
	records := map[recKey]*msgRecord{}
	onDisk := map[string]map[idxEntry]bool{} // index prefix -> its entries
	inboxes := map[string][]inboxEntry{}     // inbox prefix -> its keys, sorted
	it := tx.NewIterator(bdg.IteratorOptions{})
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		k := item.Key()
		table := k[0]
		if table != tMessage && table != tConv && table != tFrom && table != tInbox {
			continue
		}
		strs := 2
		if table == tMessage {
			strs = 1
		}
		plen, ok := prefixLen(k, strs)
		if !ok {
			fail("bad key %x", k)
			continue
		}
		ts, id, err := splitTimeID(k, plen)
		if err != nil {
			fail("bad key %x", k)
			continue
		}
		prefix := string(k[:plen])
		switch table {
		case tMessage:
			r := &msgRecord{}
			if err := item.Value(func(v []byte) error { return decodeRecord(v, r) }); err != nil {
				fail("record %x: %v", k, err)
				continue
			}
			n, w := uvarint(k[1:]) // prefixLen has checked it
			app := string(k[1+w : 1+w+n])
			records[recKey{app, idxEntry{ts, id}}] = r
		case tInbox:
			inboxes[prefix] = append(inboxes[prefix], inboxEntry{ts: ts, id: id})
		default:
			group := []idxEntry{{ts, id}}
			err = item.Value(func(v []byte) (err error) {
				group, err = decodeBatch(group, v, ts)
				return err
			})
			if err != nil {
				fail("C3: index key %x: %v", k, err)
			}
			m := onDisk[prefix]
			if m == nil {
				m = map[idxEntry]bool{}
				onDisk[prefix] = m
			}
			for _, e := range group {
				m[e] = true
			}
		}
	}
	it.Close()

	// C2
	checkRef := func(what, prefix string, ts int64, id string, seq uint64) {
		if seq >= s.c.seq {
			fail("C2: %s ref %q %d/%s has sequence number %d, next is %d", what, prefix, ts, id, seq, s.c.seq)
		}
		app, _, _ := splitPrefix(prefix)
		r := records[recKey{app, idxEntry{ts, id}}]
		if r == nil {
			return // deleted
		}
		if r.Seq != seq || !covered(r) {
			fail("C2: %s ref %q %d/%s (seq %d): record has seq %d, covered %v by checkpoint %+v",
				what, prefix, ts, id, seq, r.Seq, covered(r), cp)
		}
	}
	for i, r := range s.inbox.q {
		if i > 0 && r.at.Before(s.inbox.q[i-1].at) {
			fail("C2: delayed inbox queue out of commit order at %d", i)
		}
		checkRef("inbox", r.prefix, r.ts, r.id, r.seq)
	}
	for i, r := range idxQ {
		if i > 0 && r.at.Before(idxQ[i-1].at) {
			fail("C2: delayed index queue out of commit order at %d", i)
		}
		checkRef("index", r.conv, r.ts, r.id, r.seq)
	}

	// C3
	for k, r := range records {
		if covered(r) {
			continue
		}
		for _, p := range [2]string{keyString(tConv, k.app, r.ConvID), keyString(tFrom, k.app, r.From)} {
			if !onDisk[p][k.e] {
				fail("C3: record %s/%d/%s (seq %d, checkpoint %+v) is not covered and lacks its index entry under %q",
					k.app, k.e.ts, k.e.id, r.Seq, cp, p)
			}
		}
	}

	// L1, L2, L3
	queued := map[lazyRef]bool{}
	for _, r := range s.inbox.q {
		queued[lazyRef{prefix: r.prefix, ts: r.ts, id: r.id}] = true
	}
	for p, ents := range lazy {
		app, peer, ok := splitPrefix(p)
		if !ok {
			fail("L1: bad inbox prefix %x", p)
			continue
		}
		for i, e := range ents {
			if !e.lazy {
				fail("L1: entry %q %d/%s in delayedInbox.lazy is not lazy", p, e.ts, e.id)
			}
			if i > 0 && compareEntries(ents[i-1], e) >= 0 {
				fail("L1: lazy entries of %q out of order at %d", p, i)
			}
			if _, on := slices.BinarySearchFunc(inboxes[p], e, compareEntries); on {
				fail("L1: lazy entry %q %d/%s is on disk", p, e.ts, e.id)
			}
			if !queued[lazyRef{prefix: p, ts: e.ts, id: e.id}] {
				fail("L2: lazy entry %q %d/%s has no ref in the queue", p, e.ts, e.id)
			}
			r := records[recKey{app, idxEntry{e.ts, e.id}}]
			switch {
			case r == nil && e.msg != nil:
				fail("L2: lazy entry %q %d/%s holds its message but has no record", p, e.ts, e.id)
			case r == nil:
			case !slices.Contains(r.Inbox, peer) || !covered(r):
				fail("L2: lazy entry %q %d/%s: record (seq %d, inbox %v) is not covered by checkpoint %+v for its peer",
					p, e.ts, e.id, r.Seq, r.Inbox, cp)
			}
		}
	}
	for p, ents := range acks {
		for _, a := range ents {
			if slices.ContainsFunc(lazy[p], func(e inboxEntry) bool { return e.ts == a.ts && e.id == a.id }) {
				fail("L3: acknowledged entry %q %d/%s is still lazy", p, a.ts, a.id)
			}
		}
	}

	// K1
	cutoff := s.cutoff()
	for p, el := range s.c.cache.m {
		ents := el.Value.(*cacheItem).ents
		var lazyHere []inboxEntry
		for i, e := range ents {
			if i > 0 && compareEntries(ents[i-1], e) >= 0 {
				fail("K1: cached entries of %q out of order at %d", p, i)
			}
			if e.flushing {
				fail("K1: cached entry %q %d/%s is marked flushing", p, e.ts, e.id)
			}
			if e.lazy {
				lazyHere = append(lazyHere, inboxEntry{ts: e.ts, id: e.id})
			}
		}
		var want []inboxEntry
		for _, e := range append(slices.Clone(lazy[p]), acks[p]...) {
			want = append(want, inboxEntry{ts: e.ts, id: e.id})
		}
		slices.SortFunc(want, compareEntries)
		if !slices.Equal(lazyHere, want) {
			fail("K1: cached lazy entries of %q = %v, want delayedInbox.lazy and acks %v", p, lazyHere, want)
		}
		disk := slices.Clone(inboxes[p])
		written := slices.DeleteFunc(slices.Clone(ents), func(e inboxEntry) bool { return e.lazy || e.ts <= cutoff })
		for i := range written {
			written[i] = inboxEntry{ts: written[i].ts, id: written[i].id}
		}
		disk = slices.DeleteFunc(disk, func(e inboxEntry) bool { return e.ts <= cutoff })
		if !slices.Equal(written, disk) {
			fail("K1: cached written entries of %q = %v, on disk %v", p, written, disk)
		}
	}
	for p := range lazy {
		if _, ok := s.c.cache.m[p]; !ok {
			fail("K1: inbox %q has lazy entries but is not cached", p)
		}
	}
	return errors.Join(errs...)
}

// splitPrefix returns the app and the second string of a key prefix
// (table, app, string), such as an inbox's (its peer).
func splitPrefix(prefix string) (app, second string, ok bool) {
	if len(prefix) < 1 {
		return "", "", false
	}
	rest := []byte(prefix[1:])
	n, w := uvarint(rest)
	if w == 0 || len(rest) < w+n {
		return "", "", false
	}
	app, rest = string(rest[w:w+n]), rest[w+n:]
	n, w = uvarint(rest)
	if w == 0 || len(rest) != w+n {
		return "", "", false
	}
	return app, string(rest[w:]), true
}

// prefixLen returns the length of the prefix of key k: its table byte
// and n length-prefixed strings.
func prefixLen(k []byte, n int) (int, bool) {
	i := 1
	for range n {
		l, w := uvarint(k[i:])
		if w == 0 || len(k) < i+w+l {
			return 0, false
		}
		i += w + l
	}
	return i, true
}

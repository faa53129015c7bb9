package badger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bdg "github.com/dgraph-io/badger/v4"
)

// Batch bounds of the committer.
const (
	maxBatchOps  = 1024  // operations packed into one transaction
	maxBatchCost = 16384 // estimated key writes packed into one transaction
	maxConflicts = 8     // retries of a transaction that hit a conflict
)

// committer is the state of the committer goroutine (commitLoop), the
// only writer of badger (besides the value-log GC, which writeMu keeps
// apart). Fields not marked otherwise are owned by that goroutine.
type committer struct {
	ops chan *op // to the committer; closed by Close
	// calls carries functions to run on the committer between batches
	// (onCommitter, for tests); nil means none.
	calls chan func()

	// writeMu is held by the committer from a commit to its sync and by
	// the value-log GC while it runs: nothing else writes to badger, so a
	// sync covers the memtable the commit went to.
	writeMu sync.Mutex

	// cache holds the key sets of recently used inboxes, lazy entries
	// included (inbox.go).
	cache   *inboxCache
	seq     uint64 // the next record sequence number (lazy.go)
	maxTime int64  // the newest message time persisted

	syncEvery time.Duration // Config.SyncInterval
	lastSync  time.Time     // when the last sync started

	commits atomic.Uint64 // write transactions committed; read by Stats
	written atomic.Uint64 // operations they carried; read by Stats
	syncs   atomic.Uint64 // syncs of badger's logs; read by Stats

	crashAt func(crashPoint) bool // Config.crashAt (crash.go)
	flushed func()                // Config.flushed

	// Scratch for the delayed entries a transaction adds (txn.lazyAdds,
	// txn.idxAdds), reused from batch to batch: the delayed queues copy
	// them.
	lazyBuf []lazyRef
	idxBuf  []idxRef
}

// op is one write operation handed to the committer.
type op struct {
	// fn does the operation in txn. It may run more than once (after a
	// conflict, or alone after its batch failed), so it must set its
	// results afresh each time. It must not fail after writing unless the
	// failure is badger's (see txn).
	fn   func(*txn) error
	cost int // estimated number of keys fn writes
	// durable: the op returns only once its writes are synced to disk
	// (unless Config.NoSync). Ops that are not durable (Remove) commit
	// without a sync of their own; the next durable commit syncs them.
	durable bool
	err     error
	done    chan struct{} // cap 1: the committer sends once when the op is done
}

// txn is a write transaction that counts writes, so that the committer can
// tell an operation that failed before writing (it fails alone) from one
// that left partial writes (the whole batch is redone).
//
// It also tracks the inboxes the batch touches: their key sets come from
// the store's inbox cache, or (on a miss) from a read-only snapshot of
// what is committed (the committer is the only writer), and are changed
// in working copies that go back into the cache only if the transaction
// commits. No iterator is opened on the write transaction itself: badger
// sorts all its pending writes for every such iterator.
type txn struct {
	*bdg.Txn
	store   *Store
	writes  int
	snap    *bdg.Txn               // read-only, same point in time; opened on a cache miss
	snapIt  *bdg.Iterator          // on snap, shared by the misses of the transaction
	inboxes map[string]*inboxIndex // inbox prefix -> its keys now

	// Delayed inbox entries (lazy.go), applied to the store on commit.
	seq      uint64    // the next sequence number
	maxTime  int64     // the newest message time
	lazyAdds []lazyRef // the lazy entries added
	idxAdds  []idxRef  // the delayed history index entries added (index.go)
}

// nextSeq gives out a record sequence number.
func (t *txn) nextSeq() uint64 {
	t.seq++
	return t.seq - 1
}

// inbox returns the current key set of the inbox under prefix.
func (t *txn) inbox(prefix []byte) (*inboxIndex, error) {
	if x, ok := t.inboxes[string(prefix)]; ok {
		return x, nil
	}
	ents, ok := t.store.c.cache.get(string(prefix))
	if ok {
		ents = slices.Clone(ents)
	} else {
		if t.snap == nil {
			t.snap = t.store.db.NewTransaction(false)
			t.snapIt = t.snap.NewIterator(bdg.IteratorOptions{})
		}
		var err error
		if ents, err = scanInbox(t.snapIt, prefix, nil); err != nil {
			return nil, err
		}
	}
	ents = t.store.inbox.ackedOut(string(prefix), ents)
	x := &inboxIndex{prefix: string(prefix), ents: ents}
	t.inboxes[x.prefix] = x
	return x, nil
}

func (t *txn) set(k, v []byte) error {
	t.writes++
	return t.Txn.Set(k, v)
}

func (t *txn) setEntry(e *bdg.Entry) error {
	t.writes++
	return t.Txn.SetEntry(e)
}

func (t *txn) del(k []byte) error {
	t.writes++
	return t.Txn.Delete(k)
}

// write hands fn to the committer and waits until it is committed (and,
// if durable, synced unless Config.NoSync). ctx is checked only before.
func (s *Store) write(ctx context.Context, cost int, durable bool, fn func(*txn) error) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	o := opPool.Get().(*op)
	o.fn, o.cost, o.durable, o.err = fn, cost, durable, nil
	s.c.ops <- o
	<-o.done
	err := o.err
	o.fn, o.err = nil, nil
	opPool.Put(o)
	return err
}

// opPool recycles ops (one per write): done is buffered and signalled
// with a send, not closed, so it is reused too.
var opPool = sync.Pool{New: func() any { return &op{done: make(chan struct{}, 1)} }}

// commitLoop packs the operations waiting in s.c.ops into transactions
// until s.c.ops is closed.
func (s *Store) commitLoop() {
	defer s.wg.Done()
	if s.c.crashAt != nil {
		defer s.afterCrash()
	}
	batch := make([]*op, 0, maxBatchOps)
	synced := make([]*op, 0, maxBatchOps)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	var tick <-chan time.Time
	if s.inboxDelay > 0 {
		t := time.NewTicker(s.inboxDelay / 4)
		defer t.Stop()
		tick = t.C
	}
	for {
		var o *op
		select {
		case o = <-s.c.ops:
		case now := <-tick:
			s.flushTick(now, false)
			if s.c.flushed != nil {
				s.c.flushed()
			}
			continue
		case fn := <-s.c.calls:
			fn()
			continue
		case f := <-s.index.prepared:
			s.takeIndexFlush(f)
			s.flushIndex(time.Now(), false)
			continue
		}
		if o == nil { // s.c.ops is closed: write what is delayed and stop
			s.closeLazy()
			return
		}
		batch = append(batch[:0], o)
		cost := o.cost
		durable := o.durable
		lingered := false
	fill:
		for len(batch) < maxBatchOps && cost < maxBatchCost {
			if !lingered && durable && s.c.syncEvery > 0 {
				// Sleep through the rest of the sync interval, then take
				// what arrived meanwhile: waking for every op as it
				// arrives would cost a wake-up of this goroutine per
				// message. Ops queue in s.c.ops (bounded) meanwhile.
				lingered = true
				if d := s.c.syncEvery - time.Since(s.c.lastSync); d > 0 {
					linger.Reset(d)
					<-linger.C
				}
			}
			select {
			case o, ok := <-s.c.ops:
				if !ok {
					break fill
				}
				batch = append(batch, o)
				cost += o.cost
				durable = durable || o.durable
			default:
				break fill
			}
		}
		s.commitAndSync(batch, &synced)
		if len(s.index.q) > maxLazy {
			s.flushIndex(time.Now(), true)
		} else if s.index.flush != nil || s.index.preparing {
			s.flushIndex(time.Now(), false) // its next chunk
		}
		if len(s.inbox.q) > maxLazy {
			s.flushLazy(time.Now(), true)
		}
	}
}

// flushTick applies the pending acknowledgements to the inbox cache and
// writes the delayed entries whose delay is over at now (all if all). The
// committer calls it every quarter of Config.InboxDelay.
func (s *Store) flushTick(now time.Time, all bool) {
	s.inbox.applyAcks(s.c.cache)
	s.flushIndex(now, all)
	s.flushLazy(now, all)
}

// maxLazy bounds the delayed inbox entries, and the delayed history index
// entries: beyond it, all are written.
const maxLazy = 1 << 16

// commitAndSync commits batch and, if it holds a durable op that
// succeeded, syncs badger's logs before that op returns. Ops that need no
// sync are released before it. s.c.writeMu keeps badger's other writer (the
// value-log GC) out between the commit and the sync, so that the sync
// covers the memtable the batch went to.
func (s *Store) commitAndSync(batch []*op, synced *[]*op) {
	s.c.writeMu.Lock()
	s.commit(batch)
	if s.crashing(crashAfterCommit) {
		s.c.writeMu.Unlock()
		for _, o := range batch {
			o.err = errCrashed
			o.done <- struct{}{}
		}
		panic(crashSignal{})
	}
	*synced = (*synced)[:0]
	for _, o := range batch {
		if o.durable && o.err == nil && s.sync {
			*synced = append(*synced, o)
		} else {
			o.done <- struct{}{}
		}
	}
	if len(*synced) > 0 {
		s.c.lastSync = time.Now()
		if err := s.db.Sync(); err != nil {
			for _, o := range *synced {
				o.err = fmt.Errorf("badger: sync: %w", err)
			}
		}
		s.c.syncs.Add(1)
	}
	s.c.writeMu.Unlock()
	for _, o := range *synced {
		o.done <- struct{}{}
	}
}

// commit runs batch in one transaction, retrying conflicts; if that fails,
// it runs each operation in a transaction of its own. It sets every op.err.
func (s *Store) commit(batch []*op) {
	var err error
	for range maxConflicts {
		if err = s.commitOnce(batch); !errors.Is(err, bdg.ErrConflict) {
			break
		}
	}
	if err == nil {
		return
	}
	if len(batch) > 1 {
		s.log.Debug("badger: batch failed, committing its operations one by one", "ops", len(batch), "err", err)
		for _, o := range batch {
			s.commit([]*op{o})
		}
		return
	}
	batch[0].err = fmt.Errorf("badger: commit: %w", err)
}

// commitOnce runs every op of batch in one transaction and commits it. It
// returns an error only when the transaction as a whole failed; an op that
// failed without writing keeps its own error in op.err.
func (s *Store) commitOnce(batch []*op) error {
	t := &txn{Txn: s.db.NewTransaction(true), store: s, inboxes: map[string]*inboxIndex{},
		seq: s.c.seq, maxTime: s.c.maxTime, lazyAdds: s.c.lazyBuf[:0], idxAdds: s.c.idxBuf[:0]}
	defer t.Discard()
	defer func() { // the queues copied what they keep
		clear(t.lazyAdds)
		clear(t.idxAdds)
		s.c.lazyBuf, s.c.idxBuf = t.lazyAdds[:0], t.idxAdds[:0]
	}()
	defer func() {
		if t.snap != nil {
			t.snapIt.Close()
			t.snap.Discard()
		}
	}()
	for _, o := range batch {
		before := t.writes
		o.err = o.fn(t)
		if o.err != nil && t.writes != before {
			return o.err
		}
	}
	if t.writes > 0 {
		if err := t.Commit(); err != nil {
			// Whether anything was applied is unknown: reload these
			// inboxes from the database next time.
			for p := range t.inboxes {
				s.c.cache.drop(p)
			}
			return err
		}
	}
	s.inbox.publish(t.inboxes, s.c.cache)
	s.c.seq, s.c.maxTime = t.seq, t.maxTime
	now := time.Now()
	s.inbox.queue(t.lazyAdds, now)
	s.index.add(t.idxAdds, now)
	if t.writes == 0 {
		return nil
	}
	s.c.commits.Add(1)
	s.c.written.Add(uint64(len(batch)))
	return nil
}

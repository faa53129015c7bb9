package badger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	bdg "github.com/dgraph-io/badger/v4"

	"github.com/rtgate/rtgate/storage"
)

// Batch bounds of the committer.
const (
	maxBatchOps  = 1024  // operations packed into one transaction
	maxBatchCost = 16384 // estimated key writes packed into one transaction
	maxConflicts = 8     // retries of a transaction that hit a conflict
)

// op is one write operation handed to the committer.
type op struct {
	// fn does the operation in txn. It may run more than once (after a
	// conflict, or alone after its batch failed), so it must set its
	// results afresh each time. It must not fail after writing unless the
	// failure is badger's (see txn).
	fn   func(*txn) error
	cost int // estimated number of keys fn writes
	err  error
	done chan struct{}
}

// txn is a write transaction that counts writes, so that the committer can
// tell an operation that failed before writing (it fails alone) from one
// that left partial writes (the whole batch is redone).
//
// It also tracks the inboxes the batch touches. Badger sorts all pending
// writes of a transaction for every iterator opened on it, which makes
// iterating inside a large batch quadratic; so inbox keys are listed from a
// read-only snapshot (what is committed: the committer is the only writer)
// plus the batch's own changes.
type txn struct {
	*bdg.Txn
	writes  int
	snap    *bdg.Txn                       // read-only, same point in time
	inboxes map[string]map[string]struct{} // inbox prefix -> its keys now
}

// inbox returns the current key set of the inbox under prefix.
func (t *txn) inbox(prefix []byte) map[string]struct{} {
	if m, ok := t.inboxes[string(prefix)]; ok {
		return m
	}
	m := map[string]struct{}{}
	for _, k := range listKeys(t.snap, prefix) {
		m[string(k)] = struct{}{}
	}
	t.inboxes[string(prefix)] = m
	return m
}

// inboxKeys returns the keys of the inbox under prefix, sorted.
func (t *txn) inboxKeys(prefix []byte) [][]byte {
	m := t.inbox(prefix)
	keys := make([][]byte, 0, len(m))
	for k := range m {
		keys = append(keys, []byte(k))
	}
	slices.SortFunc(keys, bytes.Compare)
	return keys
}

func (t *txn) setInbox(prefix []byte, e *bdg.Entry) error {
	t.inbox(prefix)[string(e.Key)] = struct{}{}
	return t.setEntry(e)
}

func (t *txn) delInbox(prefix, k []byte) error {
	delete(t.inbox(prefix), string(k))
	return t.del(k)
}

// listKeys returns the keys under prefix in tx, sorted.
func listKeys(tx *bdg.Txn, prefix []byte) [][]byte {
	var keys [][]byte
	it := tx.NewIterator(bdg.IteratorOptions{Prefix: prefix})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		keys = append(keys, it.Item().KeyCopy(nil))
	}
	return keys
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

// write hands fn to the committer and waits until it is committed (and
// synced, unless Config.NoSync). ctx is checked only before.
func (s *Store) write(ctx context.Context, cost int, fn func(*txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return storage.ErrClosed
	}
	o := &op{fn: fn, cost: cost, done: make(chan struct{})}
	s.ops <- o
	<-o.done
	return o.err
}

// commitLoop packs the operations waiting in s.ops into transactions until
// s.ops is closed.
func (s *Store) commitLoop() {
	defer s.wg.Done()
	batch := make([]*op, 0, maxBatchOps)
	for o := range s.ops {
		batch = append(batch[:0], o)
		cost := o.cost
	fill:
		for len(batch) < maxBatchOps && cost < maxBatchCost {
			select {
			case o, ok := <-s.ops:
				if !ok {
					break fill
				}
				batch = append(batch, o)
				cost += o.cost
			default:
				break fill
			}
		}
		s.commit(batch)
		for _, o := range batch {
			close(o.done)
		}
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
	t := &txn{Txn: s.db.NewTransaction(true), snap: s.db.NewTransaction(false), inboxes: map[string]map[string]struct{}{}}
	defer t.Discard()
	defer t.snap.Discard()
	for _, o := range batch {
		before := t.writes
		o.err = o.fn(t)
		if o.err != nil && t.writes != before {
			return o.err
		}
	}
	if t.writes == 0 {
		return nil
	}
	if err := t.Commit(); err != nil {
		return err
	}
	s.commits.Add(1)
	s.written.Add(uint64(len(batch)))
	return nil
}

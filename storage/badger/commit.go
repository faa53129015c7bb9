package badger

import (
	"context"
	"errors"
	"fmt"

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
type txn struct {
	*bdg.Txn
	writes int
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
	t := &txn{Txn: s.db.NewTransaction(true)}
	defer t.Discard()
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
	return t.Commit()
}

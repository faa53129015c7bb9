package badger

import "errors"

// Crash points: a test-only way to stop the committer where a process
// crash could stop it, so that each recovery path of New (replayLazy) is
// tested deterministically (crashpoint_test.go). Config.crashAt, set only
// by this package's tests, is asked at each point the committer passes;
// when it answers true, the committer stops there: it answers the
// operations in flight and all later ones with errCrashed, and Close
// closes badger without writing anything the committer still held in
// memory. What is committed to badger at that moment survives, as it
// survives a process crash (badger's logs are in the page cache); what is
// only in memory (delayed entries, acknowledgements of them) is lost.
//
// The recovery paths, and the point that leads to each:
//
//	committed, not synced           crashAfterCommit
//	delayed inbox entries           crashBeforeInboxFlush
//	inbox entries written           crashAfterInboxFlush
//	delayed history index entries   crashBeforeIndexFlush
//	index keys without checkpoint   crashAfterIndexKeys
//	index written and checkpointed  crashAfterIndexFlush
//	Close before its clean mark     crashBeforeClean
//	a crash during the replay       crashInReplay (in New)
type crashPoint int

const (
	// crashAfterCommit: a batch is committed, not synced, and its callers
	// are not answered.
	crashAfterCommit crashPoint = iota + 1
	// crashBeforeInboxFlush: delayed inbox entries are about to be
	// written.
	crashBeforeInboxFlush
	// crashAfterInboxFlush: they are written with their checkpoint; the
	// committer has not dropped them from its queue.
	crashAfterInboxFlush
	// crashBeforeIndexFlush: delayed history index entries are about to
	// be written.
	crashBeforeIndexFlush
	// crashAfterIndexKeys: their keys are written, the checkpoint after
	// them is not.
	crashAfterIndexKeys
	// crashAfterIndexFlush: the keys and the checkpoint are written.
	crashAfterIndexFlush
	// crashBeforeClean: Close has written every delayed entry, not the
	// clean checkpoint.
	crashBeforeClean
	// crashInReplay: New has recreated the delayed entries in its write
	// batch and not flushed it; New fails with errCrashed.
	crashInReplay
)

// errCrashed answers the operations of a committer stopped at a crash
// point.
var errCrashed = errors.New("badger: stopped at a test crash point")

// crashSignal unwinds the committer from a crash point to commitLoop.
type crashSignal struct{}

// crashing reports whether the committer is to stop at p.
func (s *Store) crashing(p crashPoint) bool {
	return s.c.crashAt != nil && s.c.crashAt(p)
}

// crashHere stops the committer at p if it is to stop there.
func (s *Store) crashHere(p crashPoint) {
	if s.crashing(p) {
		panic(crashSignal{})
	}
}

// afterCrash, deferred by commitLoop, turns a crashSignal into a stopped
// committer: it answers every operation with errCrashed, until Close.
func (s *Store) afterCrash() {
	r := recover()
	if r == nil {
		return
	}
	if _, ok := r.(crashSignal); !ok {
		panic(r)
	}
	s.log.Debug("badger: committer stopped at a test crash point")
	for {
		select {
		case o, ok := <-s.c.ops:
			if !ok {
				return
			}
			o.err = errCrashed
			o.done <- struct{}{}
		case fn := <-s.c.calls:
			fn()
		}
	}
}

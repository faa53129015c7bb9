package core

import (
	"container/heap"
	"hash/maphash"
	"sync"
)

// nonceCache remembers the nonces of accepted signatures per app, to refuse
// replays (Config.NonceCacheSize). A nonce is remembered with its
// signature's timestamp until that timestamp leaves the signature window:
// from then on the signature is refused as expired anyway.
//
// Each app has its own bounded set, so one app's traffic never affects
// another's. When an app's set is full of live nonces it forgets the one
// with the oldest timestamp and raises the app's floor to that timestamp:
// a signature timestamped at or below the floor is refused
// (ErrNonceForgotten), since it may replay what was forgotten. Replays are
// thus always refused, and a signature made after the oldest remembered
// one is always accepted: a flood of signed opens can shorten how old a
// signature may be, never lock the app out (issue 15, defect 1).
//
// Nonces are kept as 64-bit keyed hashes, so an entry costs the same
// whatever the nonce's length: the cache's memory is bounded by
// NonceCacheSize entries per app that has signatures.
type nonceCache struct {
	max  int          // entries per app; immutable
	seed maphash.Seed // immutable

	mu   sync.Mutex
	apps map[string]*appNonces // guarded by mu
}

// appNonces is one app's remembered nonces.
type appNonces struct {
	byHash map[uint64]int64 // nonce hash -> signature timestamp (unix s)
	order  nonceHeap        // the same entries, oldest timestamp first
	floor  int64            // timestamps at or below it are refused; 0: none
}

type nonceEntry struct {
	hash uint64
	ts   int64
}

// nonceHeap is a min-heap of entries by timestamp.
type nonceHeap []nonceEntry

func (h nonceHeap) Len() int           { return len(h) }
func (h nonceHeap) Less(i, j int) bool { return h[i].ts < h[j].ts }
func (h nonceHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *nonceHeap) Push(x any)        { *h = append(*h, x.(nonceEntry)) }
func (h *nonceHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

func newNonceCache(max int) *nonceCache {
	return &nonceCache{max: max, seed: maphash.MakeSeed(), apps: make(map[string]*appNonces)}
}

// use records the nonce of a valid signature of app timestamped ts (unix
// s; already checked to be within window seconds of now), or returns why
// it is refused: ErrNonceReplayed or ErrNonceForgotten.
func (nc *nonceCache) use(app, nonce string, ts, now, window int64) error {
	hash := maphash.String(nc.seed, nonce)
	nc.mu.Lock()
	defer nc.mu.Unlock()
	a := nc.apps[app]
	if a == nil {
		a = &appNonces{byHash: make(map[uint64]int64)}
		nc.apps[app] = a
	}
	// Forget what left the window: those signatures are refused as expired.
	for len(a.order) > 0 && a.order[0].ts < now-window {
		e := heap.Pop(&a.order).(nonceEntry)
		delete(a.byHash, e.hash)
	}
	if a.floor >= now-window {
		if ts <= a.floor {
			return ErrNonceForgotten
		}
	} else {
		a.floor = 0
	}
	if _, ok := a.byHash[hash]; ok {
		return ErrNonceReplayed
	}
	if len(a.order) >= nc.max {
		if ts <= a.order[0].ts {
			// Forgetting the oldest would raise the floor to ts or above.
			return ErrNonceForgotten
		}
		e := heap.Pop(&a.order).(nonceEntry)
		delete(a.byHash, e.hash)
		a.floor = max(a.floor, e.ts)
	}
	a.byHash[hash] = ts
	heap.Push(&a.order, nonceEntry{hash, ts})
	return nil
}

package core

import (
	"strings"
	"sync"
	"testing"
)

// TestTransientIDs: ids cut from shared blocks are well formed, unique
// across goroutines and blocks and with newMessageID's, and in sequence
// order as each goroutine takes them.
func TestTransientIDs(t *testing.T) {
	h := &Hub{}
	h.seq.Store(62*62*62*62*62 - 3) // a carry in the sequence digits
	const workers, each = 8, 3 * idsPerBlock
	ids := make([][]string, 2*workers) // transient, then stored ids of each worker
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if i%50 == 0 {
					ids[workers+w] = append(ids[workers+w], h.newMessageID())
				}
				ids[w] = append(ids[w], h.transientID())
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for w, list := range ids {
		for i, id := range list {
			if len(id) != idLen || strings.Trim(id, base62) != "" {
				t.Fatalf("id %q: want %d base62 characters", id, idLen)
			}
			if seen[id[:11]] {
				t.Fatalf("sequence of %q handed out twice", id)
			}
			seen[id[:11]] = true
			if i > 0 && id[:11] <= list[i-1][:11] {
				t.Fatalf("list %d: %q after %q: not in sequence order", w, id, list[i-1])
			}
		}
	}
}

package badger_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/badger"
	"github.com/rtgate/rtgate/storage/storagetest"
)

// open opens a store for the conformance suite; small memtables keep the
// many short-lived stores cheap.
func open(t *testing.T, o storagetest.Options) storage.Store {
	return openCache(t, o, 0, 0)
}

// openCache is open with Config.InboxCache and Config.InboxDelay set.
func openCache(t *testing.T, o storagetest.Options, inboxes int, delay time.Duration) storage.Store {
	s, err := badger.New(badger.Config{
		InboxCache:   inboxes,
		InboxDelay:   delay,
		Dir:          o.Dir,
		Limits:       o.Limits,
		Now:          o.Now,
		Logger:       slog.New(slog.DiscardHandler),
		MemTableSize: 4 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) { storagetest.Run(t, open) }

func TestDurable(t *testing.T) { storagetest.RunDurable(t, open) }

// TestConformanceInboxCache runs the suite with an inbox cache of one
// inbox (evicted all the time) and with none.
func TestConformanceInboxCache(t *testing.T) {
	for _, n := range []int{1, -1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			storagetest.Run(t, func(t *testing.T, o storagetest.Options) storage.Store { return openCache(t, o, n, 0) })
		})
	}
}

// TestConformanceEagerInbox runs the suite with inbox entries written
// with their message (no InboxDelay), and with entries written 1 ms later.
func TestConformanceEagerInbox(t *testing.T) {
	for _, d := range []time.Duration{-1, time.Millisecond} {
		t.Run(fmt.Sprint(d), func(t *testing.T) {
			storagetest.Run(t, func(t *testing.T, o storagetest.Options) storage.Store { return openCache(t, o, 0, d) })
		})
	}
}

// TestSyncInterval: with Config.SyncInterval, durable writes arriving
// faster share syncs: at most one per interval (plus the first).
func TestSyncInterval(t *testing.T) {
	const every = 10 * time.Millisecond
	s, err := badger.New(badger.Config{Dir: t.TempDir(), SyncInterval: every, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 25 {
				m := &storage.Message{App: "app", ID: fmt.Sprintf("w%d-%d", w, i), Time: time.Now().UnixMilli(), ConvID: "c"}
				if err := s.Persist(context.Background(), m, []string{"peer"}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	st := s.Stats()
	if limit := uint64(elapsed/every) + 2; st.Syncs > limit {
		t.Errorf("%d syncs in %v, want at most %d (one per %v)", st.Syncs, elapsed, limit, every)
	}
	if st.Syncs == 0 || st.Syncs >= 200 {
		t.Errorf("%d syncs for 200 persists", st.Syncs)
	}
}

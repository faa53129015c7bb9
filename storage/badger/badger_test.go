package badger_test

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/badger"
	"github.com/rtgate/rtgate/storage/storagetest"
)

// open opens a store for the conformance suite; small memtables keep the
// many short-lived stores cheap.
func open(t *testing.T, o storagetest.Options) storage.Store {
	return openCache(t, o, 0, 0)
}

// openCache is open with Config.InboxCache and Config.MessageCache set.
func openCache(t *testing.T, o storagetest.Options, inboxes, msgs int) storage.Store {
	s, err := badger.New(badger.Config{
		InboxCache:   inboxes,
		MessageCache: msgs,
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

// TestConformanceMessageCache runs the suite with a message cache of one
// message (evicted all the time) and with none, so that Remove reads
// messages back from badger.
func TestConformanceMessageCache(t *testing.T) {
	for _, n := range []int{1, -1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			storagetest.Run(t, func(t *testing.T, o storagetest.Options) storage.Store { return openCache(t, o, 0, n) })
		})
	}
}

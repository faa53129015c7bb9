package badger_test

import (
	"log/slog"
	"testing"

	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/badger"
	"github.com/rtgate/rtgate/storage/storagetest"
)

// open opens a store for the conformance suite; small memtables keep the
// many short-lived stores cheap.
func open(t *testing.T, o storagetest.Options) storage.Store {
	s, err := badger.New(badger.Config{
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

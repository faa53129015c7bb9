package badger

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	bdg "github.com/dgraph-io/badger/v4"

	"github.com/rtgate/rtgate/storage"
)

// TestCheckInvariantsFindsBreakage breaks each kind of invariant in a
// store that holds delayed and written entries, and checks that
// checkInvariants names it; the intact store passes.
func TestCheckInvariantsFindsBreakage(t *testing.T) {
	ctx := context.Background()
	// setup: m1 flushed (entries and index on disk), m2 delayed (inbox
	// entry and index entries in memory only). No periodic flush within
	// the test: the delay is an hour.
	setup := func(t *testing.T) *Store {
		s, err := New(Config{Dir: t.TempDir(), InboxDelay: time.Hour, Logger: slog.New(slog.DiscardHandler), GCInterval: -1,
			MemTableSize: testMemTable, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		now := time.Now().UnixMilli()
		for i, id := range []string{"m1", "m2"} {
			m := &storage.Message{App: "app", ID: id, From: "a", ConvID: "c", Time: now + int64(i)}
			if err := s.Persist(ctx, m, []string{"b"}); err != nil {
				t.Fatal(err)
			}
			if id == "m1" {
				if err := s.flushDelayed(ctx, true); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := s.checkInvariants(ctx); err != nil {
			t.Fatalf("intact store: %v", err)
		}
		return s
	}
	update := func(t *testing.T, s *Store, fn func(*bdg.Txn) error) {
		t.Helper()
		if err := s.db.Update(fn); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		want    string // the invariant named
		breakIt func(t *testing.T, s *Store)
	}{
		{"clean checkpoint", "C1", func(t *testing.T, s *Store) {
			s.onCommitter(ctx, func() {
				update(t, s, func(tx *bdg.Txn) error {
					return tx.Set(checkpointKey, checkpoint{first: s.c.seq, next: s.c.seq, clean: true}.encode())
				})
			})
		}},
		{"checkpoint past a delayed record", "C2", func(t *testing.T, s *Store) {
			s.onCommitter(ctx, func() {
				update(t, s, func(tx *bdg.Txn) error {
					return tx.Set(checkpointKey, checkpoint{first: s.c.seq, next: s.c.seq}.encode())
				})
			})
		}},
		{"written index entry lost", "C3", func(t *testing.T, s *Store) {
			update(t, s, func(tx *bdg.Txn) error {
				it := tx.NewIterator(bdg.IteratorOptions{Prefix: []byte{tConv}})
				defer it.Close()
				it.Rewind()
				return tx.Delete(it.Item().KeyCopy(nil))
			})
		}},
		{"lazy entry on disk", "L1", func(t *testing.T, s *Store) {
			s.onCommitter(ctx, func() {
				r := s.inbox.q[len(s.inbox.q)-1]
				update(t, s, func(tx *bdg.Txn) error { return tx.Set(timeID([]byte(r.prefix), r.ts, r.id), nil) })
			})
		}},
		{"lazy entry without a ref", "L2", func(t *testing.T, s *Store) {
			s.onCommitter(ctx, func() { s.inbox.q = s.inbox.q[:0] })
		}},
		{"cache out of step", "K1", func(t *testing.T, s *Store) {
			s.onCommitter(ctx, func() {
				for p := range s.c.cache.m {
					s.c.cache.put(p, nil)
				}
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := setup(t)
			tc.breakIt(t, s)
			err := s.checkInvariants(ctx)
			if !errors.Is(err, errInvariant) || !strings.Contains(err.Error(), tc.want+":") {
				t.Errorf("checkInvariants = %v, want %s broken", err, tc.want)
			}
		})
	}
}

package badger

import (
	"testing"
	"time"

	"github.com/rtgate/rtgate/storage"
)

// TestValueThreshold: by default records (tens of bytes and more) go to
// the value log and the empty values of index keys stay in the tree; a
// negative ValueThreshold keeps badger's default, bounded by the batch
// size badger allows for the memtable.
func TestValueThreshold(t *testing.T) {
	for _, tc := range []struct {
		cfg  int64
		want int64
	}{{0, 32}, {100, 100}, {-1, 1 << 20}} {
		s, err := New(Config{Dir: t.TempDir(), ValueThreshold: tc.cfg, MemTableSize: 64 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.db.Opts().ValueThreshold; got != tc.want {
			t.Errorf("ValueThreshold %d: badger's is %d, want %d", tc.cfg, got, tc.want)
		}
		if err := s.Persist(t.Context(), &storage.Message{App: "a", ID: "m", From: "x", Text: "hello", Time: time.Now().UnixMilli()}, []string{"p"}); err != nil {
			t.Fatal(err)
		}
		ms, err := s.Pending(t.Context(), "a", "p")
		if err != nil || len(ms) != 1 || ms[0].Text != "hello" {
			t.Fatalf("Pending = %v, %v", ms, err)
		}
		s.Close()
	}
}

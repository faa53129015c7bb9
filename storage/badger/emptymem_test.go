package badger_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/badger"
)

// TestOpenAfterEmptyMemtable: a crash between Badger creating a memtable
// file and its first write leaves a 0-byte .mem file, on which Badger's
// first open fails ("Create a new file", badger#2207; seen by the crash
// campaign once in 163 restarts). New opens the store anyway, with every
// message it held.
func TestOpenAfterEmptyMemtable(t *testing.T) {
	dir := t.TempDir()
	cfg := badger.Config{Dir: dir, Logger: slog.New(slog.DiscardHandler), MemTableSize: 4 << 20, GCInterval: -1}
	st, err := badger.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m := &storage.Message{App: "app", ID: "m1", From: "alice", To: []string{"bob"}, Text: "kept", Time: time.Now().UnixMilli()}
	if err := st.Persist(ctx, m, []string{"bob"}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// The crash's leftover: the next memtable file, created and empty.
	if err := os.WriteFile(filepath.Join(dir, "99999.mem"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err = badger.New(cfg)
	if err != nil {
		t.Fatalf("open after an empty memtable file: %v", err)
	}
	defer st.Close()
	got, err := st.Pending(ctx, "app", "bob")
	if err != nil || len(got) != 1 || got[0].ID != "m1" || got[0].Text != "kept" {
		t.Fatalf("pending after the reopen: %+v, %v", got, err)
	}
}

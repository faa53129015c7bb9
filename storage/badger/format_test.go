package badger

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	bdg "github.com/dgraph-io/badger/v4"

	"github.com/rtgate/rtgate/storage"
)

// writeV1 writes msgs as rtgate's format 1 did (records keyed by id, an
// app-wide index, no format key), each in the inbox of "bob".
func writeV1(t *testing.T, dir string, msgs []*storage.Message) {
	db, err := bdg.Open(bdg.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bdg.Txn) error {
		for _, m := range msgs {
			body, err := encodeMessage(m)
			if err != nil {
				return err
			}
			keys := [][]byte{
				timeID(key(tConv, m.App, m.ConvID), m.Time, m.ID),
				timeID(key(tFrom, m.App, m.From), m.Time, m.ID),
				timeID(key(tAppV1, m.App), m.Time, m.ID),
			}
			if err := tx.Set(key(tMessage, m.App, m.ID), body); err != nil {
				return err
			}
			for _, k := range keys {
				if err := tx.Set(k, nil); err != nil {
					return err
				}
			}
			e := bdg.NewEntry(timeID(key(tInbox, m.App, "bob"), m.Time, m.ID), nil).WithTTL(time.Hour)
			if err := tx.SetEntry(e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func ids(ms []*storage.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

// TestMigrateFormat1 opens a database written in format 1: its messages
// are still pending, in every history, and deletable; the old index is
// gone, and a second open finds the current format.
func TestMigrateFormat1(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().UnixMilli()
	var msgs []*storage.Message
	for i, id := range []string{"m1", "m2", "m3"} {
		msgs = append(msgs, &storage.Message{App: "app", ID: id, From: "alice", To: []string{"bob"},
			Text: "text " + id, Time: now - int64(10-i), ConvID: "conv"})
	}
	writeV1(t, dir, msgs)
	ctx := context.Background()
	open := func() *Store {
		s, err := New(Config{Dir: dir, Logger: slog.New(slog.DiscardHandler), GCInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	ms, err := s.Pending(ctx, "app", "bob")
	if err != nil || !slices.Equal(ids(ms), []string{"m1", "m2", "m3"}) || ms[1].Text != "text m2" {
		t.Fatalf("Pending(bob) after migration = %v, %v; want m1 m2 m3", ids(ms), err)
	}
	for _, q := range []storage.HistoryQuery{{App: "app"}, {App: "app", ConvID: "conv"}, {App: "app", From: "alice"}} {
		ms, err := s.Query(ctx, q)
		if err != nil || !slices.Equal(ids(ms), []string{"m3", "m2", "m1"}) {
			t.Errorf("Query(%+v) after migration = %v, %v; want m3 m2 m1", q, ids(ms), err)
		}
	}
	if err := s.Delete(ctx, "app", "conv", "m2", msgs[1].Time); err != nil {
		t.Errorf("Delete(m2) after migration: %v", err)
	}
	if removed, err := s.Remove(ctx, "app", "bob", []string{"m1"}); err != nil || len(removed) != 1 {
		t.Errorf("Remove(m1) after migration = %v, %v", ids(removed), err)
	}
	var left []string
	s.db.View(func(tx *bdg.Txn) error {
		it := tx.NewIterator(bdg.IteratorOptions{})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if k[0] == tAppV1 || k[0] == tMessage && func() bool { _, _, ok := parseKeyV1(k); return ok }() {
				left = append(left, string(k))
			}
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("format 1 keys left after migration: %q", left)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open()
	defer s.Close()
	ms, err = s.Query(ctx, storage.HistoryQuery{App: "app"})
	if err != nil || !slices.Equal(ids(ms), []string{"m3", "m1"}) {
		t.Errorf("Query after reopening = %v, %v; want m3 m1", ids(ms), err)
	}
}

// TestFormatFromTheFuture: a database of a newer format is refused, with
// a message that says so.
func TestFormatFromTheFuture(t *testing.T) {
	dir := t.TempDir()
	db, err := bdg.Open(bdg.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bdg.Txn) error { return tx.Set(formatKey, []byte{formatVersion + 1}) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := New(Config{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		s.Close()
		t.Fatal("New opened a database of a newer format")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("New: %v, want an error about a newer format", err)
	}
}

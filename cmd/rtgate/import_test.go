package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rtgate/rtgate/internal/natsembed/natstest"
	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/badger"
)

// TestClusterImport runs `rtgate cluster import` on a directory written by
// the single node's store: a progress line and the summary, a second run
// imports nothing, a directory still open (a live node) is refused, and
// a bad command line is a usage error.
func TestClusterImport(t *testing.T) {
	dir := t.TempDir()
	st, err := badger.New(badger.Config{Dir: dir, MemTableSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range 30 {
		m := &storage.Message{App: "app", ID: fmt.Sprint("m", i), From: "alice", To: []string{"bob"}, ConvID: "c",
			Time: time.Now().UnixMilli(), Text: "hi"}
		if err := st.Persist(ctx, m, []string{"bob"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CreateGroup(ctx, &storage.Group{App: "app", ID: "g", Members: []string{"alice", "bob"}}); err != nil {
		t.Fatal(err)
	}
	c := natstest.Single(t)
	args := []string{"import", "--from-badger", dir, "--nats", c.URL(), "--nats-unsafe-single-replica"}
	var out, errOut bytes.Buffer
	if code := runCluster(ctx, args, &out, &errOut, func(string) string { return "" }); code == 0 ||
		!strings.Contains(errOut.String(), "still running") {
		t.Fatalf("import of an open directory: exit %d, %s", code, errOut.String())
	}
	st.Close()
	out.Reset()
	errOut.Reset()
	if code := runCluster(ctx, args, &out, &errOut, func(string) string { return "" }); code != 0 {
		t.Fatalf("import: exit %d: %s", code, errOut.String())
	}
	if want := "imported 1 apps, 1 groups created (2 members; 0 existed already), 30/30 history messages, 1 inboxes with 30 pending messages"; !strings.Contains(out.String(), want) {
		t.Fatalf("summary %q lacks %q", out.String(), want)
	}
	if !strings.Contains(errOut.String(), "import: 30/30 messages, 1 groups, 30 inbox entries") {
		t.Fatalf("no progress line in %q", errOut.String())
	}
	out.Reset()
	if code := runCluster(ctx, args, &out, &errOut, func(string) string { return "" }); code != 0 || !strings.Contains(out.String(), "nothing imported") {
		t.Fatalf("second import: exit %d, %q", code, out.String())
	}
	if code := runCluster(ctx, []string{"import", "--from-badger", dir}, &out, &errOut, func(string) string { return "" }); code != 2 {
		t.Fatalf("import without --nats: exit %d", code)
	}
	if code := runCluster(ctx, []string{"nope"}, &out, &errOut, func(string) string { return "" }); code != 2 {
		t.Fatalf("unknown subcommand: exit %d", code)
	}
}

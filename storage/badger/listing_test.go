package badger_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/badger"
)

// TestListing: Apps, InboxPeers and Messages list everything, with ids of
// awkward lengths and bytes (a 300-byte group id, whose length prefix
// starts with 0xac) and inbox entries still in memory only.
func TestListing(t *testing.T) {
	st, err := badger.New(badger.Config{Dir: t.TempDir(), MemTableSize: 1 << 20, GCInterval: -1, InboxDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	long := strings.Repeat("\xff", 300)
	apps := []string{"a", "a\xff", "b", long}
	for _, app := range apps {
		for _, id := range []string{"g", long, "\xff"} {
			if err := st.CreateGroup(ctx, &storage.Group{App: app, ID: id, Members: []string{"p"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 5 {
		m := &storage.Message{App: "b", ID: fmt.Sprint("m", i), Time: int64(1000 - i), From: "x"}
		if err := st.Persist(ctx, m, []string{"p" + fmt.Sprint(i%2), long}); err != nil {
			t.Fatal(err)
		}
	}
	m := &storage.Message{App: "c", ID: "only", Time: time.Now().UnixMilli(), From: "x"}
	if err := st.Persist(ctx, m, []string{"q"}); err != nil {
		t.Fatal(err)
	}
	got, err := st.Apps(ctx)
	want := append(slices.Clone(apps), "c")
	slices.Sort(want)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("Apps = %q, %v; want %q", got, err, want)
	}
	if got, err := st.InboxPeers(ctx, "c"); err != nil || !slices.Equal(got, []string{"q"}) {
		t.Fatalf("InboxPeers(c) = %q, %v (an entry in memory only)", got, err)
	}
	var times []int64
	if err := st.Messages(ctx, "b", func(m *storage.Message) error { times = append(times, m.Time); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(times, []int64{996, 997, 998, 999, 1000}) {
		t.Fatalf("Messages(b) times %v, want oldest first", times)
	}
}

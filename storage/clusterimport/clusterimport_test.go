package clusterimport_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtgate/rtgate/internal/natsembed/natstest"
	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/badger"
	"github.com/rtgate/rtgate/storage/clusterimport"
	"github.com/rtgate/rtgate/storage/histindex"
	jsstore "github.com/rtgate/rtgate/storage/jetstream"
)

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// fill writes a single node's data with the single node's store: two apps,
// direct and group messages, inboxes partly acknowledged, groups with
// members and app columns, a recent client send.
func fill(t *testing.T, dir string) {
	t.Helper()
	st, err := badger.New(badger.Config{Dir: dir, MemTableSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 30*time.Second)
	now := time.Now().UnixMilli()
	for _, app := range []string{"app1", "app2"} {
		g := &storage.Group{App: app, ID: "g1", Members: []string{"u1", "u2", "u3"}, Attrs: map[string]any{"name": "room", "n": 3.0}}
		if err := st.CreateGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateGroup(ctx, &storage.Group{App: app, ID: "g.2 *", Members: []string{"u4"}, Transient: true}); err != nil {
			t.Fatal(err)
		}
		for i := range 120 {
			m := &storage.Message{App: app, ID: fmt.Sprintf("%s-m%03d", app, i), From: fmt.Sprintf("u%d", i%3+1),
				Time: now - 60_000 + int64(i), Text: fmt.Sprint("text ", i), FromIP: "192.0.2.1"}
			inbox := []string{"u4"}
			if i%2 == 0 {
				m.Room, m.ConvID = "g1", "g1"
				inbox = []string{"u2", "u3"}
			} else {
				m.To, m.ConvID = []string{"u4"}, "conv-u4"
			}
			if i == 119 {
				m.ClientID, m.ClientSum = "client-1", 42
			}
			if err := st.Persist(ctx, m, inbox); err != nil {
				t.Fatal(err)
			}
		}
		// u2 acknowledged the first 20 group messages.
		var ids []string
		for i := 0; i < 40; i += 2 {
			ids = append(ids, fmt.Sprintf("%s-m%03d", app, i))
		}
		if _, err := st.Remove(ctx, app, "u2", ids); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestImport imports a directory the single node wrote into a cluster,
// reads every inbox, group and history page back through the cluster,
// and imports it again: nothing is written twice. A directory a live
// process holds is refused.
func TestImport(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir)
	c := natstest.Single(t)
	nc := c.Connect(0)
	dst, err := jsstore.Open(ctxT(t, 30*time.Second), nc, jsstore.Config{UnsafeSingleReplica: true})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	src, err := badger.New(badger.Config{Dir: dir, MemTableSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()

	// A live node's directory: badger's lock refuses a second opener.
	if _, err := badger.New(badger.Config{Dir: dir}); err == nil {
		t.Fatal("a directory in use opened twice")
	}

	var progress []clusterimport.Counts
	cfg := clusterimport.Config{Source: src, Dest: dst, Conn: nc, Replicas: 1,
		Progress: func(c clusterimport.Counts) { progress = append(progress, c) }}
	counts, err := clusterimport.Run(ctxT(t, 60*time.Second), cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := clusterimport.Counts{Apps: 2, Groups: 4, Members: 8, Messages: 240, MessagesTotal: 240,
		Inboxes: 6, InboxEntries: 2 * (50 + 50 + 40), SendClaims: 2}
	// Per app: u4 and u3 the newest 50 (the inbox limit), u2 40 unacked.
	if counts != want {
		t.Fatalf("counts %+v, want %+v", counts, want)
	}
	if len(progress) == 0 || progress[len(progress)-1] != counts {
		t.Fatalf("progress %v does not end with the counts", progress)
	}

	ctx := ctxT(t, 60*time.Second)
	ix, err := histindex.Open(ctx, histindex.Config{Conn: nc, Dir: t.TempDir(), Name: "i", MemTableSize: 4 << 20,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	hist, err := histindex.NewClient(histindex.ClientConfig{Conn: nc})
	if err != nil {
		t.Fatal(err)
	}
	for _, app := range []string{"app1", "app2"} {
		for _, peer := range []string{"u1", "u2", "u3", "u4"} {
			w, err := src.Pending(ctx, app, peer)
			if err != nil {
				t.Fatal(err)
			}
			g, err := dst.Pending(ctx, app, peer)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(deref(w)) != fmt.Sprint(deref(g)) {
				t.Fatalf("%s/%s pending: cluster %d messages, single node %d", app, peer, len(g), len(w))
			}
		}
		for _, id := range []string{"g1", "g.2 *"} {
			w, err := src.Group(ctx, app, id)
			if err != nil {
				t.Fatal(err)
			}
			g, err := dst.Group(ctx, app, id)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(*w) != fmt.Sprint(*g) {
				t.Fatalf("group %s/%s: cluster %+v, single node %+v", app, id, g, w)
			}
		}
		for _, q := range []storage.HistoryQuery{{App: app, Limit: 1000}, {App: app, ConvID: "g1", Limit: 7},
			{App: app, From: "u2"}, {App: app, ConvID: "conv-u4", Before: time.Now().UnixMilli() - 59_950}} {
			w, err := src.Query(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			g, err := hist.Query(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(w) == 0 || !slices.EqualFunc(w, g, func(a, b *storage.Message) bool { return fmt.Sprint(norm(a)) == fmt.Sprint(norm(b)) }) {
				t.Fatalf("history %+v: cluster %d messages, single node %d", q, len(g), len(w))
			}
		}
		claim, owned, err := dst.ClaimSend(ctx, storage.SendKey{App: app, From: "u3", ClientID: "client-1"}, 42)
		if err != nil || owned || !claim.Done || claim.ID != app+"-m119" {
			t.Fatalf("send claim after import: %+v owned %v err %v", claim, owned, err)
		}
	}

	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	streamMsgs := func() uint64 {
		var n uint64
		for _, name := range []string{"RT_INBOX", "RT_HIST"} {
			s, err := js.Stream(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			info, err := s.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n += info.State.Msgs
		}
		return n
	}
	before := streamMsgs()
	again, err := clusterimport.Run(ctx, cfg)
	if !errors.Is(err, clusterimport.ErrAlreadyImported) || again != counts {
		t.Fatalf("second import: %+v, %v; want ErrAlreadyImported and the first counts", again, err)
	}
	if after := streamMsgs(); after != before {
		t.Fatalf("second import wrote %d stream messages", after-before)
	}
}

func deref(ms []*storage.Message) []storage.Message {
	out := make([]storage.Message, len(ms))
	for i, m := range ms {
		out[i] = norm(m)
	}
	return out
}

func norm(m *storage.Message) storage.Message {
	c := *m
	if len(c.To) == 0 {
		c.To = nil
	}
	return c
}

package rest_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rtgate/rtgate/internal/natsembed/natstest"
	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/badger"
	"github.com/rtgate/rtgate/storage/histindex"
	"github.com/rtgate/rtgate/storage/jetstream"
)

// TestClusterHistoryPages: the history endpoints of a cluster node (the
// JetStream store, history answered by an indexer on another server of a
// three-server NATS cluster) give byte for byte the bodies a single node
// (Badger) gives for the same messages, for every filter, bound and page,
// before and after a DELETE.
func TestClusterHistoryPages(t *testing.T) {
	c := natstest.Start(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	js, err := jetstream.Open(ctx, c.Connect(0), jetstream.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer js.Close()
	ix, err := histindex.Open(ctx, histindex.Config{Conn: c.Connect(1), Dir: t.TempDir(), Name: "n1",
		MemTableSize: 4 << 20, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	cl, err := histindex.NewClient(histindex.ClientConfig{Conn: c.Connect(2)})
	if err != nil {
		t.Fatal(err)
	}
	single, err := badger.New(badger.Config{Dir: t.TempDir(), MemTableSize: 4 << 20, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer single.Close()

	base := time.Now().UnixMilli() - 10_000
	var msgs []*storage.Message
	for i := range 400 {
		conv := fmt.Sprintf("conv%d", i%4)
		m := &storage.Message{App: appID, ID: fmt.Sprintf("id%03d", (i*37)%400), From: fmt.Sprintf("u%d", i%3),
			Time: base + int64(i/4), ConvID: conv, Text: fmt.Sprintf(`{"_lctext":"m%d é \u2028"}`, i), FromIP: "192.0.2.7"}
		if i%4 == 3 {
			m.Room = conv
		} else {
			m.To = []string{"u9", fmt.Sprintf("u%d", i%5)}
		}
		if i%7 == 0 {
			m.To = nil
		}
		msgs = append(msgs, m)
	}
	for _, st := range []storage.Messages{single, js} {
		for _, m := range msgs {
			if err := st.Persist(ctx, m, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	one := newEnv(t, single, nil)
	clu := newEnv(t, histindex.Wrap(js, cl), nil)

	ts := func(d int64) string { return fmt.Sprint(base + d) }
	paths := []string{
		"convid=conv0", "convid=conv1&limit=7", "convid=conv3&limit=1000", "convid=nope",
		"from=u1", "from=u2&limit=33&max_ts=" + ts(50), "limit=1000", "", "limit=5&timestamp=" + ts(20),
		"convid=conv2&max_ts=" + ts(30) + "&msgid=id200", "convid=conv0&max_ts=" + ts(60) + "&timestamp=" + ts(40),
		"limit=0", "limit=5000", "convid=conv0&from=u1", "limit=x",
	}
	compare := func(when string) {
		t.Helper()
		for _, p := range paths {
			want := one.do("GET", "/1.1/rtm/messages/logs?"+p, masterHdr, "")
			got := clu.do("GET", "/1.1/rtm/messages/logs?"+p, masterHdr, "")
			if got.status != want.status || got.body != want.body {
				t.Fatalf("%s: ?%s: cluster %d %.300s\nsingle node %d %.300s", when, p, got.status, got.body, want.status, want.body)
			}
		}
		// Paging through a conversation with msgid, 9 at a time.
		q := url.Values{"convid": {"conv1"}, "limit": {"9"}}
		for range 100 {
			want := one.do("GET", "/1.1/rtm/messages/logs?"+q.Encode(), masterHdr, "")
			got := clu.do("GET", "/1.1/rtm/messages/logs?"+q.Encode(), masterHdr, "")
			if got.status != 200 || got.body != want.body {
				t.Fatalf("%s: page ?%s: cluster %d %.300s\nsingle node %.300s", when, q.Encode(), got.status, got.body, want.body)
			}
			var page []struct {
				Timestamp int64  `json:"timestamp"`
				MsgID     string `json:"msg-id"`
			}
			got.decode(t, 200, &page)
			if len(page) < 9 {
				return
			}
			q.Set("max_ts", fmt.Sprint(page[len(page)-1].Timestamp))
			q.Set("msgid", page[len(page)-1].MsgID)
		}
		t.Fatalf("%s: paging did not end", when)
	}
	compare("before delete")

	for _, m := range []*storage.Message{msgs[5], msgs[6]} {
		del := "/1.1/rtm/messages/logs?" + url.Values{"convid": {m.ConvID}, "msgid": {m.ID}, "timestamp": {fmt.Sprint(m.Time)}}.Encode()
		want := one.do("DELETE", del, masterHdr, "")
		got := clu.do("DELETE", del, masterHdr, "")
		if got.status != want.status || got.body != want.body {
			t.Fatalf("DELETE: cluster %d %s, single node %d %s", got.status, got.body, want.status, want.body)
		}
		want = one.do("DELETE", del, masterHdr, "")
		got = clu.do("DELETE", del, masterHdr, "")
		if got.status != want.status || got.body != want.body || got.status != 404 {
			t.Fatalf("second DELETE: cluster %d %s, single node %d %s", got.status, got.body, want.status, want.body)
		}
	}
	compare("after delete")
	if a := clu.do("GET", "/1.1/rtm/messages/logs?convid=conv1", masterHdr, ""); strings.Contains(a.body, `"msg-id":"`+msgs[5].ID+`"`) {
		t.Fatalf("deleted message still on a page: %s", a.body)
	}
}

package histindex

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtgate/rtgate/internal/benchenv"
	"github.com/rtgate/rtgate/internal/natsembed/natstest"
	"github.com/rtgate/rtgate/storage"
	jsstore "github.com/rtgate/rtgate/storage/jetstream"
)

// BenchmarkQuery measures a page of 20 by conversation through the
// indexer (NATS request/reply from another connection, read-your-writes
// check included), after RTGATE_BENCH_HIST_MESSAGES (default 20 000)
// messages in 1 000 conversations are in the history stream, on
// RTGATE_BENCH_HIST_SERVERS nats-servers (default 3; the stream has as
// many replicas). It reports the query's p50 and p99 over
// RTGATE_BENCH_HIST_QUERIES (default 5 000) queries per b.N, one after
// the other, and the catch-up rate of a fresh indexer reading the whole
// stream. Run it once (-benchtime 1x): each run writes the stream again.
//
//	RTGATE_BENCH_HIST_MESSAGES=1000000 go test -run '^$' -bench Query -benchtime 1x -timeout 2h ./storage/histindex
func BenchmarkQuery(b *testing.B) {
	n := benchenv.Int("RTGATE_BENCH_HIST_MESSAGES", 20_000)
	servers := benchenv.Int("RTGATE_BENCH_HIST_SERVERS", 3)
	const convs = 1000
	var c *natstest.Cluster
	if servers == 1 {
		c = natstest.Single(b)
	} else {
		c = natstest.Start(b, servers)
	}
	nc := c.Connect(0)
	ctx := context.Background()
	st, err := jsstore.Open(ctx, nc, jsstore.Config{Replicas: servers, UnsafeSingleReplica: servers < 3})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	t0 := time.Now()
	if err := loadHistory(ctx, nc, n, convs); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d messages written to the history stream (R%d) in %s", n, servers, time.Since(t0).Round(time.Millisecond))

	start := time.Now()
	ix, err := Open(ctx, Config{Conn: c.Connect(servers - 1), Dir: b.TempDir(), Name: "bench", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer ix.Close()
	ix.cfg.WaitTimeout = 2 * time.Hour
	if err := ix.catchUp(ctx, 0); err != nil {
		b.Fatal(err)
	}
	catchup := float64(n) / time.Since(start).Seconds()
	cl, err := NewClient(ClientConfig{Conn: c.Connect(1 % servers)})
	if err != nil {
		b.Fatal(err)
	}
	page := min(20, n/convs)
	queries := benchenv.Int("RTGATE_BENCH_HIST_QUERIES", 5000) * b.N
	lat := make([]time.Duration, 0, queries)
	b.ResetTimer()
	for i := range queries {
		t0 := time.Now()
		ms, err := cl.Query(ctx, storage.HistoryQuery{App: "a", ConvID: fmt.Sprint("c", i%convs), Limit: 20})
		lat = append(lat, time.Since(t0))
		if err != nil || len(ms) != page {
			b.Fatalf("query: %d messages, %v", len(ms), err)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(catchup, "catchup-msgs/s")
	b.ReportMetric(float64(n), "stored-msgs")
}

// loadHistory appends n messages in convs conversations to the history
// stream as Persist records them (the record the indexer reads), with
// asynchronous publishes: the setup of BenchmarkQuery, not measured.
func loadHistory(ctx context.Context, nc *nats.Conn, n, convs int) error {
	var failed atomic.Int64
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { failed.Add(1) }))
	if err != nil {
		return err
	}
	base := time.Now().UnixMilli() - int64(n)
	for i := range n {
		m := &storage.Message{App: "a", ID: fmt.Sprint("m", i), From: fmt.Sprint("p", i%50), To: []string{"q"},
			ConvID: fmt.Sprint("c", i%convs), Time: base + int64(i), Text: "a message of an ordinary length, say forty bytes"}
		if _, err := js.PublishAsync(jsstore.HistSubject("", m.App, m.ConvID, m.From), jsstore.EncodeMessage(m)); err != nil {
			return err
		}
		if i%2048 == 2047 || i == n-1 { // a window of 2 048 in flight
			select {
			case <-js.PublishAsyncComplete():
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if k := failed.Load(); k != 0 {
		return fmt.Errorf("%d of %d publishes failed", k, n)
	}
	return nil
}

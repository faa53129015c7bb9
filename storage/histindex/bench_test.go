package histindex

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rtgate/rtgate/internal/natsembed/natstest"
	"github.com/rtgate/rtgate/storage"
	jsstore "github.com/rtgate/rtgate/storage/jetstream"
)

// BenchmarkQuery measures a page of 20 by conversation through the
// indexer (NATS request/reply, read-your-writes check included) on one
// nats-server, after RTGATE_BENCH_HIST_MESSAGES (default 20 000) messages
// in 1 000 conversations; it reports p50 and p99 and the catch-up rate of
// a fresh indexer:
//
//	RTGATE_BENCH_HIST_MESSAGES=1000000 go test -run '^$' -bench Query -benchtime 2000x ./storage/histindex
func BenchmarkQuery(b *testing.B) {
	n := 20_000
	if v, err := strconv.Atoi(os.Getenv("RTGATE_BENCH_HIST_MESSAGES")); err == nil && v > 0 {
		n = v
	}
	c := natstest.Single(b)
	nc := c.Connect(0)
	ctx := context.Background()
	st, err := jsstore.Open(ctx, nc, jsstore.Config{UnsafeSingleReplica: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	base := time.Now().UnixMilli() - int64(n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			m := &storage.Message{App: "a", ID: fmt.Sprint("m", i), From: fmt.Sprint("p", i%50), To: []string{"q"},
				ConvID: fmt.Sprint("c", i%1000), Time: base + int64(i), Text: "a message of an ordinary length, say forty bytes"}
			if err := st.Persist(ctx, m, nil); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	start := time.Now()
	ix, err := Open(ctx, Config{Conn: nc, Dir: b.TempDir(), Name: "bench", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer ix.Close()
	ix.cfg.WaitTimeout = time.Hour
	if err := ix.catchUp(ctx, 0); err != nil {
		b.Fatal(err)
	}
	catchup := float64(n) / time.Since(start).Seconds()
	cl, err := NewClient(ClientConfig{Conn: c.Connect(0)})
	if err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		ms, err := cl.Query(ctx, storage.HistoryQuery{App: "a", ConvID: fmt.Sprint("c", i%1000), Limit: 20})
		lat = append(lat, time.Since(t0))
		if err != nil || len(ms) != min(20, n/1000) {
			b.Fatalf("query: %d messages, %v", len(ms), err)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(catchup, "catchup-msgs/s")
}

package clusterimport_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rtgate/rtgate/internal/benchenv"
	"github.com/rtgate/rtgate/internal/natsembed/natstest"
	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/badger"
	"github.com/rtgate/rtgate/storage/clusterimport"
	jsstore "github.com/rtgate/rtgate/storage/jetstream"
)

// BenchmarkImport measures what `rtgate cluster import --from-badger`
// runs (clusterimport.Run, default Parallel): a single node's directory
// holding RTGATE_BENCH_IMPORT_MESSAGES (default 20 000) messages in 1 000
// conversations, one in ten still pending in its recipient's inbox, into
// RTGATE_BENCH_IMPORT_SERVERS nats-servers (default 3, R3). Each
// iteration imports into a fresh namespace; it reports history messages
// imported per second:
//
//	RTGATE_BENCH_IMPORT_MESSAGES=100000 go test -run '^$' -bench Import -benchtime 1x -timeout 1h ./storage/clusterimport
func BenchmarkImport(b *testing.B) {
	n := benchenv.Int("RTGATE_BENCH_IMPORT_MESSAGES", 20_000)
	servers := benchenv.Int("RTGATE_BENCH_IMPORT_SERVERS", 3)
	dir := b.TempDir()
	t0 := time.Now()
	fillN(b, dir, n)
	b.Logf("%d messages written to the single node's store in %s", n, time.Since(t0).Round(time.Millisecond))
	src, err := badger.New(badger.Config{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	var c *natstest.Cluster
	if servers == 1 {
		c = natstest.Single(b)
	} else {
		c = natstest.Start(b, servers)
	}
	nc := c.Connect(0)
	ctx := context.Background()
	var took time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		ns := fmt.Sprint("imp", i)
		dst, err := jsstore.Open(ctx, nc, jsstore.Config{Namespace: ns, Replicas: servers, UnsafeSingleReplica: servers < 3})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		counts, err := clusterimport.Run(ctx, clusterimport.Config{Source: src, Dest: dst, Conn: nc, Namespace: ns, Replicas: servers})
		took += time.Since(t0)
		b.StopTimer()
		dst.Close()
		if err != nil {
			b.Fatal(err)
		}
		if counts.Messages != n || counts.InboxEntries != n/10 {
			b.Fatalf("imported %s, want %d messages and %d inbox entries", counts, n, n/10)
		}
	}
	b.ReportMetric(float64(n*b.N)/took.Seconds(), "msgs/s")
	b.ReportMetric(float64(n), "stored-msgs")
}

// fillN writes n messages into a single node's store in dir: 1 000
// conversations, every tenth message pending for its recipient (about 20
// pending per recipient: under the inbox limit).
func fillN(b *testing.B, dir string, n int) {
	st, err := badger.New(badger.Config{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	base := time.Now().UnixMilli() - int64(n)
	recipients := n/10/20 + 1
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			conv := i % 1000
			to := fmt.Sprint("r", (i/10)%recipients)
			m := &storage.Message{App: "a", ID: fmt.Sprint("m", i), From: fmt.Sprint("s", conv), To: []string{to},
				ConvID: fmt.Sprint("c", conv), Time: base + int64(i), Text: "a message of an ordinary length, say forty bytes"}
			var inbox []string
			if i%10 == 0 {
				inbox = []string{to}
			}
			if err := st.Persist(ctx, m, inbox); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
}

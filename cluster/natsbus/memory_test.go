package natsbus_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtgate/rtgate/cluster"
	"github.com/rtgate/rtgate/cluster/natsbus"
	"github.com/rtgate/rtgate/internal/natsembed/natstest"
)

// TestMain lets natstest.StartProcs re-execute this test binary as a
// nats-server.
func TestMain(m *testing.M) {
	natstest.ServeIfChild()
	os.Exit(m.Run())
}

// BenchmarkPresenceMemory is the gateway memory of the presence map per
// online peer (scaleout.md 7, benchmark "gateway memory per 100k online
// peers"). Three nats-servers run as child processes, so their memory is
// not in this heap. A Bus (the gateway under measure) watches the
// presence buckets while RTGATE_BENCH_PRESENCE_PEERS (100 000) peers are
// registered on three other nodes, written straight into the bucket as
// those nodes' Bus would write them (a lease key per node, then
// p.<app>.<peer>.<node> per peer). Once the Bus shows the last of them
// online and every one of them is checked, it reports the live heap's
// growth (runtime.MemStats.HeapAlloc after GC) per peer and in total.
// RTGATE_BENCH_PRESENCE_HEAPPROFILE=FILE writes the heap profile at that
// point.
//
//	go test -run '^$' -bench PresenceMemory -benchtime 1x ./cluster/natsbus
func BenchmarkPresenceMemory(b *testing.B) {
	peers := 100_000
	if v := os.Getenv("RTGATE_BENCH_PRESENCE_PEERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 2_000_000 {
			b.Fatalf("RTGATE_BENCH_PRESENCE_PEERS=%q: want 1..2000000", v)
		}
		peers = n
	}
	const remotes = 3
	procs := natstest.StartProcs(b, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	obs, err := natsbus.Open(ctx, natsbus.Config{Conn: procs.Connect(0), Name: "observer", Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer obs.Close()
	// The writer stands in for the other nodes: its connection is open
	// before the first reading, and its publishes are garbage after.
	wc := procs.Connect(1)
	js, err := jetstream.New(wc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		b.Fatal(err)
	}
	leases, err := js.KeyValue(ctx, natsbus.LeasesBucket)
	if err != nil {
		b.Fatal(err)
	}
	nodes := make([]string, remotes)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("gw%d-%013d", i+1, i+1)                 // shaped like an incarnation, name-<boot id>
		if _, err := leases.Put(ctx, "n."+nodes[i], nil); err != nil { // a lease with no TTL: alive for the whole run
			b.Fatal(err)
		}
	}
	const app = "benchapp"
	peer := func(i int) string { return fmt.Sprintf("user-%08d", i) }
	for b.Loop() {
		heap0 := liveHeap()
		t0 := time.Now()
		for i := range peers {
			subj := "$KV." + natsbus.PeersBucket + ".p." + cluster.Token(app) + "." + cluster.Token(peer(i)) + "." + nodes[i%remotes]
			if _, err := js.PublishAsync(subj, nil, jetstream.WithStallWait(time.Minute)); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-ctx.Done():
			b.Fatal("publishes not acknowledged in time")
		}
		for i := peers - 1; !obs.Online(app, peer(i)); {
			if ctx.Err() != nil {
				b.Fatalf("peer %d not online at the observer in time", i)
			}
			time.Sleep(10 * time.Millisecond)
		}
		applied := time.Since(t0)
		for i := range peers {
			if !obs.Online(app, peer(i)) {
				b.Fatalf("peer %d not online at the observer", i)
			}
		}
		heap1 := liveHeap()
		if f := os.Getenv("RTGATE_BENCH_PRESENCE_HEAPPROFILE"); f != "" {
			writeHeapProfile(b, f)
		}
		grow := float64(heap1) - float64(heap0)
		b.ReportMetric(grow/float64(peers), "B/peer")
		b.ReportMetric(grow/(1<<20)*100_000/float64(peers), "MiB/100k-peers")
		b.ReportMetric(float64(peers)/applied.Seconds(), "keys/s")
		b.Logf("%d peers on %d other nodes: live heap %.1f → %.1f MiB (+%.1f MiB, %.0f B/peer); written and applied in %v",
			peers, remotes, float64(heap0)/(1<<20), float64(heap1)/(1<<20), grow/(1<<20), grow/float64(peers), applied.Round(time.Millisecond))
		b.StopTimer()
		// Take them off again, so a second iteration starts from empty.
		for i := range peers {
			subj := "$KV." + natsbus.PeersBucket + ".p." + cluster.Token(app) + "." + cluster.Token(peer(i)) + "." + nodes[i%remotes]
			del := &nats.Msg{Subject: subj, Header: nats.Header{"KV-Operation": []string{"DEL"}}} // what kv.Delete sends
			if _, err := js.PublishMsgAsync(del, jetstream.WithStallWait(time.Minute)); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-ctx.Done():
			b.Fatal("deletes not acknowledged in time")
		}
		for i := peers - 1; obs.Online(app, peer(i)); {
			if ctx.Err() != nil {
				b.Fatal("peers still online at the observer")
			}
			time.Sleep(10 * time.Millisecond)
		}
		b.StartTimer()
	}
}

// writeHeapProfile writes the heap profile (what is live now) to path.
func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

// liveHeap is the heap in use by live objects after two collections.
func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

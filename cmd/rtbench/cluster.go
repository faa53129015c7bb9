package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rtgate/rtgate/internal/serverproc"
)

// Placements of a pair's two peers over the nodes of a cluster.
const (
	placeCross = "cross" // the sender on node i, its receiver on node i+1
	placeSame  = "same"  // both on node i
	placeBoth  = "both"  // same, then cross, on the same cluster
)

// clusterStartTimeout bounds the start of a spawned cluster: every node
// waits for the others' routes and a JetStream meta leader, then creates
// or checks its streams and buckets.
const clusterStartTimeout = 90 * time.Second

// clusterSpec is a cluster of rtgate nodes rtbench starts on loopback.
type clusterSpec struct {
	path  string   // the rtgate binary
	nodes int      // how many (≥ 2)
	args  []string // extra arguments for every node
	log   io.Writer
	// external runs as many nats-servers as nodes in processes of their
	// own (`rtbench nats-server`: JetStream, sync_interval always) and
	// connects the nodes to them with --nats, the production topology,
	// instead of --nats-embed.
	external bool
}

// spawnCluster starts spec.nodes rtgate processes, each with an embedded
// JetStream nats-server (--nats-embed, sync_interval always, R3 assets)
// routed to the others, on loopback ports it picks, and waits until every
// node's /healthz says "cluster":"ok". The returned target is node 0;
// its stop ends every node. A start that fails because a picked port was
// taken meanwhile is retried once with new ports.
func spawnCluster(ctx context.Context, spec clusterSpec) (*target, error) {
	if _, ok := spec.log.(*os.File); !ok {
		// Every node's stderr is copied to log by a goroutine of its own.
		spec.log = &lockedWriter{w: spec.log}
	}
	t, err := spawnClusterOnce(ctx, spec)
	if err != nil && ctx.Err() == nil {
		fmt.Fprintf(spec.log, "rtbench: cluster start failed (%v); retrying once with new ports\n", err)
		t, err = spawnClusterOnce(ctx, spec)
	}
	return t, err
}

func spawnClusterOnce(ctx context.Context, spec clusterSpec) (*target, error) {
	n := spec.nodes
	ports, err := serverproc.FreePorts(2 * n)
	if err != nil {
		return nil, err
	}
	plan := serverproc.Routes{Ports: ports[n:]} // the nats-servers' route ports
	routes := plan.URLs()
	urls := make([]string, n) // their client URLs
	for i := range n {
		urls[i] = fmt.Sprintf("nats://127.0.0.1:%d", ports[i])
	}
	var natsd []*target // external nats-servers, stopped after the nodes
	var natsStops []func()
	stopNATS := func() { stopParallel(natsStops) }
	if spec.external {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		var errs []error
		natsd, errs = spawnParallel(n, func(i int) (*target, error) {
			return spawn(ctx, spawnSpec{name: fmt.Sprintf("nats-server s%d", i+1), path: exe, log: spec.log, dataDir: true,
				args: []string{"nats-server", "--name", fmt.Sprintf("s%d", i+1), "--listen", fmt.Sprintf("127.0.0.1:%d", ports[i]),
					"--cluster", plan.Addr(i), "--routes", strings.Join(routes, ",")}})
		})
		natsStops = stopsOf(natsd)
		if err := errors.Join(errs...); err != nil {
			stopNATS()
			return nil, err
		}
	}
	nodes, errs := spawnParallel(n, func(i int) (*target, error) {
		args := []string{"--listen", "127.0.0.1:0", "--quic", "127.0.0.1:0", "--log-level", "warn", "--debug-addr", "127.0.0.1:0",
			"--node-name", fmt.Sprintf("n%d", i+1)}
		if spec.external {
			// Its own server first, then the others.
			args = append(args, "--nats", strings.Join(append(append([]string{urls[i]}, urls[:i]...), urls[i+1:]...), ","))
		} else {
			args = append(args, plan.EmbedArgs(i, fmt.Sprintf("127.0.0.1:%d", ports[i]))...)
		}
		return spawn(ctx, spawnSpec{name: fmt.Sprintf("rtgate n%d", i+1), path: spec.path,
			args: append(args, spec.args...), log: spec.log, dataDir: true, timeout: clusterStartTimeout})
	})
	nodeStops := stopsOf(nodes) // taken now: the nodes' own stop fields change below
	stopAll := func() {         // SIGTERM to every node at once: each leaves gracefully (about 2 s)
		stopParallel(nodeStops)
		stopNATS()
	}
	if err := errors.Join(errs...); err != nil {
		stopAll()
		return nil, err
	}
	hctx, cancel := context.WithTimeout(ctx, clusterStartTimeout)
	defer cancel()
	for _, t := range nodes {
		if err := serverproc.WaitHealthy(hctx, t.httpAddr); err != nil {
			stopAll()
			return nil, fmt.Errorf("rtbench: %s: %w", t.name, err)
		}
	}
	head := nodes[0]
	head.name = "rtgate"
	head.more = nodes[1:]
	for _, t := range head.more {
		t.name, t.stop = "rtgate", nil
	}
	head.stop = stopAll
	for _, t := range natsd {
		head.extraPIDs = append(head.extraPIDs, t.pid)
	}
	return head, nil
}

// spawnParallel runs start(0..n-1) at once and returns what each gave
// (nil targets for failures).
func spawnParallel(n int, start func(i int) (*target, error)) ([]*target, []error) {
	ts := make([]*target, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { // owned by spawnParallel, which waits on wg
			defer wg.Done()
			ts[i], errs[i] = start(i)
		}()
	}
	wg.Wait()
	return ts, errs
}

// stopsOf returns the stop functions of the started targets of ts.
func stopsOf(ts []*target) []func() {
	var stops []func()
	for _, t := range ts {
		if t != nil && t.stop != nil {
			stops = append(stops, t.stop)
		}
	}
	return stops
}

// stopParallel runs every stop at once and waits.
func stopParallel(stops []func()) {
	var wg sync.WaitGroup
	for _, stop := range stops {
		wg.Add(1)
		go func() { defer wg.Done(); stop() }() // owned by stopParallel
	}
	wg.Wait()
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer // guarded by mu
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// nodeOf returns the node (index into n nodes) of the i-th peer of role
// under placement: senders of pair i go to node i mod n; their receivers
// to the same node (same) or the next one (cross). Other roles spread
// round-robin. With one node everything is on node 0.
func nodeOf(n int, role byte, i int, placement string) int {
	if n <= 1 {
		return 0
	}
	if role == 'r' && placement == placeCross {
		return (i + 1) % n
	}
	return i % n
}

// Command rtbench is the load generator for rtgate: it opens many
// connections over one transport (WebSocket v1 JSON, modern JSON or
// msgpack, raw QUIC, WebTransport), drives a workload at a fixed open-loop
// rate and reports delivered msgs/s, one-way latency percentiles, losses,
// errors and the server's CPU and memory.
//
// Workloads:
//
//	direct  N sender/receiver pairs; each sender watches its receiver and
//	        sends direct messages of S bytes; the total rate R is spread
//	        over the senders. --persistent: the server acks each message
//	        and receivers ack each delivery.
//	fanout  one group of M members, K of which send to the group.
//	idle    C connections, each with an open session watching two peers;
//	        reports the server's RSS, Go heap and goroutines per connection.
//	drain   rounds in which a peer opens with 50 persistent messages
//	        waiting; reports open → last message p50/p99.
//
// Clusters: --addr and --quic take a comma-separated list of nodes, and
// --spawn-cluster N starts N rtgate nodes with embedded JetStream
// nats-servers (R3, sync_interval always) on loopback. Peers are spread
// over the nodes by --placement: cross puts a sender on node i and its
// receiver on node i+1, same puts both on node i, both measures same
// then cross on the same cluster.
//
// --find-max steps the rate up until p99 > --max-p99 or anything is lost.
// --relay runs the workload against the bare relay (package relay, spawned
// as `rtbench relay`: WebSocket, raw QUIC and WebTransport with rtgate's
// framing), --compare against rtgate then the relay, with
// ratios. --spawn-server PATH starts rtgate (or `self`: rtbench's in-process
// profiling harness, `rtbench serve`) with a temporary data directory,
// pinned to one CPU with taskset and GOMAXPROCS=--server-procs (2), and
// pins rtbench to the other CPU (--pin). Only loopback targets are accepted.
//
// Every loop is bounded in count and time: connections by flag limits,
// phases by --warmup + --duration + --drain, find-max by --max-steps.
//
// Concurrency: one receive goroutine per connection (owned by the bench,
// which closes every connection and waits for them), --workers sending
// goroutines per phase (waited for by the phase).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "relay":
		err = relayMain(ctx, os.Args[2:], os.Stdout, os.Stderr)
	case len(os.Args) > 1 && os.Args[1] == "nats-server":
		err = natsMain(ctx, os.Args[2:], os.Stdout, os.Stderr)
	case len(os.Args) > 1 && os.Args[1] == "serve":
		err = serveMain(ctx, os.Args[2:], os.Stdout, os.Stderr)
	default:
		err = run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "rtbench:", err)
		os.Exit(1)
	}
}

// strList is a repeatable string flag.
type strList []string

func (s *strList) String() string     { return strings.Join(*s, " ") }
func (s *strList) Set(v string) error { *s = append(*s, v); return nil }

// cli is everything run reads from flags.
type cli struct {
	o           Options
	addr, quic  string // comma-separated: one per node
	serverPID   string // comma-separated pids, one per node of --addr
	cluster     int    // --spawn-cluster: nodes to start, 0 for one server
	clusterNATS string // --cluster-nats: embed or external
	metrics     string
	relay       bool
	compare     bool
	spawn       string
	serverArgs  strList
	pin         bool
	srvCPUs     string
	srvProcs    int
	cliProcs    int
	cliCPUs     string
	cpuProfile  string
	jsonOut     bool
	selfProf    string
	gogc        int
	quiet       bool
}

func parse(args []string, stderr io.Writer) (*cli, error) {
	c := &cli{}
	o := &c.o
	fs := flag.NewFlagSet("rtbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Workload, "workload", wDirect, "direct, fanout, idle or drain")
	fs.StringVar(&o.Transport, "transport", tWSLegacy, "ws-legacy, ws-json, ws-msgpack, quic or webtransport")
	fs.IntVar(&o.Pairs, "pairs", 1000, "direct: sender/receiver pairs (2 connections each)")
	fs.IntVar(&o.Members, "members", 100, "fanout: group members")
	fs.IntVar(&o.Senders, "senders", 10, "fanout: members that send")
	fs.IntVar(&o.Conns, "conns", 1000, "idle: connections")
	fs.IntVar(&o.Size, "size", 100, "message text `bytes` (≤ 5120; at least 25)")
	fs.Float64Var(&o.Rate, "rate", 0, "offered messages/s, all senders together (default 10000; fanout 100); find-max starts here")
	fs.BoolVar(&o.Persistent, "persistent", false, "persistent messages (server acks, receivers ack)")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "measured window")
	fs.DurationVar(&o.Warmup, "warmup", 2*time.Second, "sending before the window, not measured")
	fs.DurationVar(&o.Prime, "prime", 2*time.Second, "extra warmup of the first phase (or find-max step): the first messages on fresh connections are not the steady state")
	fs.DurationVar(&o.Drain, "drain", 3*time.Second, "wait at most this long for messages in flight after the window")
	fs.DurationVar(&o.Settle, "settle", 3*time.Second, "idle: wait before reading the server's memory")
	fs.IntVar(&o.Workers, "workers", 16, "sending goroutines")
	fs.BoolVar(&o.NoDatagrams, "no-datagrams", false, "quic: dial without datagram support, so transient messages come on the stream (the default asks for datagrams, as the Go SDK does)")
	fs.BoolVar(&o.WTDatagrams, "wt-datagrams", false, "webtransport: ask for datagrams (/wt?datagrams=1), so transient messages to an idle session leave as datagrams")
	fs.BoolVar(&o.QUICSocketPerConn, "quic-socket-per-conn", false, "QUIC/WebTransport: a new UDP socket per connection instead of one shared quic.Transport (the old behaviour; slow with many connections)")
	fs.IntVar(&o.Dial, "dial", 0, "connections set up in parallel (default 32; 8 for QUIC/WebTransport)")
	fs.StringVar(&o.AppID, "app", "rtbench", "appId (the server must be in dev mode or define it without signatures)")
	fs.BoolVar(&o.FindMax, "find-max", false, "step the rate up until p99 > --max-p99 or a loss; report the highest passing rate")
	fs.DurationVar(&o.MaxP99, "max-p99", 50*time.Millisecond, "find-max: p99 limit")
	fs.Float64Var(&o.StepFactor, "step-factor", 1.5, "find-max: rate multiplier per step")
	fs.Float64Var(&o.GenLimit, "gen-limit", 80, "mark a step generator-limited when rtbench used more than this % of its cores (GOMAXPROCS); a find-max whose deciding steps are generator-limited is not reported as the server's maximum")
	fs.IntVar(&o.MaxSteps, "max-steps", 12, "find-max: at most this many steps")
	fs.StringVar(&o.Placement, "placement", placeCross, "several nodes: cross (sender on node i, receiver on node i+1), same (both on node i) or both (same, then cross, on the same cluster; prints the difference)")
	fs.IntVar(&o.Rounds, "rounds", 100, "drain: rounds (peers that open with messages waiting), one after the other")
	fs.IntVar(&o.DrainMsgs, "drain-msgs", 50, "drain: persistent messages waiting for each round's peer (≤ 50)")
	fs.IntVar(&c.cluster, "spawn-cluster", 0, "with --spawn-server PATH: start `N` rtgate nodes (≥ 2) with embedded nats-servers (--nats-embed, R3, sync_interval always) routed to each other on loopback, unpinned")
	fs.StringVar(&c.clusterNATS, "cluster-nats", "embed", "--spawn-cluster: embed (each node runs its nats-server, --nats-embed) or external (as many `rtbench nats-server` processes, R3, sync_interval always, and the nodes connect with --nats)")
	fs.IntVar(&o.Retries, "retries", 0, "find-max: re-run a failing step this many times before it counts as failed (noisy machines)")
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "rtgate HTTP/WebSocket `HOST:PORT` (loopback); a comma-separated list for the nodes of a cluster")
	fs.StringVar(&c.quic, "quic", "127.0.0.1:4433", "rtgate QUIC/WebTransport UDP `HOST:PORT` (loopback); a list, one per --addr node")
	fs.StringVar(&c.serverPID, "server-pid", "", "rtgate's `pid`, for RSS and CPU from /proc; a list, one per --addr node (their sum is reported)")
	fs.StringVar(&c.metrics, "metrics", "", "rtgate's Prometheus `URL` (default http://ADDR/metrics)")
	fs.BoolVar(&c.relay, "relay", false, "run against the bare relay only")
	fs.BoolVar(&c.compare, "compare", false, "run against rtgate, then against the relay; print ratios")
	fs.StringVar(&c.spawn, "spawn-server", "", "start rtgate from `PATH` (or `self`: rtbench's in-process harness) with a temp data dir")
	fs.Var(&c.serverArgs, "server-arg", "extra argument for the spawned server (repeatable)")
	fs.BoolVar(&c.pin, "pin", true, "when spawning on ≥ 2 CPUs: server (and relay) on --server-cpus with GOMAXPROCS=--server-procs, rtbench on --client-cpus")
	fs.StringVar(&c.srvCPUs, "server-cpus", "0", "taskset CPU list of spawned servers")
	fs.IntVar(&c.srvProcs, "server-procs", 2, "GOMAXPROCS of spawned servers (and the relay) when pinned to --server-cpus: 2 on one CPU lets one slot run while a thread blocks in fsync (rtgate's own default on one CPU)")
	fs.StringVar(&c.cliCPUs, "client-cpus", "1", "taskset CPU list of rtbench itself")
	fs.IntVar(&c.cliProcs, "client-procs", 0, "GOMAXPROCS of rtbench itself when pinned (default: the number of --client-cpus)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "with --spawn-server: the server's CPU profile goes to `FILE` (self: the whole run; a binary: the first phase, through its --debug-addr listener; a cluster: FILE.n1, FILE.n2, ... one per node)")
	fs.IntVar(&c.gogc, "gogc", 0, "GOGC of rtbench itself (the generator; servers keep theirs). 0 keeps the Go default (100); with 2000 QUIC connections on one core the generator's GC pauses show as latency")
	fs.StringVar(&c.selfProf, "selfprofile", "", "write rtbench's own CPU profile to `FILE` (is the generator the bottleneck?)")
	fs.BoolVar(&c.jsonOut, "json", false, "print the report as JSON on stdout")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress line on stderr")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o.defaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	if c.spawn == "" && !c.relay {
		for _, a := range append(strings.Split(c.addr, ","), strings.Split(c.quic, ",")...) {
			if err := checkLoopback(a); err != nil {
				return nil, err
			}
		}
	}
	if c.cluster != 0 {
		switch {
		case c.cluster < 2 || c.cluster > 5:
			return nil, errors.New("rtbench: --spawn-cluster takes 2 to 5 nodes")
		case c.spawn == "" || c.spawn == "self":
			return nil, errors.New("rtbench: --spawn-cluster needs --spawn-server PATH (the rtgate binary)")
		case c.relay || c.compare:
			return nil, errors.New("rtbench: --spawn-cluster does not run the relay (--relay, --compare)")
		case c.clusterNATS != "embed" && c.clusterNATS != "external":
			return nil, fmt.Errorf("rtbench: --cluster-nats %q: embed or external", c.clusterNATS)
		}
	}
	if c.metrics == "" {
		first, _, _ := strings.Cut(c.addr, ",")
		c.metrics = "http://" + first + "/metrics"
	}
	if !c.quiet {
		o.Progress = stderr
	}
	return c, nil
}

// Report is the whole output.
type Report struct {
	Machine Machine            `json:"machine"`
	Args    []string           `json:"args"`
	Results []*Result          `json:"results"`
	Ratios  map[string]float64 `json:"ratios_to_relay,omitempty"`
	Notes   []string           `json:"notes,omitempty"`
}

// Machine describes where the numbers were taken.
type Machine struct {
	CPUs        int    `json:"cpus"`
	LoadAvg     string `json:"loadavg_start"`
	LoadAvgEnd  string `json:"loadavg_end"`
	Go          string `json:"go"`
	Pinned      bool   `json:"pinned"`
	ClientProcs int    `json:"client_gomaxprocs"`
	ServerProcs int    `json:"server_gomaxprocs,omitempty"` // spawned servers, when pinned
	ClientGOGC  int    `json:"client_gogc,omitempty"`       // --gogc; 0: the default
}

// givenTarget is the server (or cluster) of --addr, --quic and
// --server-pid: comma-separated lists, one entry per node.
func givenTarget(c *cli) (*target, error) {
	addrs := strings.Split(c.addr, ",")
	quics := strings.Split(c.quic, ",")
	var pids []string
	if c.serverPID != "" {
		pids = strings.Split(c.serverPID, ",")
	}
	if len(quics) != len(addrs) && c.quic != "127.0.0.1:4433" {
		return nil, fmt.Errorf("rtbench: %d --quic addresses for %d --addr nodes", len(quics), len(addrs))
	}
	if len(pids) > 0 && len(pids) != len(addrs) {
		return nil, fmt.Errorf("rtbench: %d --server-pid pids for %d --addr nodes", len(pids), len(addrs))
	}
	var nodes []*target
	for i, a := range addrs {
		t := &target{name: "rtgate", httpAddr: a, metricsURL: "http://" + a + "/metrics"}
		if i < len(quics) {
			t.quicAddr = quics[i]
		}
		if i < len(pids) {
			pid, err := strconv.Atoi(strings.TrimSpace(pids[i]))
			if err != nil || pid <= 0 {
				return nil, fmt.Errorf("rtbench: --server-pid %q: not a pid", pids[i])
			}
			t.pid = pid
		}
		nodes = append(nodes, t)
	}
	nodes[0].metricsURL = c.metrics
	nodes[0].more = nodes[1:]
	return nodes[0], nil
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return ""
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parse(args, stderr)
	if err != nil {
		return err
	}
	stopProf, err := startCPUProfile(c.selfProf)
	if err != nil {
		return err
	}
	defer stopProf()
	rep := &Report{Args: args, Machine: Machine{CPUs: runtime.NumCPU(), LoadAvg: loadAvg(), Go: runtime.Version()}}
	spawning := c.spawn != "" || c.relay || c.compare
	if c.cluster > 0 {
		// Several servers and nats-servers on a 2-core machine: no CPU of
		// their own for anyone; the report gives each side's CPU.
		how := "embedded nats-servers"
		if c.clusterNATS == "external" {
			how = "as many nats-server processes (rtbench nats-server)"
		}
		rep.Notes = append(rep.Notes, fmt.Sprintf("cluster of %d rtgate nodes with %s (R3, sync_interval always), spawned unpinned; srv CPU%% and RSS are the sum of the nodes (and their nats-servers)", c.cluster, how))
		c.pin = false
	}
	if c.pin && spawning && runtime.NumCPU() >= 2 {
		if err := pinSelf(c.cliCPUs); err != nil {
			fmt.Fprintln(stderr, "rtbench:", err, "(running unpinned)")
		} else {
			procs := strings.Count(c.cliCPUs, ",") + 1
			if c.cliProcs > 0 {
				procs = c.cliProcs
			}
			runtime.GOMAXPROCS(procs)
			rep.Machine.Pinned = true
		}
	}
	if !rep.Machine.Pinned {
		c.srvCPUs = ""
	}
	rep.Machine.ClientProcs = runtime.GOMAXPROCS(0)
	if c.gogc != 0 {
		debug.SetGCPercent(c.gogc)
		rep.Machine.ClientGOGC = c.gogc
	}

	type runSpec struct {
		name       string
		start      func() (*target, error)
		placements []string // measured one after the other on the same target
	}
	var runs []runSpec
	procs := 0
	if rep.Machine.Pinned {
		procs = max(1, c.srvProcs)
		rep.Machine.ServerProcs = procs
	}
	placements := []string{c.o.Placement}
	if c.o.Placement == placeBoth {
		placements = []string{placeSame, placeCross}
	}
	if !c.relay {
		runs = append(runs, runSpec{"rtgate", func() (*target, error) {
			if c.spawn == "" {
				return givenTarget(c)
			}
			if c.cluster > 0 {
				t, err := spawnCluster(ctx, clusterSpec{path: c.spawn, nodes: c.cluster, args: c.serverArgs, log: stderr,
					external: c.clusterNATS == "external"})
				if err == nil && c.cpuProfile != "" {
					// One profile per node: FILE.n1, FILE.n2, ...
					for i, n := range t.nodes() {
						go fetchProfile(ctx, n, c.o.Warmup+c.o.Duration, fmt.Sprintf("%s.n%d", c.cpuProfile, i+1), stderr)
					}
				}
				return t, err
			}
			spec := spawnSpec{name: "rtgate", path: c.spawn, cpus: c.srvCPUs, procs: procs, log: stderr, dataDir: true,
				args: []string{"--listen", "127.0.0.1:0", "--quic", "127.0.0.1:0", "--log-level", "warn", "--debug-addr", "127.0.0.1:0"}}
			if c.spawn == "self" {
				exe, err := os.Executable()
				if err != nil {
					return nil, err
				}
				spec.path = exe
				spec.args = []string{"serve", "--listen", "127.0.0.1:0", "--quic", "127.0.0.1:0"}
				if c.cpuProfile != "" {
					spec.args = append(spec.args, "--cpuprofile", c.cpuProfile)
				}
			}
			spec.args = append(spec.args, c.serverArgs...)
			t, err := spawn(ctx, spec)
			if err == nil && c.spawn != "self" && c.cpuProfile != "" {
				// The binary profiles through its debug listener: the
				// first phase's warmup and measured window.
				go fetchProfile(ctx, t, c.o.Warmup+c.o.Duration, c.cpuProfile, stderr)
			}
			return t, err
		}, placements})
	}
	if c.relay || c.compare {
		runs = append(runs, runSpec{"relay", func() (*target, error) {
			exe, err := os.Executable()
			if err != nil {
				return nil, err
			}
			t, err := spawn(ctx, spawnSpec{name: "relay", path: exe, cpus: c.srvCPUs, procs: procs, log: stderr,
				args: []string{"relay", "--listen", "127.0.0.1:0", "--quic", "127.0.0.1:0"}})
			if t != nil {
				t.name = "relay"
			}
			return t, err
		}, []string{placeCross}})
	}
	var failure error
	for _, r := range runs {
		t, err := r.start()
		if err != nil {
			return err
		}
		for _, pl := range r.placements {
			o := c.o
			o.Placement = pl
			res, err := measure(ctx, &o, t)
			if res != nil {
				rep.Results = append(rep.Results, res)
			}
			if err != nil {
				failure = fmt.Errorf("%s: %w", r.name, err)
				break
			}
		}
		if t.stop != nil {
			t.stop()
		}
		if failure != nil {
			break
		}
	}
	rep.Machine.LoadAvgEnd = loadAvg()
	if len(rep.Results) == 2 && rep.Results[1].Target == "relay" {
		rep.Ratios = ratios(rep.Results[0], rep.Results[1])
	}
	if c.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printReport(stdout, rep)
	}
	return failure
}

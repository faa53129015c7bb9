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
	o          Options
	addr, quic string
	serverPID  int
	metrics    string
	relay      bool
	compare    bool
	spawn      string
	serverArgs strList
	pin        bool
	srvCPUs    string
	srvProcs   int
	cliProcs   int
	cliCPUs    string
	cpuProfile string
	jsonOut    bool
	selfProf   string
	gogc       int
	quiet      bool
}

func parse(args []string, stderr io.Writer) (*cli, error) {
	c := &cli{}
	o := &c.o
	fs := flag.NewFlagSet("rtbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Workload, "workload", wDirect, "direct, fanout or idle")
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
	fs.IntVar(&o.Retries, "retries", 0, "find-max: re-run a failing step this many times before it counts as failed (noisy machines)")
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "rtgate HTTP/WebSocket `HOST:PORT` (loopback)")
	fs.StringVar(&c.quic, "quic", "127.0.0.1:4433", "rtgate QUIC/WebTransport UDP `HOST:PORT` (loopback)")
	fs.IntVar(&c.serverPID, "server-pid", 0, "rtgate's pid, for RSS and CPU from /proc")
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
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "with --spawn-server: the server's CPU profile goes to `FILE` (self: the whole run; a binary: the first phase, through its --debug-addr listener)")
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
		if err := checkLoopback(c.addr); err != nil {
			return nil, err
		}
		if err := checkLoopback(c.quic); err != nil {
			return nil, err
		}
	}
	if c.metrics == "" {
		c.metrics = "http://" + c.addr + "/metrics"
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
		name  string
		start func() (*target, error)
	}
	var runs []runSpec
	procs := 0
	if rep.Machine.Pinned {
		procs = max(1, c.srvProcs)
		rep.Machine.ServerProcs = procs
	}
	if !c.relay {
		runs = append(runs, runSpec{"rtgate", func() (*target, error) {
			if c.spawn == "" {
				return &target{name: "rtgate", httpAddr: c.addr, quicAddr: c.quic, pid: c.serverPID, metricsURL: c.metrics}, nil
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
		}})
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
		}})
	}
	var failure error
	for _, r := range runs {
		t, err := r.start()
		if err != nil {
			return err
		}
		o := c.o
		res, err := measure(ctx, &o, t)
		if t.stop != nil {
			t.stop()
		}
		if res != nil {
			rep.Results = append(rep.Results, res)
		}
		if err != nil {
			failure = fmt.Errorf("%s: %w", r.name, err)
			break
		}
	}
	rep.Machine.LoadAvgEnd = loadAvg()
	if len(rep.Results) == 2 {
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

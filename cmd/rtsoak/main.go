// Command rtsoak puts rtgate's resource limits under test: it starts the
// server (a child process, loopback only, limits.connectionsPerIP 1000,
// an app without keys and one with) and runs, one after the other, attacks a
// hostile client could make, each bounded in count and time, while a
// canary client (its own source address) checks that other users keep
// working: a persistent message between two WebSocket sessions, a
// long-poll open and a REST history query, every half second.
//
//	go run ./cmd/rtsoak                  # everything, full size (~2 min)
//	go run ./cmd/rtsoak --short          # the form ./test.sh runs (~1 min)
//	go run ./cmd/rtsoak --scenarios idle --conns 15000
//
// Scenarios (--scenarios, comma-separated; default all):
//
//	idle      --conns idle WebSocket connections (15 000; spread over
//	          source addresses 127.0.1.x, at most 750 each), each with an
//	          open session watching two peers; reports the server's
//	          memory per connection and fails over --max-idle-kib.
//	watch     one connection opens 64 sessions and adds 10 000 watches to
//	          each (640 000), paced under the flood limit; the server must
//	          refuse it (an error or a close) before it holds them all.
//	longpoll  one source address opens --lp-opens long-poll sessions as
//	          fast as it can; the server must refuse it past the per-IP
//	          bound, and the canary (another address) must still open.
//	slowrest  --slow-conns connections send a REST request whose body
//	          never comes (Content-Length 100, one byte): a third without
//	          keys, a third with, a third with a wrong key; the server
//	          must answer or close each within --slow-bound, and refuse
//	          the wrong key within 2 s (before reading the body).
//	churn     --churn-conns connections open and close sessions as fast
//	          as the flood limit allows for --churn-time; reports cycles/s;
//	          goroutines must come back to where they were.
//
// For each it prints the server's RSS and goroutines before, during (the
// peak) and after, the canary's checks and worst latency, and PASS or
// FAIL with the reason. The exit status is 1 if any scenario failed, 2 on
// bad usage or a setup failure. rtsoak raises its own file-descriptor
// limit (the child inherits it) to the hard limit for the idle scenario.
//
// Concurrency: each scenario owns its goroutines and waits for them; the
// canary runs one goroutine per scenario, stopped and waited for at its
// end.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rtgate/rtgate/internal/serverproc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the parsed flags.
type options struct {
	scenarios   []string
	conns       int
	maxIdleKiB  float64
	lpOpens     int
	slowConns   int
	slowBound   time.Duration
	churnConns  int
	churnTime   time.Duration
	watchTarget int
	bin         string
	keep        bool
}

// allScenarios in the order they run: longpoll last, since its sessions
// stay in the server's table until they expire.
var allScenarios = []string{"idle", "watch", "slowrest", "churn", "longpoll"}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	var scenarios string
	var short bool
	fs := flag.NewFlagSet("rtsoak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&scenarios, "scenarios", "", "comma-separated scenarios (default all): "+strings.Join(allScenarios, ","))
	fs.BoolVar(&short, "short", false, "small sizes for CI: 2000 idle conns, 5000 long-poll opens, 40 slow conns, 3s churn")
	fs.IntVar(&o.conns, "conns", 15000, "idle: connections (1..100000)")
	fs.Float64Var(&o.maxIdleKiB, "max-idle-kib", 64, "idle: fail above this server memory (RSS) per idle connection, KiB")
	fs.IntVar(&o.lpOpens, "lp-opens", 100000, "longpoll: /lp/open calls from one address (1..1000000)")
	fs.IntVar(&o.slowConns, "slow-conns", 200, "slowrest: connections with a body that never comes (2..900)")
	fs.DurationVar(&o.slowBound, "slow-bound", 15*time.Second, "slowrest: each must be answered or closed within this")
	fs.IntVar(&o.churnConns, "churn-conns", 64, "churn: connections opening and closing sessions (1..900)")
	fs.DurationVar(&o.churnTime, "churn-time", 5*time.Second, "churn: how long")
	fs.StringVar(&o.bin, "bin", "", "rtgate `BINARY` (default $RTGATE_BIN, else go build ./cmd/rtgate)")
	fs.BoolVar(&o.keep, "keep", false, "keep the server log")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if short {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["conns"] {
			o.conns = 2000
		}
		if !set["lp-opens"] {
			o.lpOpens = 5000
		}
		if !set["slow-conns"] {
			o.slowConns = 40
		}
		if !set["churn-conns"] {
			o.churnConns = 16
		}
		if !set["churn-time"] {
			o.churnTime = 3 * time.Second
		}
	}
	switch {
	case o.conns < 1 || o.conns > 100000:
		return nil, fmt.Errorf("--conns %d: want 1..100000", o.conns)
	case o.lpOpens < 1 || o.lpOpens > 1000000:
		return nil, fmt.Errorf("--lp-opens %d: want 1..1000000", o.lpOpens)
	case o.slowConns < 2 || o.slowConns > 900:
		return nil, fmt.Errorf("--slow-conns %d: want 2..900", o.slowConns)
	case o.churnConns < 1 || o.churnConns > 900:
		return nil, fmt.Errorf("--churn-conns %d: want 1..900", o.churnConns)
	case o.slowBound <= 0 || o.slowBound > 10*time.Minute:
		return nil, fmt.Errorf("--slow-bound %v: want up to 10m", o.slowBound)
	case o.churnTime <= 0 || o.churnTime > 10*time.Minute:
		return nil, fmt.Errorf("--churn-time %v: want up to 10m", o.churnTime)
	}
	o.scenarios = allScenarios
	if strings.TrimSpace(scenarios) != "" {
		o.scenarios = nil
		for _, s := range strings.Split(scenarios, ",") {
			s = strings.TrimSpace(s)
			ok := false
			for _, k := range allScenarios {
				ok = ok || k == s
			}
			if !ok {
				return nil, fmt.Errorf("unknown scenario %q (known: %s)", s, strings.Join(allScenarios, ", "))
			}
			o.scenarios = append(o.scenarios, s)
		}
	}
	return o, nil
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "rtsoak:", err)
		return 2
	}
	if n, err := raiseFileLimit(); err != nil {
		fmt.Fprintf(stderr, "rtsoak: raising the file limit: %v\n", err)
	} else if need := o.conns + 2000; n < uint64(need) {
		fmt.Fprintf(stderr, "rtsoak: the file limit is %d, the idle scenario needs about %d: use fewer --conns\n", n, need)
		return 2
	}
	work, err := os.MkdirTemp("", "rtsoak-")
	if err != nil {
		fmt.Fprintln(stderr, "rtsoak:", err)
		return 2
	}
	defer func() {
		if !o.keep {
			os.RemoveAll(work)
		}
	}()
	bin := o.bin
	if bin == "" {
		if bin, err = serverproc.Binary(ctx, "", work); err != nil {
			fmt.Fprintln(stderr, "rtsoak:", err)
			return 2
		}
	}
	cfgFile := filepath.Join(work, "rtgate.json")
	if err := os.WriteFile(cfgFile, []byte(`{"limits":{"connectionsPerIP":1000},`+
		`"apps":[{"id":"`+app+`"},{"id":"`+keyedApp+`","key":"k","masterKey":"m"}]}`), 0o600); err != nil {
		fmt.Fprintln(stderr, "rtsoak:", err)
		return 2
	}
	logf, err := os.Create(filepath.Join(work, "rtgate.log"))
	if err != nil {
		fmt.Fprintln(stderr, "rtsoak:", err)
		return 2
	}
	defer logf.Close()
	p, err := serverproc.Start(ctx, serverproc.Config{Bin: bin, Data: filepath.Join(work, "data"),
		Args: []string{"--config", cfgFile, "--quic", "off"}, Log: logf})
	if err != nil {
		fmt.Fprintln(stderr, "rtsoak:", err)
		return 2
	}
	defer p.Stop(10 * time.Second)
	s := &soak{o: o, p: p, out: stdout, base: "http://" + p.HTTPAddr,
		hc: &http.Client{Timeout: 5 * time.Second, Transport: canaryTransport()}}
	fmt.Fprintf(stdout, "rtsoak: rtgate pid %d on %s; scenarios %s; server log %s\n",
		p.Pid, p.HTTPAddr, strings.Join(o.scenarios, ","), logf.Name())
	failed := 0
	for _, name := range o.scenarios {
		if ctx.Err() != nil {
			break
		}
		r := s.scenario(ctx, name)
		r.print(stdout)
		if !r.pass {
			failed++
		}
		select {
		case <-p.Exited():
			fmt.Fprintf(stdout, "rtsoak: the server exited during %s\n", name)
			return 1
		default:
		}
	}
	if p.Panicked() {
		fmt.Fprintln(stdout, "rtsoak: FAIL: the server printed a panic")
		failed++
	}
	if failed > 0 || ctx.Err() != nil {
		fmt.Fprintf(stdout, "rtsoak: %d of %d scenarios FAILED\n", failed, len(o.scenarios))
		return 1
	}
	fmt.Fprintf(stdout, "rtsoak: all %d scenarios passed\n", len(o.scenarios))
	return 0
}

// raiseFileLimit raises RLIMIT_NOFILE to its hard limit and returns it.
func raiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}

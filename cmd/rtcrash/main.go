// Command rtcrash is rtgate's crash campaign: it runs an rtgate server (a
// child process on a Badger data directory, loopback only) under
// persistent traffic over every transport, SIGKILLs it at random moments,
// during its recovery too, restarts it on the same data, and at the end
// checks that nothing acknowledged was lost and nothing was stored or
// delivered twice.
//
//	go run ./cmd/rtcrash                        # 10 kills, about a minute
//	go run ./cmd/rtcrash --kills 200 --seed 7   # the long campaign
//
// Traffic: --pairs sender/receiver pairs, spread over the transports (v1
// JSON, modern JSON and msgpack over WebSocket, raw QUIC, WebTransport,
// long-poll v1 and modern JSON; the dialers of spec/conformance, which are
// the Go SDK's). Each sender sends persistent messages one at a time, half
// of them with a client id; in the modern dialects a send whose ack was
// lost with the connection is sent again with the same client id, and
// some acknowledged ones are sent again on purpose (the server must answer
// with the first uid and store nothing new). The receiver of the first
// pair on each transport goes online and offline at random and
// acknowledges most of what it reads; that of the second stays offline
// until the end (its sender stops at 1500 messages, which one open can
// drain over every transport); and so on, alternating.
//
// Kills: --kills SIGKILLs within --duration, at random times; one in four
// also starts the server and kills it again before or just after it
// listens (recovery of the crash before). After the last kill the server
// is started once more, the senders finish, and every receiver drains its
// inbox; then the history of every sender is paged through over REST
// (/1.1/rtm/messages/logs, by sender and by conversation).
//
// Report: sent, acknowledged and delivered counts per transport, and the
// failures: acked-but-lost (an acknowledged message missing from the
// history or never delivered), stored twice (a text under two ids, an id
// twice in a listing, a repeat acknowledged with another uid), delivered
// twice in one session, stored but never delivered, failed restarts and
// server panics. The exit status is 1 on any of them, 2 on bad usage or a
// setup failure, 0 otherwise.
//
// Bounds: every wait has a timeout; the run ends within --duration plus
// --finish (the final drain and checks) however the server behaves.
//
// Concurrency: one sender and one receiver goroutine per pair, owned by
// run, which waits for them; the main goroutine runs the kills.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rtgate/rtgate/internal/serverproc"
	"github.com/rtgate/rtgate/spec/conformance"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the parsed flags.
type options struct {
	kills      int
	pairs      int
	seed       uint64
	duration   time.Duration
	finish     time.Duration
	transports []string
	bin        string
	keep       bool
	verbose    bool
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	var transports string
	fs := flag.NewFlagSet("rtcrash", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.kills, "kills", 10, "SIGKILLs to deliver (1..10000)")
	fs.IntVar(&o.pairs, "pairs", 14, "sender/receiver pairs, spread over the transports (1..1000)")
	fs.Uint64Var(&o.seed, "seed", 0, "random seed of the kill times and the traffic (0: from the clock; printed)")
	fs.DurationVar(&o.duration, "duration", 0, "bound on the kill phase (0: 5s per kill)")
	fs.DurationVar(&o.finish, "finish", 90*time.Second, "bound on the final drain and checks")
	fs.StringVar(&transports, "transports", "", "comma-separated transports (default all): "+strings.Join(conformance.TargetNames, ","))
	fs.StringVar(&o.bin, "bin", "", "rtgate `BINARY` (default $RTGATE_BIN, else go build ./cmd/rtgate)")
	fs.BoolVar(&o.keep, "keep", false, "keep the data directory and server log even when the run is clean")
	fs.BoolVar(&o.verbose, "v", false, "log each kill and restart")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.kills < 1 || o.kills > 10000 {
		return nil, fmt.Errorf("--kills %d: want 1..10000", o.kills)
	}
	if o.pairs < 1 || o.pairs > 1000 {
		return nil, fmt.Errorf("--pairs %d: want 1..1000", o.pairs)
	}
	if o.duration <= 0 {
		o.duration = time.Duration(o.kills) * 5 * time.Second
	}
	if o.finish <= 0 {
		return nil, errors.New("--finish must be positive")
	}
	o.transports = conformance.TargetNames
	if strings.TrimSpace(transports) != "" {
		o.transports = nil
		for _, t := range strings.Split(transports, ",") {
			t = strings.TrimSpace(t)
			if !known(t) {
				return nil, fmt.Errorf("unknown transport %q (known: %s)", t, strings.Join(conformance.TargetNames, ", "))
			}
			o.transports = append(o.transports, t)
		}
	}
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	return o, nil
}

func known(t string) bool {
	for _, n := range conformance.TargetNames {
		if n == t {
			return true
		}
	}
	return false
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "rtcrash:", err)
		return 2
	}
	work, err := os.MkdirTemp("", "rtcrash-")
	if err != nil {
		fmt.Fprintln(stderr, "rtcrash:", err)
		return 2
	}
	bin := o.bin
	if bin == "" {
		if bin, err = serverproc.Binary(ctx, "", work); err != nil {
			fmt.Fprintln(stderr, "rtcrash:", err)
			os.RemoveAll(work)
			return 2
		}
	}
	logf, err := os.Create(filepath.Join(work, "rtgate.log"))
	if err != nil {
		fmt.Fprintln(stderr, "rtcrash:", err)
		return 2
	}
	cfgFile := filepath.Join(work, "rtgate.json")
	// Inboxes large enough that nothing is dropped for size (the default
	// keeps 50 per peer); no flood limit on the campaign's own senders.
	if err := os.WriteFile(cfgFile, []byte(`{"limits":{"inboxSize":1000000,"commandsPerSecond":100000,"burst":100000}}`), 0o600); err != nil {
		fmt.Fprintln(stderr, "rtcrash:", err)
		return 2
	}
	var runID [3]byte
	rand.Read(runID[:])
	c := newCampaign(o, serverproc.Config{
		Bin:  bin,
		Data: filepath.Join(work, "data"),
		Args: []string{"--config", cfgFile},
		Log:  logf,
	}, hex.EncodeToString(runID[:]), stdout)
	fmt.Fprintf(stdout, "rtcrash: seed %d, %d kills within %v, %d pairs over %s; data and log in %s\n",
		o.seed, o.kills, o.duration, o.pairs, strings.Join(o.transports, ","), work)

	rep, err := c.run(ctx)
	logf.Close()
	if err != nil {
		fmt.Fprintln(stderr, "rtcrash:", err)
		fmt.Fprintf(stderr, "rtcrash: server log and data kept in %s\n", work)
		return 2
	}
	rep.print(stdout)
	if !rep.clean() {
		fmt.Fprintf(stdout, "rtcrash: FAILED (seed %d); server log and data kept in %s\n", o.seed, work)
		return 1
	}
	if o.keep {
		fmt.Fprintf(stdout, "rtcrash: ok; kept %s\n", work)
	} else {
		fmt.Fprintln(stdout, "rtcrash: ok")
		os.RemoveAll(work)
	}
	return 0
}

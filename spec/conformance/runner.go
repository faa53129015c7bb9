package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// Scenario is one named check. Run drives connections through t and fails
// with t.Fatalf (or skips with t.Skipf); returning normally is a pass.
type Scenario struct {
	// Name is the short name printed after the target: "ws-json/direct-ack".
	Name string
	// Run is the check.
	Run func(t *T)
}

// Target is one way of reaching the server under test.
type Target struct {
	// Name is printed before the scenario name: "ws-legacy", "quic", ...
	Name string
	// Dialer opens connections in the target's transport and dialect.
	Dialer Dialer
	// Spread, when set, holds one Dialer per server of a cluster, all in
	// the target's transport and dialect: a scenario's connections then go
	// to the servers in turn (its k-th Dial or DialRaw, counted from 0,
	// uses Spread[k mod len(Spread)]), so every scenario with two or more
	// connections crosses nodes. Nil means every connection uses Dialer.
	// See SpreadTargets.
	Spread []Dialer
}

// SignedApp names an app of the server under test that requires
// signatures, and the master key that signs for it.
type SignedApp struct {
	ID        string
	MasterKey string
}

// Config configures Run. The zero value of every field is its documented
// default.
type Config struct {
	// App is the app id the scenarios open sessions in. It must not require
	// signatures, and must keep the v1 rule that recipients be watched
	// (allowUnwatched off). Empty means "rtconform" (fine for a dev-mode
	// server, which accepts any app id).
	App string
	// Signed, when set, enables the signature scenarios. Nil skips them.
	Signed *SignedApp
	// Wait bounds the wait for each expected frame or close. Zero means 3 s.
	Wait time.Duration
	// Parallel is how many scenarios run at once. Zero means 8.
	Parallel int
	// Out, when set, receives one line per result as results come in (in
	// the order of targets, then scenarios) and the closing count line.
	Out io.Writer
}

func (c Config) withDefaults() Config {
	if c.App == "" {
		c.App = "rtconform"
	}
	if c.Wait <= 0 {
		c.Wait = 3 * time.Second
	}
	if c.Parallel <= 0 {
		c.Parallel = 8
	}
	return c
}

// Status is the outcome of one scenario on one target.
type Status uint8

// Outcomes.
const (
	Pass Status = iota
	Fail
	Skip
)

func (s Status) String() string {
	switch s {
	case Pass:
		return "ok"
	case Fail:
		return "FAIL"
	case Skip:
		return "skip"
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// Result is the outcome of one scenario on one target.
type Result struct {
	Target   string
	Scenario string
	Status   Status
	Message  string // why it failed or was skipped; empty on a pass
	Elapsed  time.Duration
}

// String formats the result as one report line: "ok   ws-json/direct-ack",
// "FAIL quic/receipts: ...", "skip ws-json/signed-open: no signed app".
func (r Result) String() string {
	name := r.Target + "/" + r.Scenario
	switch r.Status {
	case Pass:
		return "ok   " + name
	case Skip:
		return "skip " + name + ": " + r.Message
	}
	return "FAIL " + name + ": " + r.Message
}

// Report is the outcome of a Run.
type Report struct {
	Results                 []Result // in the order of targets, then scenarios
	Passed, Failed, Skipped int
}

// Summary is the closing line: "N passed, M failed" and ", K skipped" when
// any were skipped.
func (r Report) Summary() string {
	s := fmt.Sprintf("%d passed, %d failed", r.Passed, r.Failed)
	if r.Skipped > 0 {
		s += fmt.Sprintf(", %d skipped", r.Skipped)
	}
	return s
}

// String is every result line, then the summary line.
func (r Report) String() string {
	var b strings.Builder
	for _, res := range r.Results {
		b.WriteString(res.String())
		b.WriteByte('\n')
	}
	b.WriteString(r.Summary())
	b.WriteByte('\n')
	return b.String()
}

// Run runs every scenario on every target and reports the outcomes. A
// scenario still running when ctx ends fails.
func Run(ctx context.Context, targets []Target, scenarios []Scenario, cfg Config) Report {
	cfg = cfg.withDefaults()
	n := len(targets) * len(scenarios)
	results := make([]Result, n)
	done := make([]chan struct{}, n)
	for i := range done {
		done[i] = make(chan struct{})
	}
	sem := make(chan struct{}, cfg.Parallel)
	var wg sync.WaitGroup
	for ti, tg := range targets {
		for si, sc := range scenarios {
			idx := ti*len(scenarios) + si
			wg.Add(1)
			go func() { // owned by Run, which waits on wg
				defer wg.Done()
				defer close(done[idx])
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					results[idx] = Result{Target: tg.Name, Scenario: sc.Name, Status: Fail,
						Message: "not started: " + context.Cause(ctx).Error()}
					return
				}
				defer func() { <-sem }()
				results[idx] = runOne(ctx, tg, sc, &cfg)
			}()
		}
	}
	var rep Report
	for idx := range results {
		<-done[idx]
		res := results[idx]
		switch res.Status {
		case Pass:
			rep.Passed++
		case Fail:
			rep.Failed++
		case Skip:
			rep.Skipped++
		}
		if cfg.Out != nil {
			fmt.Fprintln(cfg.Out, res.String())
		}
	}
	wg.Wait()
	rep.Results = results
	if cfg.Out != nil {
		fmt.Fprintln(cfg.Out, rep.Summary())
	}
	return rep
}

// outcome is what a scenario's Fatalf or Skipf panics with; runOne
// recovers it.
type outcome struct {
	status Status
	msg    string
}

func runOne(ctx context.Context, tg Target, sc Scenario, cfg *Config) (res Result) {
	start := time.Now()
	res = Result{Target: tg.Name, Scenario: sc.Name, Status: Pass}
	t := &T{ctx: ctx, target: tg.Name, scenario: sc.Name, d: tg.Dialer, spread: tg.Spread, cfg: cfg}
	defer func() {
		t.closeAll()
		if v := recover(); v != nil {
			if o, ok := v.(outcome); ok {
				res.Status, res.Message = o.status, o.msg
			} else {
				res.Status = Fail
				res.Message = fmt.Sprintf("panic: %v\n%s", v, debug.Stack())
			}
		}
		res.Elapsed = time.Since(start)
	}()
	sc.Run(t)
	return res
}

// T is a scenario's handle on its target: it dials connections, makes
// peer ids, and ends the scenario with a failure or a skip.
type T struct {
	ctx      context.Context
	target   string
	scenario string
	d        Dialer   // the target's Dialer: its dialect and framing
	spread   []Dialer // the target's Spread
	cfg      *Config

	mu      sync.Mutex
	clients []*Client // closed when the scenario ends; guarded by mu
	dials   int       // connections dialed so far; guarded by mu
}

// Modern reports whether the target speaks a modern dialect (`error`
// replies) rather than the v1 legacy one (close codes).
func (t *T) Modern() bool { return t.d.Modern }

// Framing is the target's frame encoding, for scenarios that write raw
// frames.
func (t *T) Framing() Framing { return t.d.Framing }

// App is the (unsigned) app id the scenario opens sessions in.
func (t *T) App() string { return t.cfg.App }

// Signed is the signed app, or nil when none is configured.
func (t *T) Signed() *SignedApp { return t.cfg.Signed }

// Wait is the bound on the wait for one expected frame.
func (t *T) Wait() time.Duration { return t.cfg.Wait }

// Fatalf ends the scenario as failed.
func (t *T) Fatalf(format string, args ...any) {
	panic(outcome{status: Fail, msg: fmt.Sprintf(format, args...)})
}

// Skipf ends the scenario as skipped.
func (t *T) Skipf(format string, args ...any) {
	panic(outcome{status: Skip, msg: fmt.Sprintf(format, args...)})
}

// Peer returns a fresh peer id: name, a dash and 12 random hex digits.
func (t *T) Peer(name string) string {
	var b [6]byte
	rand.Read(b[:])
	return name + "-" + hex.EncodeToString(b[:])
}

// Dial opens a connection through the target's Dialer (the Go SDK's
// dialer), named name in failure messages.
func (t *T) Dial(name string) *Client {
	ctx, cancel := context.WithTimeout(t.ctx, 2*t.cfg.Wait)
	defer cancel()
	conn, err := t.next().Dial(ctx)
	if err != nil {
		t.Fatalf("%s: dial: %v", name, err)
	}
	return t.track(newClient(t, name, conn))
}

// DialRaw opens a connection that can also write raw frames and drop
// abruptly. Targets without DialRaw fall back to Dial (SendRaw and Abort
// then fail the scenario / close normally).
//
// Scenarios that expect the server to close with a code also dial raw
// (closeDial): on QUIC and WebTransport the server ends its stream and
// then closes the connection with the code, and wire.Conn's Recv reports
// the end of the stream (EOF) without waiting for the code; the raw
// connection waits for it.
func (t *T) DialRaw(name string) *Client {
	if t.d.DialRaw == nil {
		return t.Dial(name)
	}
	ctx, cancel := context.WithTimeout(t.ctx, 2*t.cfg.Wait)
	defer cancel()
	conn, err := t.next().DialRaw(ctx)
	if err != nil {
		t.Fatalf("%s: dial (raw): %v", name, err)
	}
	return t.track(newClient(t, name, conn))
}

// next returns the Dialer of the scenario's next connection: the
// target's Dialer, or the next server's of its Spread.
func (t *T) next() Dialer {
	if len(t.spread) == 0 {
		return t.d
	}
	t.mu.Lock()
	k := t.dials
	t.dials++
	t.mu.Unlock()
	return t.spread[k%len(t.spread)]
}

func (t *T) track(c *Client) *Client {
	t.mu.Lock()
	t.clients = append(t.clients, c)
	t.mu.Unlock()
	return c
}

func (t *T) closeAll() {
	t.mu.Lock()
	cs := t.clients
	t.clients = nil
	t.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() { // owned by closeAll, which waits on wg
			defer wg.Done()
			c.Close()
		}()
	}
	wg.Wait()
}

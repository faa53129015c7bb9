package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/rtgate/rtgate/internal/serverproc"
	"github.com/rtgate/rtgate/spec/conformance"
)

// app is the appId of the campaign (the server runs in dev mode).
const app = "rtcrash"

// Timeouts of the campaign's waits.
const (
	dialTimeout  = 5 * time.Second
	replyTimeout = 5 * time.Second // open, ack, query
	maxRestarts  = 3               // attempts per restart before giving up
)

// generation is one run of the server, from its start to its kill.
type generation struct {
	ctx     context.Context // canceled when the server is killed: ends its conns
	cancel  context.CancelFunc
	proc    *serverproc.Process
	dialers map[string]conformance.Dialer
	http    string // http://HOST:PORT
}

// campaign is one run of rtcrash.
type campaign struct {
	o      *options
	server serverproc.Config
	runID  string
	out    io.Writer
	led    *ledger

	mu      sync.Mutex
	gen     *generation   // the live server, nil while it is down; guarded by mu
	changed chan struct{} // closed when gen becomes non-nil; guarded by mu
	procs   []*serverproc.Process

	// owned by the kill loop (run)
	kills, recoveryKills, earlyKills int
	restarts, failedRestarts         int
	startups                         []time.Duration
}

func newCampaign(o *options, server serverproc.Config, runID string, out io.Writer) *campaign {
	return &campaign{o: o, server: server, runID: runID, out: out, led: newLedger(), changed: make(chan struct{})}
}

// current waits until a server is up and returns it.
func (c *campaign) current(ctx context.Context) (*generation, error) {
	for {
		c.mu.Lock()
		g, ch := c.gen, c.changed
		c.mu.Unlock()
		if g != nil {
			return g, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// start starts the server (up to maxRestarts attempts, each failure
// counted) and makes it current.
func (c *campaign) start(ctx context.Context) error {
	var last error
	for range maxRestarts {
		begin := time.Now()
		p, err := serverproc.Start(ctx, c.server)
		if err == nil {
			c.startups = append(c.startups, time.Since(begin))
			c.setCurrent(p)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.failedRestarts++
		last = err
		fmt.Fprintf(c.out, "rtcrash: restart failed: %v\n", err)
	}
	return fmt.Errorf("server does not start (%d attempts): %w", maxRestarts, last)
}

func (c *campaign) setCurrent(p *serverproc.Process) {
	ep := conformance.Endpoints{
		WebSocket: "ws://" + p.HTTPAddr + "/ws",
		LongPoll:  "http://" + p.HTTPAddr + "/lp/",
		PinSHA256: p.CertSHA256,
	}
	if p.QUICAddr != "" {
		ep.QUIC = "quic://" + p.QUICAddr
		ep.WebTransport = "https://" + p.QUICAddr + "/wt"
	}
	g := &generation{proc: p, dialers: map[string]conformance.Dialer{}, http: "http://" + p.HTTPAddr}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	targets, err := conformance.Targets(ep, c.o.transports)
	if err != nil { // only when the server serves no QUIC: a setup error
		panic(err)
	}
	for _, t := range targets {
		g.dialers[t.Name] = t.Dialer
	}
	c.mu.Lock()
	c.gen = g
	c.procs = append(c.procs, p)
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// kill SIGKILLs the current server.
func (c *campaign) kill() {
	c.mu.Lock()
	g := c.gen
	c.gen = nil
	c.mu.Unlock()
	if g == nil {
		return
	}
	g.proc.Kill()
	g.cancel()
	c.kills++
	if c.o.verbose {
		fmt.Fprintf(c.out, "rtcrash: kill %d (pid %d, up %v)\n", c.kills, g.proc.Pid, time.Since(g.proc.Started).Round(time.Millisecond))
	}
}

// killDuringRecovery starts the server on the data the last kill left and
// SIGKILLs it after a random fraction of the last startup time (and up to
// a half more): mostly before it listens, while it replays the store.
func (c *campaign) killDuringRecovery(rng *rand.Rand) error {
	p, err := serverproc.Spawn(c.server)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	last := c.startups[len(c.startups)-1]
	wait := time.Duration(rng.Int64N(int64(last)*3/2 + 1))
	ready := make(chan error, 1)
	go func() { ready <- p.Ready(context.Background()) }() // ends at the kill at the latest
	time.Sleep(wait)
	listening := false
	select {
	case err := <-ready:
		listening = err == nil
		ready <- err
	default:
	}
	p.Kill()
	<-ready
	c.kills++
	c.recoveryKills++
	if !listening {
		c.earlyKills++
	}
	if c.o.verbose {
		fmt.Fprintf(c.out, "rtcrash: kill %d during recovery after %v (listening: %v)\n", c.kills, wait.Round(time.Millisecond), listening)
	}
	return nil
}

// run runs the campaign: traffic and kills, then the finish.
func (c *campaign) run(ctx context.Context) (*report, error) {
	rng := rand.New(rand.NewPCG(c.o.seed, 0x6b696c6c))
	if err := c.start(ctx); err != nil {
		return nil, err
	}
	pairs := c.pairs()
	sendCtx, stopSending := context.WithCancel(ctx)
	defer stopSending()
	finishCtx, cancelFinish := context.WithTimeout(context.WithoutCancel(ctx), c.o.duration+c.o.finish)
	defer cancelFinish()
	var wg sync.WaitGroup
	for _, p := range pairs {
		wg.Add(2)
		go func() { defer wg.Done(); c.sender(sendCtx, finishCtx, p) }()
		go func() { defer wg.Done(); c.receiver(sendCtx, p) }()
	}

	deadline := time.Now().Add(c.o.duration)
	gap := c.o.duration / time.Duration(c.o.kills+1)
	var runErr error
	for c.kills < c.o.kills && time.Now().Before(deadline) && ctx.Err() == nil {
		// Spread the kills left over the time left (restarts take time).
		gap = max(time.Until(deadline)/time.Duration(c.o.kills-c.kills+1), 100*time.Millisecond)
		wait := gap/2 + time.Duration(rng.Int64N(int64(gap)+1))
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		c.kill()
		if rng.IntN(4) == 0 && c.kills < c.o.kills {
			if err := c.killDuringRecovery(rng); err != nil {
				runErr = err
				break
			}
		}
		if err := c.start(finishCtx); err != nil {
			runErr = err
			break
		}
		c.restarts++
	}
	// Let the last generation carry traffic for a while, then finish.
	select {
	case <-time.After(gap / 2):
	case <-ctx.Done():
	}
	stopSending()
	wg.Wait()
	if runErr != nil {
		c.stopAll()
		return nil, runErr
	}
	if ctx.Err() != nil {
		c.stopAll()
		return nil, errors.New("interrupted")
	}
	rep := c.finish(finishCtx, pairs)
	c.mu.Lock()
	g := c.gen
	c.mu.Unlock()
	if g != nil {
		if err := g.proc.Stop(10 * time.Second); err != nil {
			rep.notes = append(rep.notes, fmt.Sprintf("the last server did not exit cleanly on SIGTERM: %v", err))
		}
		g.cancel()
	}
	c.stopAll()
	for _, p := range c.procs {
		if p.Panicked() {
			rep.panics++
		}
	}
	return rep, nil
}

// stopAll kills every server process still running.
func (c *campaign) stopAll() {
	c.mu.Lock()
	procs := c.procs
	c.mu.Unlock()
	for _, p := range procs {
		select {
		case <-p.Exited():
		default:
			p.Kill()
		}
	}
}

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rtgate/rtgate/internal/serverproc"
)

// The apps of the soak server: app has no keys (any credentials pass, as
// in dev mode), keyedApp has keys.
const (
	app      = "rtsoak"
	keyedApp = "rtsoak-keyed"
)

// soak is one run of rtsoak against one server.
type soak struct {
	o    *options
	p    *serverproc.Process
	out  io.Writer
	base string       // http://HOST:PORT
	hc   *http.Client // reads /metrics; one keep-alive connection
}

// snapshot is the server's resources at one moment.
type snapshot struct {
	rss        int64 // bytes, -1 when unknown
	goroutines int   // -1 when unknown
}

func (s snapshot) String() string {
	g := "?"
	if s.goroutines >= 0 {
		g = strconv.Itoa(s.goroutines)
	}
	return fmt.Sprintf("RSS %.1f MiB, %s goroutines", float64(s.rss)/(1<<20), g)
}

// snap reads the server's RSS (/proc) and goroutines (/metrics).
func (s *soak) snap() snapshot {
	sn := snapshot{rss: -1, goroutines: -1}
	if rss, err := s.p.RSS(); err == nil {
		sn.rss = rss
	}
	if v, ok := s.metric("go_goroutines"); ok {
		sn.goroutines = int(v)
	}
	return sn
}

// metric reads one unlabelled sample from the server's /metrics.
func (s *soak) metric(name string) (float64, bool) {
	res, err := s.hc.Get(s.base + "/metrics")
	if err != nil {
		return 0, false
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(io.LimitReader(res.Body, 16<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// peak tracks the highest RSS and goroutines seen while a scenario runs.
type peak struct {
	mu  sync.Mutex
	max snapshot // guarded by mu
}

func (p *peak) note(s snapshot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.max.rss = max(p.max.rss, s.rss)
	p.max.goroutines = max(p.max.goroutines, s.goroutines)
}

func (p *peak) get() snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.max
}

// result is the outcome of one scenario.
type result struct {
	name                  string
	pass                  bool
	took                  time.Duration
	before, during, after snapshot
	figures               []string // what was measured
	failures              []string // why it failed
	canary                canaryReport
}

func (r *result) failf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *result) figuref(format string, args ...any) {
	r.figures = append(r.figures, fmt.Sprintf(format, args...))
}

func (r *result) print(w io.Writer) {
	verdict := "PASS"
	if !r.pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "== %s: %s (%v)\n", r.name, verdict, r.took.Round(100*time.Millisecond))
	fmt.Fprintf(w, "   before: %v\n   during: %v (peak)\n   after:  %v\n", r.before, r.during, r.after)
	for _, f := range r.figures {
		fmt.Fprintf(w, "   %s\n", f)
	}
	fmt.Fprintf(w, "   canary: %s\n", r.canary)
	for _, f := range r.failures {
		fmt.Fprintf(w, "   FAIL: %s\n", f)
	}
}

// scenario runs one scenario with the canary and the snapshots around it.
func (s *soak) scenario(ctx context.Context, name string) *result {
	r := &result{name: name, before: s.snap()}
	start := time.Now()
	var pk peak
	pk.note(r.before)
	cctx, stopCanary := context.WithCancel(ctx)
	can := newCanary(s)
	done := make(chan canaryReport, 1)
	go func() { done <- can.run(cctx, &pk) }()
	switch name {
	case "idle":
		s.idle(ctx, r, &pk)
	case "watch":
		s.watch(ctx, r, &pk)
	case "longpoll":
		s.longpoll(ctx, r, &pk)
	case "slowrest":
		s.slowREST(ctx, r, &pk)
	case "churn":
		s.churn(ctx, r, &pk)
	}
	stopCanary()
	r.canary = <-done
	r.during = pk.get()
	r.after = s.settle(r.before)
	if name != "longpoll" { // its sessions linger until they expire
		r.checkSettled()
	}
	r.took = time.Since(start)
	if r.canary.failed > 0 {
		r.failf("the canary failed %d of %d checks while %s ran; first: %s", r.canary.failed, r.canary.checks, name, r.canary.first)
	}
	if r.canary.checks == 0 {
		r.failf("the canary made no check")
	}
	r.pass = len(r.failures) == 0
	return r
}

// settle waits (at most 15 s) until the server's goroutines are back near
// before, and returns the snapshot then.
func (s *soak) settle(before snapshot) snapshot {
	deadline := time.Now().Add(15 * time.Second)
	for {
		sn := s.snap()
		if before.goroutines < 0 || sn.goroutines <= before.goroutines+leakSlack || time.Now().After(deadline) {
			return sn
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// leakSlack is how many more goroutines than before a server may have
// once a scenario settled (timers, pooled HTTP connections).
const leakSlack = 50

// checkSettled fails r when the goroutines did not come back.
func (r *result) checkSettled() {
	if r.before.goroutines >= 0 && r.after.goroutines > r.before.goroutines+leakSlack {
		r.failf("goroutines did not come back: %d before, %d 15 s after the end", r.before.goroutines, r.after.goroutines)
	}
}

// sourceDialer returns a dialer whose connections leave from ip (any
// 127.x.y.z works on Linux loopback), so that each scenario has its own
// per-IP budget and port range.
func sourceDialer(ip string) *net.Dialer {
	return &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
}

// httpClient returns an HTTP client leaving from ip.
func httpClient(ip string, conns int) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: sourceDialer(ip).DialContext, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
	}}
}

package main

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/rtgate/rtgate/protocol"
)

// PhaseResult is what one run at one rate measured.
type PhaseResult struct {
	Rate        float64 `json:"offered_rate"`      // messages/s offered
	Sent        int64   `json:"sent"`              // measured messages sent
	Expected    int64   `json:"expected"`          // measured deliveries expected
	Delivered   int64   `json:"delivered"`         // measured deliveries, after the drain
	Lost        int64   `json:"lost"`              // expected - delivered
	DeliveredPS float64 `json:"delivered_per_sec"` // deliveries during the window / window
	P50us       int64   `json:"p50_us"`            // one-way latency
	P99us       int64   `json:"p99_us"`            //
	P999us      int64   `json:"p999_us"`           //
	MaxUs       int64   `json:"max_us"`            //
	Errors      int64   `json:"errors"`            // send errors, error replies, dead connections
	AcksMissing int64   `json:"acks_missing"`      // persistent: sent - server acks (cumulative)
	LagP99us    int64   `json:"send_lag_p99_us"`   // how late the generator started a send (p99)
	MaxLagUs    int64   `json:"send_lag_max_us"`
	ServerCPU   float64 `json:"server_cpu_pct"` // % of one core during the window
	ServerRSSKB int64   `json:"server_rss_kb"`  // at the end of the window
	ServerUsMsg float64 `json:"server_cpu_us_per_msg,omitempty"`
	ClientCPU   float64 `json:"client_cpu_pct"` // rtbench itself
	// GenLimited: rtbench used more than --gen-limit % of its cores, so
	// the step measures the generator as much as the server.
	GenLimited bool   `json:"generator_limited"`
	UDPDrops   int64  `json:"udp_rcvbuf_drops"` // system-wide UDP receive-buffer drops during the window
	Pass       bool   `json:"pass"`             // find-max: p99 ≤ limit, no loss, no error
	LastError  string `json:"last_error,omitempty"`
}

// runPhase sends at rate for warmup+duration, then drains. The first
// phase of a run warms up for --prime longer.
func (b *bench) runPhase(ctx context.Context, id int, rate float64) PhaseResult {
	o := b.o
	warmup := o.Warmup
	if !b.primed {
		b.primed = true
		warmup += o.Prime
	}
	ph := &phase{id: id}
	b.cur.Store(ph)
	res := PhaseResult{Rate: rate}
	errs0 := b.errs.Load() + b.connErrs.Load()

	start := time.Now().Add(20 * time.Millisecond)
	mstart := start.Add(warmup)
	end := mstart.Add(o.Duration)
	workers := min(o.Workers, len(b.senders))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		var own []*bconn
		for i := w; i < len(b.senders); i += workers {
			own = append(own, b.senders[i])
		}
		wg.Add(1)
		go func() { // owned by runPhase, which waits on wg
			defer wg.Done()
			b.send(ctx, ph, own, rate*float64(len(own))/float64(len(b.senders)), start, mstart, end)
		}()
	}

	sleepUntil(ctx, mstart)
	a0 := b.arrivals.Load()
	srv0, srvErr := b.readServer()
	self0, _ := readProc("self")
	udp0 := udpRcvbufErrors()
	tick := time.NewTicker(time.Second)
	last, lastArr := time.Now(), a0
	ph.second.Store(new(Hist))
	for time.Now().Before(end) && ctx.Err() == nil {
		select {
		case <-tick.C:
			if o.Progress != nil {
				now, arr := time.Now(), b.arrivals.Load()
				sec := ph.second.Swap(new(Hist))
				line := fmt.Sprintf("\r%s %s %s rate=%.0f t=%2.0fs sent=%d deliv/s=%.0f p50=%v p99=%v (last second %v) errs=%d",
					b.t.name, o.Transport, o.Workload, rate, now.Sub(mstart).Seconds(), ph.sent.Load(),
					float64(arr-lastArr)/now.Sub(last).Seconds(), ph.hist.Quantile(0.5), ph.hist.Quantile(0.99),
					sec.Quantile(0.99), b.errs.Load()+b.connErrs.Load()-errs0)
				if srvErr == nil {
					if s, err := b.readServer(); err == nil {
						line += fmt.Sprintf(" srv-rss=%dMB", s.rssKB>>10)
					}
				}
				fmt.Fprint(o.Progress, line+"   ")
				last, lastArr = now, arr
			}
		case <-ctx.Done():
		case <-time.After(time.Until(end)):
		}
	}
	tick.Stop()
	a1 := b.arrivals.Load()
	if udp1 := udpRcvbufErrors(); udp0 >= 0 && udp1 >= 0 {
		res.UDPDrops = udp1 - udp0
	}
	window := o.Duration.Seconds()
	if srvErr == nil {
		if srv1, err := b.readServer(); err == nil {
			res.ServerCPU = cpuPercent(srv0, srv1)
			res.ServerRSSKB = srv1.rssKB
			if a1 > a0 {
				res.ServerUsMsg = float64(srv1.cpuTicks-srv0.cpuTicks) * 1e6 / clockTicks / float64(a1-a0)
			}
		}
	}
	if self1, err := readProc("self"); err == nil {
		res.ClientCPU = cpuPercent(self0, self1)
		res.GenLimited = res.ClientCPU > o.GenLimit*float64(runtime.GOMAXPROCS(0))
	}
	if o.Progress != nil {
		fmt.Fprintln(o.Progress)
	}
	wg.Wait()

	// Drain: wait for the measured messages (and acks) still in flight.
	deadline := time.Now().Add(o.Drain)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if ph.delivered.Load() >= ph.sent.Load()*b.factor && (!o.Persistent || b.acks.Load() >= b.psent.Load()) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	res.Sent = ph.sent.Load()
	res.Expected = res.Sent * b.factor
	res.Delivered = ph.delivered.Load()
	res.Lost = res.Expected - res.Delivered
	res.DeliveredPS = float64(a1-a0) / window
	res.P50us = int64(ph.hist.Quantile(0.5) / time.Microsecond)
	res.P99us = int64(ph.hist.Quantile(0.99) / time.Microsecond)
	res.P999us = int64(ph.hist.Quantile(0.999) / time.Microsecond)
	res.MaxUs = int64(ph.hist.Max() / time.Microsecond)
	res.Errors = ph.sendErrs.Load() + b.errs.Load() + b.connErrs.Load() - errs0
	if o.Persistent {
		res.AcksMissing = b.psent.Load() - b.acks.Load()
	}
	res.LagP99us = int64(ph.lag.Quantile(0.99) / time.Microsecond)
	res.MaxLagUs = int64(ph.lag.Max() / time.Microsecond)
	res.Pass = res.Sent > 0 && res.Lost <= 0 && res.Errors == 0 && res.AcksMissing <= 0 &&
		time.Duration(res.P99us)*time.Microsecond <= o.MaxP99
	if e := b.lastErr.Load(); e != nil {
		res.LastError = *e
	}
	return res
}

// readServer samples the server's process, or the sum of a cluster's
// (CPU ticks and RSS added over the nodes).
func (b *bench) readServer() (procSample, error) {
	var sum procSample
	pids := b.t.extraPIDs
	for _, n := range b.t.nodes() {
		pids = append(pids, n.pid)
	}
	for i, pid := range pids {
		if pid == 0 {
			return procSample{}, fmt.Errorf("no server pid")
		}
		s, err := readProc(strconv.Itoa(pid))
		if err != nil {
			return procSample{}, err
		}
		if i == 0 {
			sum.at = s.at
		}
		sum.cpuTicks += s.cpuTicks
		sum.rssKB += s.rssKB
	}
	return sum, nil
}

func sleepUntil(ctx context.Context, t time.Time) {
	select {
	case <-time.After(time.Until(t)):
	case <-ctx.Done():
	}
}

// send is one sending goroutine: it sends to own round-robin at rate, open
// loop: message n is due at start + n/rate whatever the replies, and
// carries its due time, so a slow server shows as latency.
func (b *bench) send(ctx context.Context, ph *phase, own []*bconn, rate float64, start, mstart, end time.Time) {
	if rate <= 0 || len(own) == 0 {
		return
	}
	o := b.o
	interval := time.Duration(float64(time.Second) / rate)
	buf := make([]byte, o.Size)
	for i := range buf {
		buf[i] = 'x'
	}
	buf[0] = 'R'
	copy(buf[1:5], fmt.Sprintf("%04d", ph.id%10000))
	cmd := protocol.Command{Kind: protocol.KindDirect, Transient: !o.Persistent, RoomID: b.room}
	to := make([]string, 1)
	var tsBuf [20]byte // the due time's digits, reused: no allocation per send
	for n := 0; ; n++ {
		due := start.Add(time.Duration(n) * interval)
		if !due.Before(end) || ctx.Err() != nil {
			return
		}
		if d := time.Until(due); d > 200*time.Microsecond {
			time.Sleep(d)
		}
		ph.lag.Record(time.Since(due))
		bc := own[n%len(own)]
		if bc.dead.Load() {
			ph.sendErrs.Add(1)
			continue
		}
		measured := !due.Before(mstart)
		buf[5] = '0'
		if measured {
			buf[5] = '1'
		}
		ts := strconv.AppendInt(tsBuf[:0], int64(due.Sub(b.base)), 10)
		for i := 6; i < headerLen; i++ {
			buf[i] = '0'
		}
		copy(buf[headerLen-len(ts):headerLen], ts)
		cmd.PeerID, cmd.Msg = bc.peer, string(buf)
		cmd.ToPeerIDs = nil
		if bc.to != "" {
			to[0] = bc.to
			cmd.ToPeerIDs = to
		}
		if err := bc.c.Send(&cmd); err != nil {
			ph.sendErrs.Add(1)
			b.fail(err)
			continue
		}
		if o.Persistent {
			b.psent.Add(1)
		}
		if measured {
			ph.sent.Add(1)
		}
	}
}

// Result is one workload against one target.
type Result struct {
	Target     string        `json:"target"`
	Transport  string        `json:"transport"`
	Workload   string        `json:"workload"`
	Size       int           `json:"size"`
	Persistent bool          `json:"persistent"`
	Nodes      int           `json:"nodes"`               // servers the peers were spread over
	Placement  string        `json:"placement,omitempty"` // with several nodes: cross or same
	Conns      int           `json:"connections"`
	SetupSec   float64       `json:"setup_sec"`
	Phase      *PhaseResult  `json:"result,omitempty"`
	Steps      []PhaseResult `json:"find_max_steps,omitempty"`
	MaxRate    float64       `json:"find_max_rate,omitempty"` // highest passing offered rate
	// GenLimited (find-max): a step at or above MaxRate was
	// generator-limited, so MaxRate is a floor of the server's maximum,
	// not its maximum.
	GenLimited bool         `json:"find_max_generator_limited,omitempty"`
	Idle       *IdleResult  `json:"idle,omitempty"`
	Drain      *DrainResult `json:"drain,omitempty"`
	IdleGC     bool         `json:"idle_gc_forced,omitempty"` // the server ran a GC before each memory reading
}

// genLimitedMax reports whether a find-max result with the highest
// passing rate max is generator-limited: a step at or above max (the last
// pass, or a failure that bounded it) had the generator over its limit.
func genLimitedMax(steps []PhaseResult, max float64) bool {
	for _, s := range steps {
		if s.Rate >= max && s.GenLimited {
			return true
		}
	}
	return false
}

// IdleResult is the server memory per idle connection.
type IdleResult struct {
	Conns          int     `json:"connections"`
	RSSBefore      int64   `json:"rss_before_kb"`
	RSSAfter       int64   `json:"rss_after_kb"`
	RSSPerConn     float64 `json:"rss_per_conn_bytes"`
	HeapPerConn    float64 `json:"heap_inuse_per_conn_bytes"`
	StackPerConn   float64 `json:"stack_inuse_per_conn_bytes"`
	GoroutPerConn  float64 `json:"goroutines_per_conn"`
	MetricsMissing bool    `json:"metrics_missing,omitempty"`
}

// measure runs o against t: setup, then one phase, find-max steps, or the
// idle memory reading.
func measure(ctx context.Context, o *Options, t *target) (*Result, error) {
	b, err := newBench(o, t)
	if err != nil {
		return nil, err
	}
	res := &Result{Target: t.name, Transport: o.Transport, Workload: o.Workload, Size: o.Size, Persistent: o.Persistent,
		Nodes: len(t.nodes())}
	if res.Nodes > 1 {
		res.Placement = o.Placement
	}
	var idle IdleResult
	var m0 metricsSample
	var p0 procSample
	var m0err, p0err error
	if o.Workload == wIdle {
		res.IdleGC = collectGarbage(ctx, t)
		m0, m0err = readMetrics(ctx, t.metricsURL)
		p0, p0err = b.readServer()
	}
	t0 := time.Now()
	err = b.setup(ctx)
	defer b.close()
	res.SetupSec = time.Since(t0).Seconds()
	res.Conns = len(b.conns)
	if err != nil {
		return res, err
	}
	switch {
	case o.Workload == wDrain:
		res.Drain, err = b.runDrain(ctx)
		return res, err
	case o.Workload == wIdle:
		sleepUntil(ctx, time.Now().Add(o.Settle))
		idle.Conns = len(b.conns)
		n := float64(idle.Conns)
		collectGarbage(ctx, t)
		if p0err == nil {
			if p1, err := b.readServer(); err == nil {
				idle.RSSBefore, idle.RSSAfter = p0.rssKB, p1.rssKB
				idle.RSSPerConn = float64(p1.rssKB-p0.rssKB) * 1024 / n
			}
		}
		m1, m1err := readMetrics(ctx, t.metricsURL)
		if m0err == nil && m1err == nil {
			idle.HeapPerConn = (m1.heapInuse - m0.heapInuse) / n
			idle.StackPerConn = (m1.stackInuse - m0.stackInuse) / n
			idle.GoroutPerConn = (m1.goroutines - m0.goroutines) / n
		} else {
			idle.MetricsMissing = true
		}
		if dead := b.connErrs.Load(); dead > 0 {
			return res, fmt.Errorf("rtbench: %d idle connections ended", dead)
		}
		res.Idle = &idle
	case o.FindMax:
		lo, hi := 0.0, 0.0
		rate := o.Rate
		for step := 1; step <= o.MaxSteps && ctx.Err() == nil; step++ {
			r := b.runPhase(ctx, step, rate)
			for try := 0; try < o.Retries && !r.Pass && b.connErrs.Load() == 0 && ctx.Err() == nil; try++ {
				res.Steps = append(res.Steps, r) // kept, marked failed, for the record
				sleepUntil(ctx, time.Now().Add(time.Second))
				r = b.runPhase(ctx, step+100*(try+1), rate)
			}
			res.Steps = append(res.Steps, r)
			if r.Pass {
				lo = rate
				res.MaxRate = rate
			} else {
				hi = rate
			}
			if b.connErrs.Load() > 0 {
				break // connections died: later steps would mean nothing
			}
			switch {
			case hi == 0:
				rate *= o.StepFactor
			case lo == 0:
				rate /= o.StepFactor * o.StepFactor
				if rate < 1 {
					step = o.MaxSteps
				}
			case hi/lo < 1.1:
				step = o.MaxSteps // close enough
			default:
				rate = (lo + hi) / 2
			}
			sleepUntil(ctx, time.Now().Add(time.Second)) // let the server settle
		}
		res.GenLimited = genLimitedMax(res.Steps, res.MaxRate)
	default:
		r := b.runPhase(ctx, 1, o.Rate)
		res.Phase = &r
	}
	return res, ctx.Err()
}

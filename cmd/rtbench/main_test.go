package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for rtbench: the runs below spawn
// os.Executable() as `rtbench serve` and `rtbench relay`, and with
// RTBENCH_AS_MAIN=1 in their environment the children run main.
func TestMain(m *testing.M) {
	if os.Getenv("RTBENCH_AS_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// smoke runs rtbench with args (plus short, unpinned settings) and decodes
// its JSON report.
func smoke(t *testing.T, args ...string) *Report {
	t.Helper()
	t.Setenv("RTBENCH_AS_MAIN", "1")
	args = append([]string{"--json", "--quiet", "--pin=false", "--duration", "1s", "--warmup", "300ms", "--prime", "200ms",
		"--drain", "5s", "--settle", "500ms"}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	if err := run(ctx, args, &out, &errb); err != nil {
		t.Fatalf("rtbench %s: %v\nstderr: %s\nstdout: %s", strings.Join(args, " "), err, errb.String(), out.String())
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out.String())
	}
	return &rep
}

// checkPhase asserts a sane, loss-free report (never a speed).
func checkPhase(t *testing.T, r *Result) {
	t.Helper()
	p := r.Phase
	if p == nil {
		t.Fatalf("%s: no result", r.Target)
	}
	if p.Sent == 0 || p.Lost != 0 || p.Errors != 0 || p.AcksMissing != 0 || p.Delivered != p.Expected {
		t.Errorf("%s %s: sent %d expected %d delivered %d lost %d errors %d acks missing %d (last error %q)",
			r.Target, r.Transport, p.Sent, p.Expected, p.Delivered, p.Lost, p.Errors, p.AcksMissing, p.LastError)
	}
	if p.P50us <= 0 || p.P99us < p.P50us || p.MaxUs < p.P99us || p.DeliveredPS <= 0 {
		t.Errorf("%s %s: odd latency or rate: %+v", r.Target, r.Transport, p)
	}
	if p.ServerRSSKB <= 0 {
		t.Errorf("%s: no server RSS", r.Target)
	}
}

func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns servers")
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"direct transient", []string{"--workload", "direct", "--pairs", "20", "--rate", "200"}},
		{"direct persistent", []string{"--workload", "direct", "--pairs", "20", "--rate", "100", "--persistent"}},
		{"direct 5KB", []string{"--workload", "direct", "--pairs", "10", "--rate", "100", "--size", "5120"}},
		{"fanout", []string{"--workload", "fanout", "--members", "10", "--senders", "3", "--rate", "30"}},
		{"fanout persistent", []string{"--workload", "fanout", "--members", "10", "--senders", "3", "--rate", "30", "--persistent"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := smoke(t, append([]string{"--spawn-server", "self", "--compare", "--transport", "ws-legacy"}, tc.args...)...)
			if len(rep.Results) != 2 || rep.Results[0].Target != "rtgate" || rep.Results[1].Target != "relay" {
				t.Fatalf("want rtgate and relay results, got %+v", rep.Results)
			}
			for _, r := range rep.Results {
				checkPhase(t, r)
			}
			if rep.Ratios["delivered_per_sec"] <= 0 {
				t.Errorf("no ratio: %v", rep.Ratios)
			}
		})
	}
	for _, tr := range []string{"quic", "webtransport", "ws-msgpack", "ws-json"} {
		t.Run("direct "+tr, func(t *testing.T) {
			rep := smoke(t, "--spawn-server", "self", "--transport", tr, "--pairs", "10", "--rate", "100", "--persistent")
			checkPhase(t, rep.Results[0])
		})
	}
	for _, tr := range []string{"quic", "webtransport"} {
		t.Run("compare "+tr, func(t *testing.T) {
			// The relay serves tr itself: both results are over tr.
			rep := smoke(t, "--spawn-server", "self", "--compare", "--transport", tr, "--pairs", "10", "--rate", "100")
			if len(rep.Results) != 2 || rep.Results[1].Target != "relay" || rep.Results[1].Transport != tr {
				t.Fatalf("want rtgate and relay results over %s, got %+v", tr, rep.Results)
			}
			for _, r := range rep.Results {
				checkPhase(t, r)
			}
		})
	}
	t.Run("idle", func(t *testing.T) {
		rep := smoke(t, "--spawn-server", "self", "--compare", "--workload", "idle", "--conns", "50")
		for _, r := range rep.Results {
			if r.Idle == nil || r.Idle.Conns != 50 || r.Idle.RSSAfter <= 0 || r.Idle.MetricsMissing {
				t.Errorf("%s: idle result %+v", r.Target, r.Idle)
			}
		}
	})
	t.Run("find-max", func(t *testing.T) {
		rep := smoke(t, "--relay", "--find-max", "--pairs", "5", "--rate", "50", "--max-steps", "2", "--step-factor", "2", "--duration", "500ms")
		r := rep.Results[0]
		if len(r.Steps) == 0 || len(r.Steps) > 2 {
			t.Fatalf("steps: %+v", r.Steps)
		}
		if r.Steps[0].Pass && r.MaxRate < 50 {
			t.Errorf("max rate %v after a passing first step", r.MaxRate)
		}
	})
}

func TestGenLimitedMax(t *testing.T) {
	step := func(rate float64, pass, gen bool) PhaseResult {
		return PhaseResult{Rate: rate, Pass: pass, GenLimited: gen}
	}
	for _, tc := range []struct {
		name  string
		steps []PhaseResult
		max   float64
		want  bool
	}{
		{"generator idle", []PhaseResult{step(100, true, false), step(150, false, false)}, 100, false},
		{"failing step generator-limited", []PhaseResult{step(100, true, false), step(150, false, true)}, 100, true},
		{"passing max generator-limited", []PhaseResult{step(100, true, true)}, 100, true},
		{"only a lower step generator-limited", []PhaseResult{step(50, true, true), step(100, true, false), step(150, false, false)}, 100, false},
	} {
		if got := genLimitedMax(tc.steps, tc.max); got != tc.want {
			t.Errorf("%s: genLimitedMax = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	for _, a := range []string{"10.0.0.1:8080", "example.org:80", "[2001:db8::1]:443", "0.0.0.0:8080"} {
		if err := checkLoopback(a); !errors.Is(err, errNotLoopback) {
			t.Errorf("checkLoopback(%q) = %v, want errNotLoopback", a, err)
		}
	}
	for _, a := range []string{"127.0.0.1:1", "localhost:8080", "[::1]:4433", "127.9.9.9:1"} {
		if err := checkLoopback(a); err != nil {
			t.Errorf("checkLoopback(%q) = %v", a, err)
		}
	}
	err := run(context.Background(), []string{"--addr", "192.0.2.1:8080", "--quiet"}, io.Discard, io.Discard)
	if !errors.Is(err, errNotLoopback) {
		t.Errorf("run with a remote --addr: %v, want errNotLoopback", err)
	}
}

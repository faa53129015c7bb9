package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
)

func TestFlags(t *testing.T) {
	for _, bad := range [][]string{{"--conns", "0"}, {"--lp-opens", "0"}, {"--slow-conns", "1"},
		{"--scenarios", "idle,smoke"}, {"--churn-time", "0s"}, {"extra"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	o, err := parseFlags([]string{"--short", "--conns", "300", "--scenarios", "churn, idle"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.conns != 300 || o.lpOpens != 5000 || o.slowConns != 40 || o.churnTime != 3*time.Second ||
		strings.Join(o.scenarios, ",") != "churn,idle" {
		t.Errorf("--short with --conns 300: %+v", o)
	}
	o, _ = parseFlags(nil, io.Discard)
	if o.conns != 15000 || len(o.scenarios) != len(allScenarios) || o.scenarios[len(o.scenarios)-1] != "longpoll" {
		t.Errorf("defaults %+v", o)
	}
}

// TestResultFails: goroutines that did not come back (past leakSlack)
// make a FAIL, and the report says why.
func TestResultFails(t *testing.T) {
	r := &result{name: "x", before: snapshot{rss: 1 << 20, goroutines: 10}, after: snapshot{rss: 1 << 20, goroutines: 10 + leakSlack + 1}}
	r.checkSettled()
	r.pass = len(r.failures) == 0
	var out bytes.Buffer
	r.print(&out)
	if r.pass || !strings.Contains(out.String(), "FAIL: goroutines did not come back: 10 before, 61") {
		t.Errorf("report:\n%s", out.String())
	}
	r = &result{name: "y", before: snapshot{goroutines: 10}, after: snapshot{goroutines: 10 + leakSlack}}
	r.checkSettled()
	if len(r.failures) != 0 {
		t.Errorf("within the slack: %v", r.failures)
	}
}

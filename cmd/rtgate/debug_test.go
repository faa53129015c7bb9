package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var debugLine = regexp.MustCompile(`rtgate debug on http://(\S+) `)

// TestDebugListener: --debug-addr serves pprof and POST /debug/gc on its
// own listener, and the public listener serves neither.
func TestDebugListener(t *testing.T) {
	s := start(t, t.TempDir(), "--debug-addr", "127.0.0.1:0")
	m := debugLine.FindStringSubmatch(s.out.String())
	if m == nil {
		t.Fatalf("no debug line in:\n%s", s.out)
	}
	dbg := "http://" + m[1]
	if code, _, body := httpGet(t, dbg+"/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("pprof index: %d %.200s", code, body)
	}
	if code, _, body := httpGet(t, dbg+"/debug/pprof/goroutine?debug=1"); code != 200 || !strings.Contains(body, "goroutine profile") {
		t.Fatalf("goroutine profile: %d %.200s", code, body)
	}
	res, err := http.Post(dbg+"/debug/gc", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /debug/gc: %d", res.StatusCode)
	}
	if code, _, _ := httpGet(t, dbg+"/debug/gc"); code != http.StatusMethodNotAllowed {
		t.Fatalf("GET /debug/gc: %d, want 405", code)
	}
	if code, _, _ := httpGet(t, "http://"+s.addr+"/debug/pprof/"); code == 200 {
		t.Fatal("pprof is served on the public listener")
	}
}

// TestNoDebugListenerByDefault: without --debug-addr nothing is announced.
func TestNoDebugListenerByDefault(t *testing.T) {
	s := start(t, t.TempDir())
	if debugLine.MatchString(s.out.String()) {
		t.Fatalf("debug listener without --debug-addr:\n%s", s.out)
	}
}

func TestSchedulerSlots(t *testing.T) {
	for _, tc := range []struct {
		env           string
		current, want int
	}{
		{"", 1, 2},  // one CPU: two slots
		{"", 2, 2},  // more CPUs: the runtime's choice
		{"", 8, 8},  //
		{"1", 1, 1}, // set explicitly: kept
	} {
		if got := schedulerSlots(tc.env, tc.current); got != tc.want {
			t.Errorf("schedulerSlots(%q, %d) = %d, want %d", tc.env, tc.current, got, tc.want)
		}
	}
}

var adminLine = regexp.MustCompile(`rtgate admin on http://(\S+) `)

// TestAdminListener: --admin-addr serves /metrics, /healthz and the debug
// endpoints on their own listener, and the client port then serves
// neither /metrics nor /debug/ (issue 15: /metrics was public on the
// client port). Without it /metrics stays on the client port.
func TestAdminListener(t *testing.T) {
	s := start(t, t.TempDir(), "--admin-addr", "127.0.0.1:0")
	m := adminLine.FindStringSubmatch(s.out.String())
	if m == nil {
		t.Fatalf("no admin line in:\n%s", s.out)
	}
	admin := "http://" + m[1]
	if code, _, body := httpGet(t, admin+"/metrics"); code != 200 || !strings.Contains(body, "rtgate_watches") {
		t.Fatalf("admin /metrics: %d %.200s", code, body)
	}
	if code, _, body := httpGet(t, admin+"/healthz"); code != 200 || !strings.Contains(body, `"status":"ok"`) {
		t.Fatalf("admin /healthz: %d %.200s", code, body)
	}
	if code, _, body := httpGet(t, admin+"/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("admin pprof: %d %.200s", code, body)
	}
	res, err := http.Post(admin+"/debug/gc", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /debug/gc: %d", res.StatusCode)
	}
	client := "http://" + s.addr
	for _, p := range []string{"/metrics", "/debug/pprof/"} {
		if code, _, body := httpGet(t, client+p); code != http.StatusNotFound {
			t.Fatalf("client port %s: %d %.200s, want 404", p, code, body)
		}
	}
	if code, _, _ := httpGet(t, client+"/healthz"); code != 200 {
		t.Fatalf("client port /healthz: %d", code)
	}
	if strings.Contains(s.out.String(), "/healthz, /metrics)") {
		t.Fatalf("the client port still announces /metrics:\n%s", s.out)
	}
}

// TestMetricsOnClientPortByDefault: without --admin-addr, /metrics is on
// the client port and no admin listener is announced.
func TestMetricsOnClientPortByDefault(t *testing.T) {
	s := start(t, t.TempDir())
	if adminLine.MatchString(s.out.String()) {
		t.Fatalf("admin listener without --admin-addr:\n%s", s.out)
	}
	if code, _, body := httpGet(t, "http://"+s.addr+"/metrics"); code != 200 || !strings.Contains(body, "rtgate_connections") {
		t.Fatalf("/metrics: %d %.200s", code, body)
	}
}

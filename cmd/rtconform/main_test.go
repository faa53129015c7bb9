package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// build compiles the packages into dir and returns the binaries' paths.
func build(t *testing.T, dir string, pkgs ...string) []string {
	t.Helper()
	var paths []string
	for _, p := range pkgs {
		out := filepath.Join(dir, filepath.Base(p))
		cmd := exec.Command("go", "build", "-o", out, p)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", p, err, b)
		}
		paths = append(paths, out)
	}
	return paths
}

// lockedBuffer collects a child's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var listening = regexp.MustCompile(`rtgate listening on (http://\S+)`)

// startRTGate runs the rtgate binary with a config of one plain and one
// signed app, on loopback ports it picks, and returns its HTTP base URL.
func startRTGate(t *testing.T, bin string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := map[string]any{
		"apps": []map[string]any{
			{"id": "conform-app", "key": "k", "masterKey": "mk"},
			{"id": "conform-signed", "key": "k2", "masterKey": "signed-master", "signatures": true},
		},
		"logLevel": "warn",
	}
	b, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(dir, "rtgate.json")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", cfgPath, "--listen", "127.0.0.1:0", "--quic", "127.0.0.1:0",
		"--data", filepath.Join(dir, "data"))
	cmd.Env = append(os.Environ(), "RTGATE_CONFIG=", "RTGATE_APPS=")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	addr := make(chan string, 1)
	copied := make(chan struct{})
	go func() { // owned by the test: the cleanup waits on copied
		defer close(copied)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			logs.Write([]byte(line + "\n"))
			if m := listening.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }() // owned by the cleanup
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		<-copied
		if t.Failed() {
			t.Logf("rtgate output:\n%s", logs)
		}
	})
	select {
	case a := <-addr:
		return a
	case <-time.After(30 * time.Second):
		t.Fatalf("rtgate did not report its address:\n%s", logs)
	}
	return ""
}

// TestBinaryAgainstRTGate builds cmd/rtgate and cmd/rtconform, starts the
// server and runs the whole suite over every transport it serves
// (WebSocket in three dialects, long-poll in two, raw QUIC and
// WebTransport found through /certinfo), signatures included.
func TestBinaryAgainstRTGate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs binaries")
	}
	bins := build(t, t.TempDir(), "github.com/rtgate/rtgate/cmd/rtgate", "github.com/rtgate/rtgate/cmd/rtconform")
	base := startRTGate(t, bins[0])

	cmd := exec.Command(bins[1], "--server", base, "--app", "conform-app",
		"--signed-app", "conform-signed", "--master-key", "signed-master")
	out, err := cmd.CombinedOutput()
	t.Logf("rtconform output:\n%s", out)
	if err != nil {
		t.Fatalf("rtconform: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := lines[len(lines)-1]
	if !regexp.MustCompile(`^\d+ passed, 0 failed$`).MatchString(last) {
		t.Fatalf("closing line %q, want \"N passed, 0 failed\"", last)
	}
	for _, target := range []string{"ws-legacy", "ws-json", "ws-msgpack", "quic", "webtransport", "longpoll", "longpoll-json"} {
		if !strings.Contains(string(out), "ok   "+target+"/direct-ack\n") {
			t.Errorf("no passing %s/direct-ack line", target)
		}
	}
}

// TestFailureExitStatus: a server that is not rtgate fails every scenario
// and rtconform exits 1, with a FAIL line per scenario.
func TestFailureExitStatus(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"--server", srv.URL, "--transports", "ws-legacy",
		"--scenarios", "open-opened,keepalive", "--wait", "500ms"}, &out, &errOut)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "FAIL ws-legacy/open-opened: ") || !strings.HasSuffix(out.String(), "0 passed, 2 failed\n") {
		t.Fatalf("output:\n%s", out.String())
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"list", []string{"--list"}, 0},
		{"help", []string{"-h"}, 0},
		{"no server", nil, 2},
		{"unknown scenario", []string{"--server", "http://127.0.0.1:1", "--scenarios", "nope"}, 2},
		{"unknown transport", []string{"--server", "http://127.0.0.1:1", "--transports", "carrier-pigeon"}, 2},
		{"signed app without key", []string{"--server", "http://127.0.0.1:1", "--signed-app", "x"}, 2},
		{"bad server URL", []string{"--server", "ftp://x"}, 2},
		{"stray argument", []string{"--server", "http://127.0.0.1:1", "extra"}, 2},
		{"one --quic for two servers", []string{"--server", "http://127.0.0.1:1,http://127.0.0.1:2", "--quic", "127.0.0.1:1"}, 2},
		{"--longpoll-any-node with one server", []string{"--server", "http://127.0.0.1:1", "--longpoll-any-node"}, 2},
		{"a bad URL among servers", []string{"--server", "http://127.0.0.1:1,ftp://x"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(context.Background(), tc.args, &out, &errOut); code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, out.String(), errOut.String())
			}
		})
	}
}

// TestRefusedAppStopsAtOnce: against a server whose router refuses the
// app, rtconform prints one line naming --app and exits 2 without running
// a scenario.
func TestRefusedAppStopsAtOnce(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/route" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(map[string]any{"code": 4100, "error": fmt.Sprintf("unknown app %q", r.URL.Query().Get("appId"))})
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"--server", srv.URL, "--wait", "500ms"}, &out, &errOut)
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	if code != 2 || out.Len() != 0 || len(lines) != 1 ||
		!strings.Contains(lines[0], `refuses app "rtconform" (unknown app "rtconform"): pass --app ID`) {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, out.String(), errOut.String())
	}
}

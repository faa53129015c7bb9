package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rtgate/rtgate/internal/serverproc"
	"github.com/rtgate/rtgate/spec/conformance"
)

// startCluster starts three rtgate binaries as one cluster, each with an
// embedded JetStream nats-server routed to the others' (--nats-embed),
// raw QUIC and WebTransport on, the apps of startRTGate, and waits until
// every node's /healthz reports the cluster. It returns the nodes' HTTP
// base URLs.
func startCluster(t *testing.T, bin string) []string {
	t.Helper()
	dir := t.TempDir()
	cfg, _ := json.Marshal(map[string]any{
		"apps": []map[string]any{
			{"id": "conform-app", "key": "k", "masterKey": "mk"},
			{"id": "conform-signed", "key": "k2", "masterKey": "signed-master", "signatures": true},
		},
		"logLevel": "warn",
	})
	cfgPath := filepath.Join(dir, "rtgate.json")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	logs := make([]*lockedBuffer, 3)
	for i := range logs {
		logs[i] = &lockedBuffer{}
	}
	c, err := serverproc.StartCluster(context.Background(), serverproc.ClusterConfig{Bin: bin, Dir: dir, Nodes: 3,
		Args: func(int) []string { return []string{"--config", cfgPath} },
		Log:  func(i int) io.Writer { return logs[i] }})
	if err != nil {
		t.Fatalf("%v\n%s", err, dumpLogs(logs))
	}
	var urls []string
	for i, p := range c.Nodes {
		t.Cleanup(func() {
			if err := p.Stop(20 * time.Second); err != nil {
				t.Logf("node %d: %v", i, err)
			}
			if p.Panicked() {
				t.Errorf("node %d panicked:\n%s", i, logs[i])
			} else if t.Failed() {
				t.Logf("node %d output:\n%s", i, logs[i])
			}
		})
	}
	for i, p := range c.Nodes {
		if p.QUICAddr == "" {
			t.Fatalf("node %d serves no QUIC:\n%s", i, logs[i])
		}
		urls = append(urls, "http://"+p.HTTPAddr)
	}
	// The nodes listen before the cluster has a JetStream quorum and
	// every node's lease: wait for each /healthz to say so.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatalf("%v\n%s", err, dumpLogs(logs))
	}
	return urls
}

// dumpLogs returns every node's output, each under its index.
func dumpLogs(logs []*lockedBuffer) string {
	var b strings.Builder
	for i, l := range logs {
		fmt.Fprintf(&b, "--- node %d ---\n%s\n", i, l)
	}
	return b.String()
}

// get returns the body of a 200 answer to GET u.
func get(u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return body, err
}

var (
	deliveriesIn = regexp.MustCompile(`(?m)^rtgate_cluster_deliveries_in_total (\d+)`)
	forwarded    = regexp.MustCompile(`(?m)^rtgate_longpoll_forwarded_total (\d+)`)
)

// TestSpreadOverCluster is issue 13's conformance test: every scenario,
// signatures included, over every transport (WebSocket in three dialects,
// long-poll in two, raw QUIC, WebTransport), with each scenario's
// connections spread over three rtgate nodes of one cluster by
// `--server URL1,URL2,URL3`. It fails if any scenario fails or is
// skipped, and checks that frames did cross nodes: every node received
// deliveries from the others. Then the long-poll targets again with
// --longpoll-any-node: every request of a session to the next node, as
// behind a round-robin proxy (every node forwarded some).
func TestSpreadOverCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three rtgate binaries")
	}
	bin := os.Getenv("RTGATE_BIN")
	if bin == "" {
		bin = build(t, t.TempDir(), "github.com/rtgate/rtgate/cmd/rtgate")[0]
	}
	urls := startCluster(t, bin)

	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"--server", strings.Join(urls, ","), "--app", "conform-app",
		"--signed-app", "conform-signed", "--master-key", "signed-master", "--wait", "10s"}, &out, &errOut)
	if code != 0 || errOut.Len() != 0 {
		t.Errorf("rtconform exit %d, stderr:\n%s", code, errOut.String())
	}
	want := len(conformance.All()) * len(conformance.TargetNames)
	if !strings.HasSuffix(out.String(), fmt.Sprintf("\n%d passed, 0 failed\n", want)) {
		var bad []string
		for _, line := range strings.Split(out.String(), "\n") {
			if !strings.HasPrefix(line, "ok   ") {
				bad = append(bad, line)
			}
		}
		t.Fatalf("want all %d scenario runs passed; not passed:\n%s", want, strings.Join(bad, "\n"))
	}
	for _, target := range conformance.TargetNames {
		if !strings.Contains(out.String(), "ok   "+target+"/group-open\n") {
			t.Errorf("no passing %s/group-open line", target)
		}
	}
	for i, u := range urls {
		body, err := get(u + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		m := deliveriesIn.FindSubmatch(body)
		if m == nil || string(m[1]) == "0" {
			t.Errorf("node %d received no deliveries from the other nodes (%q): the scenarios did not cross nodes", i, m)
		}
	}

	// Long-poll without sticky sessions: each session's requests go to
	// every node in turn, and the nodes forward them to its owner.
	out.Reset()
	errOut.Reset()
	wantLP := 2 * len(conformance.All())
	code = run(context.Background(), []string{"--server", strings.Join(urls, ","), "--longpoll-any-node",
		"--transports", "longpoll,longpoll-json", "--app", "conform-app",
		"--signed-app", "conform-signed", "--master-key", "signed-master", "--wait", "10s"}, &out, &errOut)
	if code != 0 || errOut.Len() != 0 || !strings.HasSuffix(out.String(), fmt.Sprintf("\n%d passed, 0 failed\n", wantLP)) {
		t.Fatalf("rtconform --longpoll-any-node: exit %d, want all %d long-poll runs passed; stderr:\n%s\nstdout:\n%s",
			code, wantLP, errOut.String(), out.String())
	}
	for i, u := range urls {
		body, err := get(u + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		if m := forwarded.FindSubmatch(body); m == nil || string(m[1]) == "0" {
			t.Errorf("node %d forwarded no long-poll request (%q)", i, m)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
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
	// Route ports must be known before the servers start: take free ones.
	var routes []string
	var ports []int
	for range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
		ln.Close()
		routes = append(routes, "nats-route://127.0.0.1:"+strconv.Itoa(ports[len(ports)-1]))
	}
	procs := make([]*serverproc.Process, 3)
	logs := make([]*lockedBuffer, 3)
	for i := range procs {
		logs[i] = &lockedBuffer{}
		p, err := serverproc.Spawn(serverproc.Config{Bin: bin, Data: filepath.Join(dir, fmt.Sprint("node", i)), Log: logs[i],
			StartTimeout: 90 * time.Second,
			Args: []string{"--config", cfgPath, "--node-name", fmt.Sprint("node", i), "--nats-embed",
				"--nats-listen", "127.0.0.1:0", "--nats-cluster", "127.0.0.1:" + strconv.Itoa(ports[i]),
				"--nats-routes", strings.Join(routes, ",")}})
		if err != nil {
			t.Fatal(err)
		}
		procs[i] = p
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
	var urls []string
	for i, p := range procs {
		if err := p.Ready(context.Background()); err != nil {
			t.Fatalf("node %d: %v\n%s", i, err, logs[i])
		}
		if p.QUICAddr == "" {
			t.Fatalf("node %d serves no QUIC:\n%s", i, logs[i])
		}
		urls = append(urls, "http://"+p.HTTPAddr)
	}
	// The nodes listen before the cluster has a JetStream quorum and
	// every node's lease: wait for each /healthz to say so.
	deadline := time.Now().Add(90 * time.Second)
	for i, u := range urls {
		for {
			body, err := get(u + "/healthz")
			var h map[string]string
			if err == nil && json.Unmarshal(body, &h) == nil && h["status"] == "ok" && h["cluster"] == "ok" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %d not healthy: %s %v\n%s", i, body, err, logs[i])
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return urls
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

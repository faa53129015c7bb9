package serverproc

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRoutes: the route plan names every server's route URL and gives
// node i the flags of its embedded nats-server.
func TestRoutes(t *testing.T) {
	r := Routes{Ports: []int{6001, 6002}}
	if got := strings.Join(r.URLs(), ","); got != "nats-route://127.0.0.1:6001,nats-route://127.0.0.1:6002" {
		t.Errorf("URLs = %s", got)
	}
	want := "--nats-embed --nats-listen 127.0.0.1:0 --nats-cluster 127.0.0.1:6002 --nats-routes nats-route://127.0.0.1:6001,nats-route://127.0.0.1:6002"
	if got := strings.Join(r.EmbedArgs(1, "127.0.0.1:0"), " "); got != want {
		t.Errorf("EmbedArgs = %s", got)
	}
	ports, err := FreePorts(4)
	if err != nil || len(ports) != 4 {
		t.Fatalf("FreePorts = %v, %v", ports, err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Errorf("ports %v: not distinct positive ports", ports)
		}
		seen[p] = true
	}
}

// TestStartCluster: every node gets its name, data directory, the
// cluster's routes and its own flags; a node that fails to start fails
// the whole start and no node is left running.
func TestStartCluster(t *testing.T) {
	dir := t.TempDir()
	bin := script(t, `for a in "$@"; do last=$a; done
echo "$@" > "$last"
echo "rtgate listening on http://127.0.0.1:7003 (WebSocket ...)"
exec sleep 60
`)
	argsFile := func(i int) string { return filepath.Join(dir, "args"+string(rune('0'+i))) }
	c, err := StartCluster(context.Background(), ClusterConfig{Bin: bin, Dir: dir, Nodes: 2,
		Routes: Routes{Ports: []int{6001, 6002}},
		Args:   func(i int) []string { return []string{"--x", argsFile(i)} }})
	if err != nil {
		t.Fatal(err)
	}
	c.Kill()
	for i, p := range c.Nodes {
		select {
		case <-p.Exited():
		default:
			t.Errorf("node %d runs after Kill", i)
		}
		b, _ := os.ReadFile(argsFile(i))
		want := "--listen 127.0.0.1:0 --data " + filepath.Join(dir, "node"+string(rune('0'+i))) + " --quic 127.0.0.1:0 --node-name node" +
			string(rune('0'+i)) + " " + strings.Join(c.Routes.EmbedArgs(i, "127.0.0.1:0"), " ") + " --x " + argsFile(i)
		if got := strings.TrimSpace(string(b)); got != want {
			t.Errorf("node %d arguments\n%s\nwant\n%s", i, got, want)
		}
	}

	// Node 1 exits at once: the start fails, and node 0 is killed.
	pidFile := filepath.Join(dir, "pid0")
	bin = script(t, `case "$*" in *node1*) exit 1;; esac
echo $$ > `+pidFile+`
echo "rtgate listening on http://127.0.0.1:7003 (WebSocket ...)"
exec sleep 60
`)
	if _, err := StartCluster(context.Background(), ClusterConfig{Bin: bin, Dir: dir, Nodes: 2}); !errors.Is(err, ErrExited) ||
		!strings.Contains(err.Error(), "node 1") {
		t.Fatalf("StartCluster with a failing node: %v", err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/proc/" + strings.TrimSpace(string(b))); err == nil {
		t.Errorf("node 0 (pid %s) still runs", strings.TrimSpace(string(b)))
	}
}

// TestWaitHealthy: WaitHealthy returns once /healthz answers 200 with
// "cluster":"ok", and fails with the last answer when ctx ends first.
func TestWaitHealthy(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"status":"error","cluster":"no meta leader"}`))
			return
		}
		w.Write([]byte(`{"status":"ok","cluster":"ok","node":"n"}`))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := WaitHealthy(ctx, addr); err != nil || calls.Load() != 3 {
		t.Fatalf("WaitHealthy = %v after %d calls", err, calls.Load())
	}

	single := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":"ok","store":"ok"}`)) // no cluster
	}))
	defer single.Close()
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := WaitHealthy(ctx, strings.TrimPrefix(single.URL, "http://"))
	if !errors.Is(err, ErrNotHealthy) || !strings.Contains(err.Error(), "200 OK") {
		t.Fatalf("WaitHealthy on a single server = %v", err)
	}
}

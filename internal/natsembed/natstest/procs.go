package natstest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtgate/rtgate/internal/natsembed"
	"github.com/rtgate/rtgate/internal/serverproc"
)

// serveEnv carries a child's server config (JSON procConfig); a test
// binary started with it runs a nats-server instead of tests.
const serveEnv = "RTGATE_NATSTEST_SERVE"

// procConfig is what a child server is started with.
type procConfig struct {
	Name, Listen, StoreDir, ClusterListen string
	Routes                                []string
}

// ServeIfChild makes a test binary started by StartProcs run its
// nats-server: call it first in TestMain. In any other process it returns
// at once. In a child it never returns: the process runs the server until
// it is killed (SIGKILL: a crash), or until SIGTERM (a clean shutdown).
func ServeIfChild() {
	v := os.Getenv(serveEnv)
	if v == "" {
		return
	}
	var pc procConfig
	if err := json.Unmarshal([]byte(v), &pc); err != nil {
		fmt.Fprintln(os.Stderr, "natstest child:", err)
		os.Exit(2)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	s, err := natsembed.Start(natsembed.Config{Name: pc.Name, Listen: pc.Listen, StoreDir: pc.StoreDir,
		ClusterName: "rtgate-test", ClusterListen: pc.ClusterListen, Routes: pc.Routes, Logger: logger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "natstest child:", err)
		os.Exit(2)
	}
	fmt.Println("READY", s.ClientURL())
	<-sig
	s.Shutdown()
	os.Exit(0)
}

// Procs is a nats-server cluster of child processes (the test binary
// re-executed; its TestMain must call ServeIfChild), for crash tests: Kill
// sends SIGKILL by pid.
type Procs struct {
	t     testing.TB
	cfgs  []procConfig
	cmds  []*exec.Cmd // nil once killed; owned by the test goroutine
	Names []string    // server names, index i is "n<i+1>"
	urls  []string    // client URLs, fixed across restarts
}

// StartProcs starts an n-server cluster of child processes and waits until
// JetStream has a meta leader. Every child is killed when the test ends.
func StartProcs(t testing.TB, n int) *Procs {
	t.Helper()
	ports, err := serverproc.FreePorts(2 * n)
	if err != nil {
		t.Fatal(err)
	}
	p := &Procs{t: t, cmds: make([]*exec.Cmd, n)}
	var routes []string
	for i := range n {
		routes = append(routes, fmt.Sprintf("127.0.0.1:%d", ports[n+i]))
	}
	for i := range n {
		pc := procConfig{Name: fmt.Sprintf("n%d", i+1), Listen: fmt.Sprintf("127.0.0.1:%d", ports[i]),
			StoreDir: t.TempDir(), ClusterListen: routes[i], Routes: routes}
		p.cfgs = append(p.cfgs, pc)
		p.Names = append(p.Names, pc.Name)
		p.urls = append(p.urls, "nats://"+pc.Listen)
	}
	t.Cleanup(func() {
		for i := range p.cmds {
			p.Kill(i)
		}
	})
	for i := range n {
		p.start(i)
	}
	p.WaitJetStream()
	return p
}

// start starts child i and waits for its READY line.
func (p *Procs) start(i int) {
	p.t.Helper()
	b, _ := json.Marshal(p.cfgs[i])
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serveEnv+"="+string(b))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("natstest: start %s: %v", p.cfgs[i].Name, err)
	}
	p.cmds[i] = cmd
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(out).ReadString('\n')
		if err == nil && !strings.HasPrefix(line, "READY ") {
			err = fmt.Errorf("unexpected first line %q", line)
		}
		ready <- err
		_, _ = bufio.NewReader(out).WriteTo(discard{}) // keep the pipe drained
	}()
	select {
	case err := <-ready:
		if err != nil {
			p.t.Fatalf("natstest: %s: %v", p.cfgs[i].Name, err)
		}
	case <-time.After(ReadyTimeout):
		p.t.Fatalf("natstest: %s not ready after %v", p.cfgs[i].Name, ReadyTimeout)
	}
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

// Kill sends SIGKILL to child i (a crash: nothing is flushed or handed
// over) and reaps it. A child already killed is left alone.
func (p *Procs) Kill(i int) {
	cmd := p.cmds[i]
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	p.cmds[i] = nil
}

// Restart starts child i again on its store directory and ports.
func (p *Procs) Restart(i int) {
	p.t.Helper()
	p.Kill(i)
	p.start(i)
}

// URL returns every server's client URL, comma-separated.
func (p *Procs) URL() string { return strings.Join(p.urls, ",") }

// Connect connects to all servers (server i first), with the short
// reconnect wait tests need; closed when the test ends.
func (p *Procs) Connect(i int, opts ...nats.Option) *nats.Conn {
	p.t.Helper()
	urls := append([]string{p.urls[i]}, append(append([]string{}, p.urls[:i]...), p.urls[i+1:]...)...)
	opts = append([]nats.Option{nats.DontRandomize(), nats.ReconnectWait(50 * time.Millisecond),
		nats.MaxReconnects(-1), nats.Timeout(2 * time.Second), nats.RetryOnFailedConnect(true)}, opts...)
	nc, err := nats.Connect(strings.Join(urls, ","), opts...)
	if err != nil {
		p.t.Fatalf("natstest: connect: %v", err)
	}
	p.t.Cleanup(nc.Close)
	return nc
}

// WaitJetStream waits until the cluster answers JetStream account info
// (it has a meta leader).
func (p *Procs) WaitJetStream() {
	p.t.Helper()
	nc := p.Connect(0)
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		p.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), ReadyTimeout)
	defer cancel()
	for {
		actx, acancel := context.WithTimeout(ctx, time.Second)
		_, err := js.AccountInfo(actx)
		acancel()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			p.t.Fatalf("natstest: JetStream not ready: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// StreamLeader returns the index of the server leading stream, or -1.
func (p *Procs) StreamLeader(ctx context.Context, nc *nats.Conn, stream string) int {
	js, err := jetstream.New(nc)
	if err != nil {
		return -1
	}
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return -1
	}
	info := st.CachedInfo()
	if info.Cluster == nil {
		return -1
	}
	for i, n := range p.Names {
		if n == info.Cluster.Leader {
			return i
		}
	}
	return -1
}

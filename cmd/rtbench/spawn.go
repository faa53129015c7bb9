package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// target is one server under load: rtgate (spawned or given) or the relay.
type target struct {
	name       string // "rtgate" or "relay"
	httpAddr   string // HOST:PORT of HTTP/WebSocket
	quicAddr   string // HOST:PORT of QUIC/WebTransport, "" when none
	pid        int    // server process, 0 when unknown
	metricsURL string // Prometheus text, "" when none
	debugAddr  string // HOST:PORT of rtgate's --debug-addr listener, "" when none
	stop       func() // ends what rtbench started; nil for a given server
	// extraPIDs are processes that serve with the nodes (a cluster's
	// own nats-servers): their CPU and RSS count as the server's.
	extraPIDs []int
	// more are the other nodes of a cluster (each with its own addresses
	// and pid; their stop is nil: this target's stop ends them all).
	// Empty for a single server.
	more []*target
}

// nodes returns t and the other nodes of its cluster, node 0 first.
func (t *target) nodes() []*target { return append([]*target{t}, t.more...) }

// spawnSpec describes a server process rtbench starts.
type spawnSpec struct {
	name  string   // for messages
	path  string   // executable
	args  []string // its arguments
	cpus  string   // taskset CPU list, "" for none
	procs int      // GOMAXPROCS for it, 0 to inherit
	log   io.Writer
	// dataDir is created as a temporary directory and passed as
	// "--data DIR" when true.
	dataDir bool
	// timeout bounds the start (until the address line); 0 means
	// spawnTimeout.
	timeout time.Duration
}

// spawnTimeout bounds a server's start.
const spawnTimeout = 20 * time.Second

// spawn starts spec and waits until it prints its listen addresses: a
// "listening on http://HOST:PORT" line, after an optional "QUIC on
// HOST:PORT" line.
func spawn(ctx context.Context, spec spawnSpec) (*target, error) {
	args := append([]string(nil), spec.args...)
	var dir string
	if spec.dataDir {
		var err error
		if dir, err = os.MkdirTemp("", "rtbench-data-"); err != nil {
			return nil, err
		}
		args = append(args, "--data", dir)
	}
	path := spec.path
	if spec.cpus != "" {
		if tp, err := exec.LookPath("taskset"); err == nil {
			args = append([]string{"-c", spec.cpus, path}, args...)
			path = tp
		} else {
			fmt.Fprintf(spec.log, "rtbench: taskset not found; %s runs unpinned\n", spec.name)
		}
	}
	cmd := exec.Command(path, args...)
	cmd.Env = os.Environ()
	if spec.procs > 0 {
		cmd.Env = append(cmd.Env, fmt.Sprintf("GOMAXPROCS=%d", spec.procs))
	}
	cmd.Stderr = spec.log
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("rtbench: start %s: %w", spec.name, err)
	}
	exited := make(chan struct{})
	t := &target{name: spec.name, pid: cmd.Process.Pid}
	t.stop = func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(spawnTimeout):
			cmd.Process.Kill()
			<-exited
		}
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	lines := make(chan string, 16)
	go func() { // ends at the process's EOF; owned by t.stop through exited
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody listens any more: discard the logs
			}
		}
		close(lines)
		cmd.Wait()
		close(exited)
	}()
	timeout := spec.timeout
	if timeout <= 0 {
		timeout = spawnTimeout
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.stop()
				return nil, fmt.Errorf("rtbench: %s exited before listening", spec.name)
			}
			if _, rest, ok := strings.Cut(line, "debug on http://"); ok {
				t.debugAddr, _, _ = strings.Cut(rest, " ")
			}
			if _, rest, ok := strings.Cut(line, "QUIC on "); ok {
				t.quicAddr, _, _ = strings.Cut(rest, " ")
			}
			if _, rest, ok := strings.Cut(line, "NATS on nats://"); ok { // rtbench nats-server
				t.httpAddr, _, _ = strings.Cut(rest, " ")
				return t, nil
			}
			if _, rest, ok := strings.Cut(line, "listening on http://"); ok {
				t.httpAddr, _, _ = strings.Cut(rest, " ")
				t.metricsURL = "http://" + t.httpAddr + "/metrics"
				return t, nil
			}
		case <-timer.C:
			t.stop()
			return nil, fmt.Errorf("rtbench: %s did not print its address within %v", spec.name, timeout)
		case <-ctx.Done():
			t.stop()
			return nil, ctx.Err()
		}
	}
}

// pinSelf pins every thread of this process to cpus (taskset -a -p); threads
// started later inherit the mask. The caller sets GOMAXPROCS to match.
func pinSelf(cpus string) error {
	out, err := exec.Command("taskset", "-a", "-p", "-c", cpus, fmt.Sprint(os.Getpid())).CombinedOutput()
	if err != nil {
		return fmt.Errorf("rtbench: taskset: %v: %s", err, out)
	}
	return nil
}

// Package serverproc runs the rtgate binary as a child process for the
// attack tools (cmd/rtcrash, cmd/rtsoak) and the tests and tools that need
// real processes: it builds the binary (or takes RTGATE_BIN), starts it on
// loopback with ephemeral ports, reads the addresses it prints, and stops
// it with SIGTERM or SIGKILL. StartCluster starts a cluster of such
// processes, each with an embedded nats-server; Routes, FreePorts and
// WaitHealthy are its parts for callers that start nodes another way (in
// their own process, or with their own spawner).
//
// Concurrency: a Process owns one goroutine that copies the child's output
// and waits for it; Kill and Stop wait for that goroutine. Methods are safe
// for concurrent use.
//
// Imports: the standard library only.
package serverproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Errors of the package.
var (
	// ErrExited reports a server that exited before it printed its
	// listening line.
	ErrExited = errors.New("serverproc: server exited before listening")
	// ErrStartTimeout reports a server that did not print its listening
	// line within Config.StartTimeout.
	ErrStartTimeout = errors.New("serverproc: server did not start in time")
	// ErrNotHealthy reports a node whose /healthz did not report the
	// cluster before the context ended.
	ErrNotHealthy = errors.New("serverproc: not healthy in a cluster")
)

// Binary returns the rtgate binary to run: $RTGATE_BIN when set, else a
// fresh `go build ./cmd/rtgate` (run from the module root, or from the
// directory root if non-empty) into dir.
func Binary(ctx context.Context, root, dir string) (string, error) {
	if p := os.Getenv("RTGATE_BIN"); p != "" {
		return p, nil
	}
	out := filepath.Join(dir, "rtgate")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/rtgate")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("serverproc: go build ./cmd/rtgate: %v: %s", err, b)
	}
	return out, nil
}

// Config describes a server to start.
type Config struct {
	// Bin is the rtgate executable. Required.
	Bin string
	// Data is the Badger data directory (--data). Required.
	Data string
	// Args are more arguments (--config FILE, --debug-addr ...). The
	// listeners are always --listen 127.0.0.1:0 and, unless Args names
	// --quic, --quic 127.0.0.1:0.
	Args []string
	// Log receives the child's stdout and stderr. Nil discards them.
	Log io.Writer
	// StartTimeout bounds the wait for the listening line. Zero means 30 s.
	StartTimeout time.Duration
}

// Process is one running rtgate.
type Process struct {
	// Set by Start before it returns, read-only afterwards.
	Pid        int
	HTTPAddr   string // HOST:PORT of HTTP, WebSocket, long-poll and REST
	QUICAddr   string // HOST:PORT of raw QUIC and WebTransport, "" when off
	CertSHA256 string // hex SHA-256 of the QUIC certificate
	DebugAddr  string // HOST:PORT of --debug-addr, "" when none
	Started    time.Time

	cmd     *exec.Cmd
	ready   chan string   // the child's output lines, for Ready
	timeout time.Duration // Config.StartTimeout with its default
	exited  chan struct{} // closed once the child was waited for
	err     error         // Wait's result; valid once exited is closed

	mu    sync.Mutex
	panic bool // the output held "panic:"; guarded by mu
}

// Spawn starts the server and returns at once, before it listens; Ready
// waits for the addresses. Use it to kill a server during its recovery.
func Spawn(cfg Config) (*Process, error) {
	args := []string{"--listen", "127.0.0.1:0", "--data", cfg.Data}
	if !hasFlag(cfg.Args, "quic") {
		args = append(args, "--quic", "127.0.0.1:0")
	}
	args = append(args, cfg.Args...)
	cmd := exec.Command(cfg.Bin, args...)
	// The environment must not add apps or another config to the server.
	cmd.Env = append(os.Environ(), "RTGATE_CONFIG=", "RTGATE_APPS=")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout.(io.Writer)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("serverproc: start %s: %w", cfg.Bin, err)
	}
	p := &Process{Pid: cmd.Process.Pid, cmd: cmd, exited: make(chan struct{}), Started: time.Now()}
	lines := make(chan string, 64)
	p.ready = lines
	logw := cfg.Log
	if logw == nil {
		logw = io.Discard
	}
	go func() { // owned by p: ends at the child's EOF, then waits for it
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logw, line)
			if strings.Contains(line, "panic:") || strings.Contains(line, "fatal error:") {
				p.mu.Lock()
				p.panic = true
				p.mu.Unlock()
			}
			select {
			case lines <- line:
			default: // nobody reads any more
			}
		}
		close(lines)
		p.err = cmd.Wait()
		close(p.exited)
	}()
	p.timeout = cfg.StartTimeout
	if p.timeout <= 0 {
		p.timeout = 30 * time.Second
	}
	return p, nil
}

// Start spawns the server and waits until it listens.
func Start(ctx context.Context, cfg Config) (*Process, error) {
	p, err := Spawn(cfg)
	if err != nil {
		return nil, err
	}
	if err := p.Ready(ctx); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}

// Ready waits until the server printed its listening line and fills in
// the addresses. It must be called once, by one goroutine.
func (p *Process) Ready(ctx context.Context) error {
	timer := time.NewTimer(p.timeout)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-p.ready:
			if !ok {
				<-p.exited
				return fmt.Errorf("%w (%v)", ErrExited, p.err)
			}
			if _, rest, ok := strings.Cut(line, "debug on http://"); ok {
				p.DebugAddr, _, _ = strings.Cut(rest, " ")
			}
			if _, rest, ok := strings.Cut(line, "QUIC on "); ok {
				p.QUICAddr, _, _ = strings.Cut(rest, " ")
				if _, sum, ok := strings.Cut(rest, "certificate sha256 "); ok {
					p.CertSHA256, _, _ = strings.Cut(sum, " ")
				}
			}
			if _, rest, ok := strings.Cut(line, "listening on http://"); ok {
				p.HTTPAddr, _, _ = strings.Cut(rest, " ")
				return nil
			}
		case <-timer.C:
			return fmt.Errorf("%w (%v)", ErrStartTimeout, p.timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Exited is closed once the server has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Panicked reports whether the server printed a Go panic or fatal error.
func (p *Process) Panicked() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.panic
}

// Kill sends SIGKILL and waits for the exit.
func (p *Process) Kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Stop sends SIGTERM and waits for the exit at most timeout, then kills.
// It returns the exit error (nil for a clean exit).
func (p *Process) Stop(timeout time.Duration) error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return p.err
	case <-time.After(timeout):
		p.Kill()
		return fmt.Errorf("serverproc: no exit %v after SIGTERM; killed", timeout)
	}
}

// RSS returns the server's resident set size in bytes (Linux
// /proc/PID/status VmRSS).
func (p *Process) RSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("serverproc: no VmRSS")
}

// hasFlag reports whether args set --name or -name.
func hasFlag(args []string, name string) bool {
	for _, a := range args {
		a = strings.TrimLeft(a, "-")
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtgate/rtgate/client"
	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/storage/memory"
	"github.com/rtgate/rtgate/transports/ws"
)

// TestMain runs main when the test binary is started as rtchat by
// runChat.
func TestMain(m *testing.M) {
	if os.Getenv("RTCHAT_TEST_MAIN") == "1" {
		os.Args = append([]string{"rtchat"}, strings.Fields(os.Getenv("RTCHAT_TEST_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runChat runs rtchat with args and empty stdin; it returns the exit code,
// the output and how long it ran.
func runChat(t *testing.T, args ...string) (int, string, time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "RTCHAT_TEST_MAIN=1", "RTCHAT_TEST_ARGS="+strings.Join(args, " "))
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), string(out), time.Since(start)
}

func TestHelpListsCommands(t *testing.T) {
	code, out, _ := runChat(t, "--help")
	if code != 0 || !strings.HasPrefix(out, "Usage: rtchat ") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
	for _, c := range []string{"/to", "/watch", "/query", "/create", "/join", "/invite", "/kick", "/leave", "/group", "/help", "/quit"} {
		if !strings.Contains(out, c) {
			t.Errorf("--help lacks %s", c)
		}
	}
}

// TestServerDownFailsAtOnce: with nothing listening, rtchat exits 1 at
// once with the dial error and what to do.
func TestServerDownFailsAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // a port nothing listens on
	code, out, took := runChat(t, "--peer", "alice", "--url", "ws://"+addr+"/")
	if code != 1 || !strings.Contains(out, "cannot reach ws://"+addr) || !strings.Contains(out, "connection refused") ||
		!strings.Contains(out, "go run ./cmd/rtgate") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
	if took > 4*time.Second {
		t.Fatalf("took %v to give up", took)
	}
}

func TestPeerRequired(t *testing.T) {
	code, out, _ := runChat(t)
	if code != 2 || !strings.Contains(out, "--peer is required") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
}

// TestPresencePrintedOnce: bob is online (a Go SDK session in this
// process); alice opens watching him and rtchat prints that bob is online
// exactly once, then quits on /quit.
func TestPresencePrintedOnce(t *testing.T) {
	hub, err := core.New(core.Config{Store: memory.New(memory.Config{})})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ws.New(hub, ws.Config{}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
	bob, err := client.New(client.Config{URL: url, AppID: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := bob.Open(ctx, "bob"); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "RTCHAT_TEST_MAIN=1", "RTCHAT_TEST_ARGS=--url "+url+" --peer alice --watch bob")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !(strings.Contains(out.String(), "* alice open on") && strings.Contains(out.String(), "online: [bob]")) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no open and presence lines within 10 s:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond) // polls the child's output; bounded by deadline
	}
	io.WriteString(stdin, "/quit\n")
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("rtchat: %v\n%s", err, out.String())
	}
	if n := strings.Count(out.String(), "online: [bob]"); n != 1 {
		t.Fatalf("bob's presence printed %d times at open, want once:\n%s", n, out.String())
	}
}

// lockedBuffer is a bytes.Buffer safe for the child's two output pipes.
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

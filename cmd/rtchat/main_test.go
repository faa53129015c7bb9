package main

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
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

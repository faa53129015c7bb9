package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildPath string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binary builds cmd/rtgate once per test run (or uses RTGATE_BIN).
func binary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("RTGATE_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "rtgate-bin-")
		if buildErr != nil {
			return
		}
		buildPath = filepath.Join(buildDir, "rtgate")
		out, err := exec.Command("go", "build", "-o", buildPath, ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out) + err.Error())
		}
	})
	if buildErr != nil {
		t.Fatalf("go build: %v", buildErr)
	}
	return buildPath
}

// process is the rtgate binary running in a child process.
type process struct {
	cmd    *exec.Cmd
	out    *output
	addr   string
	exited chan struct{}
	err    error // Wait's result, valid once exited is closed
}

func startBinary(t *testing.T, data string, args ...string) *process {
	t.Helper()
	p := &process{out: newOutput(), exited: make(chan struct{})}
	args = append([]string{"--listen", "127.0.0.1:0", "--quic", "127.0.0.1:0", "--data", data}, args...)
	p.cmd = exec.Command(binary(t), args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.Env = append(os.Environ(), "RTGATE_CONFIG=", "RTGATE_APPS=")
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { // owned by the test: Cleanup waits for exited
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
	})
	p.addr = p.out.waitAddr(t, p.exited)
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *process) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("rtgate did not exit; output:\n%s", p.out)
	}
	return p.cmd.ProcessState.ExitCode()
}

// TestKilledServerKeepsAckedMessage: an acknowledged persistent message to
// an offline peer survives SIGKILL and is delivered offline on restart.
func TestKilledServerKeepsAckedMessage(t *testing.T) {
	data := t.TempDir()
	p := startBinary(t, data)
	alice := dial(t, "ws://"+p.addr+"/")
	alice.open("app", "alice", "bob")
	alice.send(map[string]any{"cmd": "direct", "appId": "app", "peerId": "alice", "msg": "survives kill -9",
		"toPeerIds": []string{"bob"}, "i": 2})
	ack := alice.next("ack", "")
	if ack["uid"] == nil || ack["t"] == nil || ack["i"] != float64(2) {
		t.Fatalf("ack %v", ack)
	}

	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != -1 {
		t.Fatalf("killed process exit code %d", code)
	}

	p = startBinary(t, data)
	bob := dial(t, "ws://"+p.addr+"/")
	bob.open("app", "bob")
	got := bob.next("direct", "")
	if got["msg"] != "survives kill -9" || got["fromPeerId"] != "alice" || got["id"] != ack["uid"] ||
		got["offline"] != true || got["timestamp"] != ack["t"] {
		t.Fatalf("got %v\nack %v", got, ack)
	}
	bob.send(map[string]any{"cmd": "ack", "appId": "app", "peerId": "bob", "ids": []any{got["id"]}})

	// Acked: a later session gets nothing offline. Open a second peer
	// behind it on the same socket to know the server is past the ack.
	bob2 := dial(t, "ws://"+p.addr+"/")
	bob2.send(map[string]any{"cmd": "session", "op": "open", "appId": "app", "peerId": "bob", "sessionPeerIds": []string{}, "i": 1})
	bob2.next("session", "opened")
	bob2.send(map[string]any{"cmd": "session", "op": "query", "appId": "app", "peerId": "bob", "sessionPeerIds": []string{"x"}, "i": 2})
	if m := bob2.nextOf("session", "direct"); m["cmd"] != "session" || m["op"] != "query-result" {
		t.Fatalf("after ack, bob got %v before the query result", m)
	}
}

// TestSIGTERMExitsCleanly: SIGTERM closes clients with 1001 and exits 0.
func TestSIGTERMExitsCleanly(t *testing.T) {
	p := startBinary(t, t.TempDir())
	c := dial(t, "ws://"+p.addr+"/")
	c.open("app", "alice")
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := c.closeCode(); code != 1001 {
		t.Errorf("client closed with %d, want 1001", code)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code %d; output:\n%s", code, p.out)
	}
}

// TestKilledServerKeepsGroupsAndHistory: group membership and history
// survive SIGKILL: after a restart a member receives group messages
// without re-joining, and REST history still lists the earlier message.
func TestKilledServerKeepsGroupsAndHistory(t *testing.T) {
	data := t.TempDir()
	p := startBinary(t, data)
	alice := dial(t, "ws://"+p.addr+"/")
	alice.open("app", "alice")
	alice.send(map[string]any{"cmd": "room", "op": "join", "peerId": "alice", "i": 2})
	room, _ := alice.next("room", "joined")["roomId"].(string)
	bob := dial(t, "ws://"+p.addr+"/")
	bob.open("app", "bob")
	bob.send(map[string]any{"cmd": "room", "op": "join", "peerId": "bob", "roomId": room, "i": 2})
	bob.next("room", "joined")
	alice.send(map[string]any{"cmd": "direct", "peerId": "alice", "roomId": room, "msg": "before the crash", "i": 3})
	before := alice.next("ack", "")
	bob.next("direct", "") // live; bob acks (clients do) so it is not redelivered
	bob.send(map[string]any{"cmd": "ack", "peerId": "bob", "ids": []any{before["uid"]}})
	bob.send(map[string]any{"cmd": "session", "op": "query", "peerId": "bob", "sessionPeerIds": []string{}, "i": 3})
	bob.next("session", "query-result") // the ack was handled
	// A crash may redeliver what was acknowledged within storage.inboxDelay
	// (1 s); wait until the store has settled it (the entry is dropped).
	settled(t, p.addr)

	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(t)
	p = startBinary(t, data)

	bob = dial(t, "ws://"+p.addr+"/")
	bob.open("app", "bob") // no re-join
	alice = dial(t, "ws://"+p.addr+"/")
	alice.open("app", "alice")
	alice.send(map[string]any{"cmd": "direct", "peerId": "alice", "roomId": room, "msg": "after the restart", "i": 2})
	alice.next("ack", "")
	if m := bob.next("direct", ""); m["msg"] != "after the restart" || m["roomId"] != room {
		t.Fatalf("bob got %v", m)
	}

	req, _ := http.NewRequest("GET", "http://"+p.addr+"/1.1/rtm/messages/logs?convid="+room, nil)
	req.Header.Set("X-LC-Id", "app")
	req.Header.Set("X-LC-Key", "any,master")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var logs []map[string]any
	if err := json.NewDecoder(res.Body).Decode(&logs); err != nil || res.StatusCode != 200 {
		t.Fatalf("history: %d %v", res.StatusCode, err)
	}
	if len(logs) != 2 || logs[0]["data"] != "after the restart" || logs[1]["data"] != "before the crash" ||
		logs[1]["msg-id"] != before["uid"] || logs[1]["is-room"] != true {
		t.Fatalf("history %v", logs)
	}
}

// settled waits until the store at addr has no delayed inbox entries
// (the rtgate_store_inbox_delayed gauge is 0).
func settled(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, metrics := httpGet(t, "http://"+addr+"/metrics")
		if strings.Contains(metrics, "\nrtgate_store_inbox_delayed 0\n") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("delayed inbox entries did not settle in 10s:\n%s", metrics)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestKilledServerKeepsAckWithoutInboxDelay: with storage.inboxDelay off
// ("-1s"), a recipient's acknowledgement survives a SIGKILL right after it
// (it is committed before the server answers the next command).
func TestKilledServerKeepsAckWithoutInboxDelay(t *testing.T) {
	data := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "rtgate.json")
	if err := os.WriteFile(cfg, []byte(`{"storage":{"inboxDelay":"-1s"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startBinary(t, data, "--config", cfg)
	alice := dial(t, "ws://"+p.addr+"/")
	alice.open("app", "alice", "bob")
	bob := dial(t, "ws://"+p.addr+"/")
	bob.open("app", "bob")
	alice.send(map[string]any{"cmd": "direct", "peerId": "alice", "msg": "read once", "toPeerIds": []string{"bob"}, "i": 2})
	ack := alice.next("ack", "")
	if m := bob.next("direct", ""); m["id"] != ack["uid"] {
		t.Fatalf("bob got %v, ack %v", m, ack)
	}
	bob.send(map[string]any{"cmd": "ack", "peerId": "bob", "ids": []any{ack["uid"]}})
	bob.send(map[string]any{"cmd": "session", "op": "query", "peerId": "bob", "sessionPeerIds": []string{}, "i": 3})
	bob.next("session", "query-result") // the ack was handled

	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(t)
	p = startBinary(t, data, "--config", cfg)
	bob = dial(t, "ws://"+p.addr+"/")
	bob.open("app", "bob")
	bob.send(map[string]any{"cmd": "session", "op": "query", "peerId": "bob", "sessionPeerIds": []string{"x"}, "i": 2})
	if m := bob.nextOf("session", "direct"); m["cmd"] != "session" || m["op"] != "query-result" {
		t.Fatalf("after the kill, bob got %v before the query result (the acknowledged message came back)", m)
	}
}

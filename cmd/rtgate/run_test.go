package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rtgate/rtgate/internal/config"
)

// inProcess is a server started with run in this process.
type inProcess struct {
	addr   string
	out    *output
	cancel context.CancelFunc
	done   chan struct{}
	err    error // valid once done is closed
}

// start runs the real wiring on 127.0.0.1:0 with a data dir and args.
func start(t *testing.T, data string, args ...string) *inProcess {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &inProcess{out: newOutput(), cancel: cancel, done: make(chan struct{})}
	args = append([]string{"--listen", "127.0.0.1:0", "--quic", "127.0.0.1:0", "--data", data}, args...)
	go func() {
		defer close(s.done)
		s.err = run(ctx, args, func(string) string { return "" }, s.out)
	}()
	s.addr = s.out.waitAddr(t, s.done)
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop cancels the server and waits for run to return.
func (s *inProcess) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("run did not return after cancel; output:\n%s", s.out)
	}
	return s.err
}

func httpGet(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

func TestRunServesEverything(t *testing.T) {
	s := start(t, t.TempDir())
	base := "http://" + s.addr

	t.Run("dev mode is logged", func(t *testing.T) {
		if !strings.Contains(s.out.String(), "dev mode") {
			t.Fatalf("no dev mode warning in:\n%s", s.out)
		}
	})
	t.Run("healthz", func(t *testing.T) {
		code, hdr, body := httpGet(t, base+"/healthz")
		var v map[string]string
		if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") ||
			json.Unmarshal([]byte(body), &v) != nil || v["status"] != "ok" {
			t.Fatalf("%d %s", code, body)
		}
	})
	t.Run("router", func(t *testing.T) {
		code, hdr, body := httpGet(t, base+"/v1/route?appId=any")
		want := `{"server":"ws://` + s.addr + `/","ttl":3600,"groupId":"g0","secondary":"ws://` + s.addr + `/"}`
		if code != 200 || body != want || hdr.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("%d %s\nwant %s", code, body, want)
		}
	})
	t.Run("root without upgrade", func(t *testing.T) {
		if code, _, body := httpGet(t, base+"/"); code != 200 || !strings.Contains(body, "rtgate") {
			t.Fatalf("%d %s", code, body)
		}
		if code, _, _ := httpGet(t, base+"/nope"); code != 404 {
			t.Fatalf("unknown path: %d", code)
		}
	})
	t.Run("websocket at / and /ws", func(t *testing.T) {
		a := dial(t, "ws://"+s.addr+"/")
		a.open("app", "alice", "bob")
		b := dial(t, "ws://"+s.addr+"/ws")
		b.open("app", "bob", "alice")
		a.send(map[string]any{"cmd": "direct", "peerId": "alice", "msg": "hi", "toPeerIds": []string{"bob"}, "i": 2})
		ack := a.next("ack", "")
		got := b.next("direct", "")
		if got["msg"] != "hi" || got["fromPeerId"] != "alice" || got["id"] != ack["uid"] {
			t.Fatalf("got %v, ack %v", got, ack)
		}
	})
	t.Run("rest history", func(t *testing.T) {
		req, _ := http.NewRequest("GET", base+"/1.1/rtm/messages/logs?peerid=alice", nil)
		req.Header.Set("X-AVOSCloud-Application-Id", "app")
		req.Header.Set("X-AVOSCloud-Application-Key", "anything")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var logs []map[string]any
		if err := json.NewDecoder(res.Body).Decode(&logs); err != nil || res.StatusCode != 200 {
			t.Fatalf("%d %v", res.StatusCode, err)
		}
		if len(logs) != 1 || logs[0]["data"] != "hi" {
			t.Fatalf("history %v", logs)
		}
	})
	t.Run("long-poll", func(t *testing.T) {
		res, err := http.Post(base+"/lp/open", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var v map[string]any
		if err := json.NewDecoder(res.Body).Decode(&v); err != nil || res.StatusCode != 200 || v["sid"] == nil {
			t.Fatalf("%d %v %v", res.StatusCode, v, err)
		}
	})
	t.Run("metrics", func(t *testing.T) {
		code, _, body := httpGet(t, base+"/metrics")
		for _, name := range []string{"rtgate_connections", "rtgate_messages_in_total", "go_goroutines", "process_start_time_seconds"} {
			if !strings.Contains(body, name) {
				t.Errorf("metrics lack %s", name)
			}
		}
		if code != 200 {
			t.Fatalf("status %d", code)
		}
	})
	if err := s.stop(t); err != nil {
		t.Fatalf("run: %v", err)
	}
}

func TestRunConfiguredAppsRefuseOthers(t *testing.T) {
	s := start(t, t.TempDir(), "--app", "known:key:master")
	if strings.Contains(s.out.String(), "dev mode") {
		t.Fatal("apps configured but dev mode logged")
	}
	if code, _, body := httpGet(t, "http://"+s.addr+"/v1/route?appId=other"); code != 404 ||
		body != `{"code":4100,"error":"unknown appId"}` {
		t.Fatalf("%d %s", code, body)
	}
	if code, _, _ := httpGet(t, "http://"+s.addr+"/v1/route?appId=known"); code != 200 {
		t.Fatalf("known app: %d", code)
	}
	c := dial(t, "ws://"+s.addr+"/")
	c.send(map[string]any{"cmd": "session", "op": "open", "appId": "other", "peerId": "p", "i": 1})
	if code := c.closeCode(); code != 4100 {
		t.Fatalf("unknown app closed with %d, want 4100", code)
	}
	ok := dial(t, "ws://"+s.addr+"/")
	ok.open("known", "p")
}

// TestGracefulStopKeepsMessages stops the server (as SIGTERM does) with a
// pending message and finds it on restart.
func TestGracefulStopKeepsMessages(t *testing.T) {
	eager := filepath.Join(t.TempDir(), "eager.json")
	if err := os.WriteFile(eager, []byte(`{"storage":{"syncInterval":"-1s","inboxDelay":"-1s"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want []string // in the start-up log
	}{
		{nil, []string{"memtable_mb=64", "sync_interval=2ms", "inbox_delay=1s"}},
		{[]string{"--memtable-mb", "4"}, []string{"memtable_mb=4"}},
		{[]string{"--config", eager}, []string{"sync_interval=0s", "inbox_delay=0s"}},
	} {
		t.Run(strings.Join(append([]string{"args"}, tc.args...), " "), func(t *testing.T) {
			testGracefulStopKeepsMessages(t, tc.want, tc.args...)
		})
	}
}

func testGracefulStopKeepsMessages(t *testing.T, logged []string, args ...string) {
	data := t.TempDir()
	s := start(t, data, args...)
	for _, want := range logged {
		if !strings.Contains(s.out.String(), want) {
			t.Fatalf("no %s in the start-up log:\n%s", want, s.out)
		}
	}
	a := dial(t, "ws://"+s.addr+"/")
	a.open("app", "alice", "bob")
	a.send(map[string]any{"cmd": "direct", "peerId": "alice", "msg": "later", "toPeerIds": []string{"bob"}, "i": 2})
	ack := a.next("ack", "")
	// The acknowledged message was committed and synced; bob is offline,
	// so his inbox entry was written with it, not delayed.
	_, _, metrics := httpGet(t, "http://"+s.addr+"/metrics")
	if !strings.Contains(metrics, "\nrtgate_store_inbox_delayed 0\n") {
		t.Errorf("an offline recipient's inbox entry was delayed:\n%s", metrics)
	}
	for _, name := range []string{"rtgate_store_commits_total", "rtgate_store_ops_total", "rtgate_store_syncs_total"} {
		m := regexp.MustCompile(`(?m)^` + name + ` (\d+)`).FindStringSubmatch(metrics)
		if m == nil || m[1] == "0" {
			t.Errorf("%s = %v after a persistent message, want > 0", name, m)
		}
	}
	closed := make(chan int, 1)
	go func() { closed <- a.closeCode() }() // answers the server's close frame
	if err := s.stop(t); err != nil {
		t.Fatalf("run: %v", err)
	}
	if code := <-closed; code != 1001 {
		t.Errorf("client closed with %d, want 1001", code)
	}

	s = start(t, data, args...)
	b := dial(t, "ws://"+s.addr+"/")
	b.open("app", "bob")
	got := b.next("direct", "")
	if got["msg"] != "later" || got["id"] != ack["uid"] || got["offline"] != true {
		t.Fatalf("got %v, ack %v", got, ack)
	}
}

func TestRunErrors(t *testing.T) {
	noEnv := func(string) string { return "" }
	t.Run("bad config", func(t *testing.T) {
		err := run(context.Background(), []string{"--listen", "nope"}, noEnv, io.Discard)
		if !errors.Is(err, config.ErrInvalid) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("bad public url", func(t *testing.T) {
		err := run(context.Background(), []string{"--listen", "127.0.0.1:0", "--quic", "off", "--data", t.TempDir(), "--public-url", "ftp://x"}, noEnv, io.Discard)
		if !errors.Is(err, config.ErrInvalid) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("address in use", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		err = run(context.Background(), []string{"--listen", ln.Addr().String(), "--quic", "off", "--data", t.TempDir()}, noEnv, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "listen") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("env is read", func(t *testing.T) {
		env := map[string]string{"RTGATE_LISTEN": "nope"}
		err := run(context.Background(), nil, func(k string) string { return env[k] }, io.Discard)
		if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), "nope") {
			t.Fatalf("err %v", err)
		}
	})
}

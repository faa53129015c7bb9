package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rtgate/rtgate/client/wire"
	"github.com/rtgate/rtgate/protocol"
)

var refusedMetric = regexp.MustCompile(`(?m)^rtgate_connections_refused_per_ip_total (\d+)`)

// TestConnectionsPerIP: with limits.connectionsPerIP 2, a third
// connection from 127.0.0.1 is refused over WebSocket and HTTP (closed at
// once) and over QUIC (closed); the two admitted are untouched; closing one
// admits a new one; the refusals are counted.
func TestConnectionsPerIP(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "rtgate.json")
	if err := os.WriteFile(cfg, []byte(`{"limits":{"connectionsPerIP":2}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := start(t, filepath.Join(dir, "data"), "--config", cfg)
	udp := quicLine.FindStringSubmatch(s.out.String())
	if udp == nil {
		t.Fatalf("no QUIC line in:\n%s", s.out)
	}
	var info struct{ SHA256 string }
	_, _, body := httpGet(t, "http://"+s.addr+"/certinfo")
	if err := json.Unmarshal([]byte(body), &info); err != nil {
		t.Fatal(err)
	}
	http.DefaultClient.CloseIdleConnections() // its connection counts too

	a := dialRetry(t, "ws://"+s.addr+"/") // once the server has seen that one close
	a.open("dev", "alice", "bob")
	b := dialRetry(t, "ws://"+s.addr+"/")
	b.open("dev", "bob", "alice")
	if ws, _, err := websocket.DefaultDialer.Dial("ws://"+s.addr+"/", nil); err == nil {
		ws.Close()
		t.Fatal("a third WebSocket connection from one address was admitted")
	}
	if res, err := http.Get("http://" + s.addr + "/healthz"); err == nil {
		res.Body.Close()
		t.Fatal("a third HTTP connection from one address was admitted")
	}
	q, err := wire.Dial(t.Context(), "quic://"+udp[1], &wire.Options{PinSHA256: info.SHA256})
	if err == nil {
		err = q.Send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: "dev", PeerID: "carol", I: 1})
		if err == nil {
			_, err = q.Recv()
		}
		q.Close()
	}
	// Closed before the handshake is confirmed, the reason does not
	// travel (RFC 9000 §10.2.3): the client sees APPLICATION_ERROR.
	if err == nil || !strings.Contains(err.Error(), "too many connections") && !strings.Contains(err.Error(), "APPLICATION_ERROR") {
		t.Fatalf("QUIC over the limit: %v, want it closed", err)
	}

	// alice and bob are untouched: a message crosses.
	a.send(map[string]any{"cmd": "direct", "peerId": "alice", "toPeerIds": []string{"bob"}, "msg": "still here", "transient": true})
	if m := b.next("direct", ""); m["msg"] != "still here" {
		t.Fatalf("bob got %v", m)
	}
	a.ws.Close()
	c := dialRetry(t, "ws://"+s.addr+"/")
	c.open("dev", "dave")
	c.ws.Close()
	b.ws.Close()

	var n int
	for deadline := time.Now().Add(10 * time.Second); n < 3; time.Sleep(20 * time.Millisecond) {
		if res, err := http.Get("http://" + s.addr + "/metrics"); err == nil {
			var sb strings.Builder
			_, _ = io.Copy(&sb, res.Body)
			res.Body.Close()
			http.DefaultClient.CloseIdleConnections()
			if m := refusedMetric.FindStringSubmatch(sb.String()); m != nil {
				n, _ = strconv.Atoi(m[1])
			}
		}
		if n < 3 && time.Now().After(deadline) {
			t.Fatalf("rtgate_connections_refused_per_ip_total %d, want >= 3", n)
		}
	}
}

// dialRetry dials url until the server admits it (the count of a
// connection just closed is released when the server sees it close).
func dialRetry(t *testing.T, url string) *client {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ws, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err == nil {
			t.Cleanup(func() { ws.Close() })
			return &client{t: t, ws: ws}
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial %s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

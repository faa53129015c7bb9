package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rtgate/rtgate/internal/devcert"
)

var tlsListenLine = regexp.MustCompile(`rtgate listening on https://(\S+) \(WebSocket wss://`)

// TestListenTLS: --listen-tls serves the same endpoints over HTTPS and WSS
// with the QUIC certificate (here the dev one, pinned by its /certinfo
// hash): the router answers wss:// and a v1 session opens over wss.
func TestListenTLS(t *testing.T) {
	s := start(t, t.TempDir(), "--listen-tls", "127.0.0.1:0")
	var m []string
	for deadline := time.Now().Add(10 * time.Second); m == nil; time.Sleep(10 * time.Millisecond) {
		if m = tlsListenLine.FindStringSubmatch(s.out.String()); m == nil && time.Now().After(deadline) {
			t.Fatalf("no https listen line in:\n%s", s.out)
		}
	}
	addr := m[1]
	_, _, body := httpGet(t, "http://"+s.addr+"/certinfo")
	var info struct{ SHA256 string }
	if err := json.Unmarshal([]byte(body), &info); err != nil {
		t.Fatalf("/certinfo: %s", body)
	}
	pin, err := hex.DecodeString(info.SHA256)
	if err != nil || len(pin) != sha256.Size {
		t.Fatalf("/certinfo: %s", body)
	}
	tc := devcert.PinnedClientConfig([sha256.Size]byte(pin))
	tc.NextProtos = []string{"http/1.1"}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	res, err := hc.Get("https://" + addr + "/v1/route?appId=dev")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var route struct{ Server string }
	if json.Unmarshal(b, &route) != nil || route.Server != "wss://"+addr+"/" {
		t.Fatalf("router over https: %d %s, want server wss://%s/", res.StatusCode, b, addr)
	}
	d := websocket.Dialer{TLSClientConfig: tc}
	ws, _, err := d.Dial(route.Server, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", route.Server, err)
	}
	c := &client{t: t, ws: ws}
	t.Cleanup(func() { ws.Close() })
	if got := c.open("dev", "alice"); got["op"] != "opened" {
		t.Fatalf("session over wss: %v", got)
	}
}

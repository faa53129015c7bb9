package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// output collects a server's stdout and reports the first address it
// listens on.
type output struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	addr  chan string
	found bool
}

var listenLine = regexp.MustCompile(`rtgate listening on http://(\S+)`)

func newOutput() *output { return &output{addr: make(chan string, 1)} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	if !o.found {
		if m := listenLine.FindSubmatch(o.buf.Bytes()); m != nil {
			o.found = true
			o.addr <- string(m[1])
		}
	}
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitAddr returns the listen address, failing the test after a while or
// when exited is closed first.
func (o *output) waitAddr(t *testing.T, exited <-chan struct{}) string {
	t.Helper()
	select {
	case a := <-o.addr:
		return a
	case <-exited:
		t.Fatalf("server exited before listening; output:\n%s", o)
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not report its address; output:\n%s", o)
	}
	return ""
}

// client is a v1 WebSocket client.
type client struct {
	t  *testing.T
	ws *websocket.Conn
}

func dial(t *testing.T, url string) *client {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { ws.Close() })
	return &client{t: t, ws: ws}
}

// dialSubprotocol is dial offering one WebSocket subprotocol (a modern
// dialect).
func dialSubprotocol(t *testing.T, url, proto string) *client {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{proto}}
	ws, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	if ws.Subprotocol() != proto {
		t.Fatalf("dial %s: subprotocol %q, want %q", url, ws.Subprotocol(), proto)
	}
	t.Cleanup(func() { ws.Close() })
	return &client{t: t, ws: ws}
}

func (c *client) send(v map[string]any) {
	c.t.Helper()
	if err := c.ws.WriteJSON(v); err != nil {
		c.t.Fatalf("send %v: %v", v, err)
	}
}

// next reads frames until one has cmd (and op, when given), skipping
// presence and the like.
func (c *client) next(cmd, op string) map[string]any {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			c.t.Fatalf("waiting for %s %s: %v", cmd, op, err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			c.t.Fatalf("bad frame %s: %v", b, err)
		}
		if m["cmd"] == cmd && (op == "" || m["op"] == op) {
			return m
		}
	}
}

// nextOf reads frames until one has one of cmds, and returns it.
func (c *client) nextOf(cmds ...string) map[string]any {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			c.t.Fatalf("waiting for one of %v: %v", cmds, err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			c.t.Fatalf("bad frame %s: %v", b, err)
		}
		if cmd, _ := m["cmd"].(string); slices.Contains(cmds, cmd) {
			return m
		}
	}
}

// open opens a session for peer, watching watch.
func (c *client) open(app, peer string, watch ...string) map[string]any {
	c.t.Helper()
	if watch == nil {
		watch = []string{}
	}
	c.send(map[string]any{"cmd": "session", "op": "open", "appId": app, "peerId": peer,
		"sessionPeerIds": watch, "i": 1})
	return c.next("session", "opened")
}

// closeCode reads until the server closes the connection and returns the
// close code (or -1 when the connection ended without a close frame).
func (c *client) closeCode() int {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := c.ws.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			return -1
		}
	}
}

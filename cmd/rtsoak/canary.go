package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// canaryIP is the canary's source address: no attack uses it.
const canaryIP = "127.0.0.2"

// canaryTimeout bounds each check of the canary.
const canaryTimeout = 5 * time.Second

// canaryTransport is the HTTP transport of the canary (and of rtsoak's
// own reads of /metrics).
func canaryTransport() *http.Transport {
	return &http.Transport{DialContext: sourceDialer(canaryIP).DialContext, MaxIdleConnsPerHost: 4}
}

// canaryReport sums up a canary's checks.
type canaryReport struct {
	checks, failed int
	worst          time.Duration
	first          string // the first failure
}

func (c canaryReport) String() string {
	return fmt.Sprintf("%d checks, %d failed, worst %v (persistent message A→B, long-poll open, REST history)",
		c.checks, c.failed, c.worst.Round(time.Millisecond))
}

// canary is another user of the server while a scenario runs.
type canary struct {
	s   *soak
	hc  *http.Client
	seq atomic.Int64
	a   *wsPeer // sender, watches b
	b   *wsPeer // receiver
}

func newCanary(s *soak) *canary {
	return &canary{s: s, hc: &http.Client{Timeout: canaryTimeout, Transport: canaryTransport()}}
}

// run checks every half second until ctx ends (at least once), noting the
// server's resources into pk each time.
func (c *canary) run(ctx context.Context, pk *peak) canaryReport {
	var rep canaryReport
	defer c.hc.CloseIdleConnections()
	defer c.close()
	for {
		start := time.Now()
		err := c.check()
		d := time.Since(start)
		rep.checks++
		rep.worst = max(rep.worst, d)
		if err != nil {
			rep.failed++
			if rep.first == "" {
				rep.first = err.Error()
			}
			c.close() // reconnect next time
		}
		pk.note(c.s.snap())
		select {
		case <-ctx.Done():
			return rep
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (c *canary) close() {
	for _, p := range []*wsPeer{c.a, c.b} {
		if p != nil {
			p.close()
		}
	}
	c.a, c.b = nil, nil
}

// check sends a persistent message from A to B, opens and closes a
// long-poll session, and reads the REST history.
func (c *canary) check() error {
	n := c.seq.Add(1)
	if c.a == nil {
		var err error
		if c.b, err = dialPeer(c.s.base, canaryIP, "canary-b"); err != nil {
			return fmt.Errorf("canary B: %w", err)
		}
		if c.a, err = dialPeer(c.s.base, canaryIP, "canary-a", "canary-b"); err != nil {
			return fmt.Errorf("canary A: %w", err)
		}
	}
	text := fmt.Sprintf("canary %d", n)
	if err := c.a.send(map[string]any{"cmd": "direct", "appId": app, "peerId": "canary-a", "msg": text,
		"toPeerIds": []string{"canary-b"}}); err != nil {
		return fmt.Errorf("canary A send: %w", err)
	}
	if _, err := c.a.await(canaryTimeout, func(m map[string]any) bool { return m["cmd"] == "ack" }); err != nil {
		return fmt.Errorf("canary A ack: %w", err)
	}
	got, err := c.b.await(canaryTimeout, func(m map[string]any) bool { return m["cmd"] == "direct" && m["msg"] == text })
	if err != nil {
		return fmt.Errorf("canary B delivery: %w", err)
	}
	c.b.send(map[string]any{"cmd": "ack", "appId": app, "peerId": "canary-b", "ids": []any{got["id"]}})

	res, err := c.hc.Post(c.s.base+"/lp/open", "application/json", strings.NewReader(`{"dialect":"v1"}`))
	if err != nil {
		return fmt.Errorf("canary long-poll open: %w", err)
	}
	var open struct {
		SID string `json:"sid"`
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &open) != nil {
		return fmt.Errorf("canary long-poll open: HTTP %d %s", res.StatusCode, strings.TrimSpace(string(body)))
	}
	if res, err := c.hc.Post(c.s.base+"/lp/close?sid="+open.SID, "application/json", nil); err == nil {
		res.Body.Close()
	}

	req, _ := http.NewRequest(http.MethodGet, c.s.base+"/1.1/rtm/messages/logs?from=canary-a&limit=1", nil)
	req.Header.Set("X-LC-Id", app)
	req.Header.Set("X-LC-Key", "any,master")
	res, err = c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("canary REST history: %w", err)
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("canary REST history: HTTP %d", res.StatusCode)
	}
	return nil
}

// wsPeer is a v1 JSON WebSocket connection with one open session, read by
// its own goroutine.
type wsPeer struct {
	conn   *websocket.Conn
	frames chan map[string]any
	done   chan struct{} // closed when the reader ends
	err    error         // the reader's error, valid after done
}

// dialPeer connects from ip and opens peer watching watch.
func dialPeer(base, ip, peer string, watch ...string) (*wsPeer, error) {
	d := websocket.Dialer{NetDialContext: sourceDialer(ip).DialContext, HandshakeTimeout: canaryTimeout}
	conn, _, err := d.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws", nil)
	if err != nil {
		return nil, err
	}
	p := &wsPeer{conn: conn, frames: make(chan map[string]any, 256), done: make(chan struct{})}
	go p.read() // owned by p: ends when conn is closed
	if watch == nil {
		watch = []string{}
	}
	if err := p.send(map[string]any{"cmd": "session", "op": "open", "appId": app, "peerId": peer, "sessionPeerIds": watch}); err != nil {
		p.close()
		return nil, err
	}
	if _, err := p.await(canaryTimeout, func(m map[string]any) bool { return m["cmd"] == "session" && m["op"] == "opened" }); err != nil {
		p.close()
		return nil, fmt.Errorf("open %s: %w", peer, err)
	}
	return p, nil
}

func (p *wsPeer) read() {
	defer close(p.done)
	for {
		_, b, err := p.conn.ReadMessage()
		if err != nil {
			p.err = err
			return
		}
		var m map[string]any
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		select {
		case p.frames <- m:
		default: // nobody waits for this one
		}
	}
}

func (p *wsPeer) send(m map[string]any) error {
	b, _ := json.Marshal(m)
	p.conn.SetWriteDeadline(time.Now().Add(canaryTimeout))
	return p.conn.WriteMessage(websocket.TextMessage, b)
}

// await returns the first frame for which want is true, within timeout.
func (p *wsPeer) await(timeout time.Duration, want func(map[string]any) bool) (map[string]any, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case m := <-p.frames:
			if want(m) {
				return m, nil
			}
		case <-p.done:
			return nil, fmt.Errorf("connection lost: %w", p.err)
		case <-t.C:
			return nil, errors.New("timed out")
		}
	}
}

func (p *wsPeer) close() {
	p.conn.Close()
	<-p.done
}

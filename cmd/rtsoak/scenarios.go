package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// idlePerIP is how many idle connections leave from one source address
// (the soak server allows 1000 per IP).
const idlePerIP = 750

// idle opens --conns connections with a session each and measures the
// server's memory per connection.
func (s *soak) idle(ctx context.Context, r *result, pk *peak) {
	n := s.o.conns
	conns := make([]*websocket.Conn, n)
	var failed atomic.Int64
	var firstErr atomic.Value
	var next atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(90 * time.Second)
	start := time.Now()
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				c, err := openIdle(s.base, fmt.Sprintf("127.0.1.%d", 1+i/idlePerIP), i, n)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("conn %d: %v", i, err))
					continue
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	open := 0
	for _, c := range conns {
		if c != nil {
			open++
		}
	}
	time.Sleep(2 * time.Second) // let the server settle before measuring
	held := s.snap()
	pk.note(held)
	perConn := float64(held.rss-r.before.rss) / float64(max(open, 1)) / 1024
	r.figuref("%d of %d connections open with a session each in %v; %v; %.1f KiB of RSS and %.2f goroutines per connection",
		open, n, took.Round(100*time.Millisecond), held, perConn,
		float64(held.goroutines-r.before.goroutines)/float64(max(open, 1)))
	if open < n {
		first, _ := firstErr.Load().(string)
		r.failf("only %d of %d idle connections opened a session (%d failed; first: %s)", open, n, failed.Load(), first)
	}
	if perConn > s.o.maxIdleKiB {
		r.failf("%.1f KiB per idle connection, over --max-idle-kib %.0f", perConn, s.o.maxIdleKiB)
	}
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// openIdle connects from ip and opens idle-i watching the next two.
func openIdle(base, ip string, i, n int) (*websocket.Conn, error) {
	d := websocket.Dialer{NetDialContext: sourceDialer(ip).DialContext, HandshakeTimeout: 10 * time.Second,
		ReadBufferSize: 256, WriteBufferSize: 256}
	c, _, err := d.Dial(wsURL(base), nil)
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(map[string]any{"cmd": "session", "op": "open", "appId": app, "peerId": fmt.Sprintf("idle-%d", i),
		"sessionPeerIds": []string{fmt.Sprintf("idle-%d", (i+1)%n), fmt.Sprintf("idle-%d", (i+2)%n)}})
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := c.WriteMessage(websocket.TextMessage, b); err != nil {
		c.Close()
		return nil, err
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for range 16 { // opened, maybe after presence events
		_, msg, err := c.ReadMessage()
		if err != nil {
			c.Close()
			return nil, err
		}
		if strings.Contains(string(msg), `"opened"`) {
			c.SetReadDeadline(time.Time{})
			return c, nil
		}
	}
	c.Close()
	return nil, errors.New("no opened")
}

func wsURL(base string) string { return "ws" + strings.TrimPrefix(base, "http") + "/ws" }

// modernConn is a rtgate.json.1 WebSocket connection read synchronously.
type modernConn struct{ c *websocket.Conn }

func dialModern(base, ip string) (*modernConn, error) {
	d := websocket.Dialer{NetDialContext: sourceDialer(ip).DialContext, HandshakeTimeout: 10 * time.Second,
		Subprotocols: []string{"rtgate.json.1"}}
	c, _, err := d.Dial(wsURL(base), nil)
	if err != nil {
		return nil, err
	}
	if c.Subprotocol() != "rtgate.json.1" {
		c.Close()
		return nil, errors.New("the server did not accept rtgate.json.1")
	}
	return &modernConn{c: c}, nil
}

// call sends m (with "i") and returns the reply with that i (an `error`
// included), or the close error.
func (m *modernConn) call(msg map[string]any, i int64, timeout time.Duration) (map[string]any, error) {
	msg["i"] = i
	b, _ := json.Marshal(msg)
	m.c.SetWriteDeadline(time.Now().Add(timeout))
	if err := m.c.WriteMessage(websocket.TextMessage, b); err != nil {
		return nil, err
	}
	m.c.SetReadDeadline(time.Now().Add(timeout))
	for {
		_, data, err := m.c.ReadMessage()
		if err != nil {
			return nil, err
		}
		var reply map[string]any
		if json.Unmarshal(data, &reply) == nil && reply["i"] == float64(i) {
			return reply, nil
		}
	}
}

// watchSessions and watchPerSession are what the watch attack tries: the
// v1 limits, 64 sessions on one connection, 10 000 watches each.
const (
	watchSessions   = 64
	watchPerSession = 10000
	watchChunk      = 2000                 // peers per session add (a 64 KiB frame holds them)
	watchPace       = 7 * time.Millisecond // under the default flood limit of 200 commands/s
)

// watch makes one connection watch as many peers as it is let.
func (s *soak) watch(ctx context.Context, r *result, pk *peak) {
	m, err := dialModern(s.base, "127.0.2.1")
	if err != nil {
		r.failf("attacker: %v", err)
		return
	}
	defer m.c.Close()
	held, refusal := 0, ""
	var i int64
	deadline := time.Now().Add(90 * time.Second)
attack:
	for k := 0; k < watchSessions; k++ {
		peer := fmt.Sprintf("watcher-%d", k)
		calls := []map[string]any{{"cmd": "session", "op": "open", "appId": app, "peerId": peer, "sessionPeerIds": []string{}}}
		for j := 0; j < watchPerSession; j += watchChunk {
			ids := make([]string, watchChunk)
			for x := range ids {
				ids[x] = fmt.Sprintf("w%d-%d", k, j+x)
			}
			calls = append(calls, map[string]any{"cmd": "session", "op": "add", "appId": app, "peerId": peer, "sessionPeerIds": ids})
		}
		for _, call := range calls {
			if ctx.Err() != nil || time.Now().After(deadline) {
				refusal = "stopped: out of time"
				break attack
			}
			i++
			reply, err := m.call(call, i, 10*time.Second)
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					refusal = fmt.Sprintf("closed %d %q", ce.Code, ce.Text)
				} else {
					refusal = "connection failed: " + err.Error()
				}
				break attack
			}
			if reply["cmd"] == "error" {
				refusal = fmt.Sprintf("error %v %v", reply["code"], reply["reason"])
				break attack
			}
			if call["op"] == "add" {
				held += watchChunk
			}
			time.Sleep(watchPace)
		}
		if k%8 == 7 {
			pk.note(s.snap())
		}
	}
	at := s.snap()
	pk.note(at)
	r.figuref("one connection held %d watches over %d commands; then: %s; %v (%+.1f MiB)", held, i,
		orDefault(refusal, "nothing refused it"), at, float64(at.rss-r.before.rss)/(1<<20))
	for _, line := range s.metricsMatching("watch") {
		r.figuref("metric %s", line)
	}
	if refusal == "" || strings.HasPrefix(refusal, "stopped") || strings.HasPrefix(refusal, "connection failed") {
		r.failf("the server did not refuse one connection's %d watches (%d sessions × %d): no bound covers them",
			held, watchSessions, watchPerSession)
	}
}

// metricsMatching returns the samples of /metrics whose name contains sub.
func (s *soak) metricsMatching(sub string) []string {
	res, err := s.hc.Get(s.base + "/metrics")
	if err != nil {
		return nil
	}
	defer res.Body.Close()
	var out []string
	sc := bufio.NewScanner(io.LimitReader(res.Body, 16<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, _, _ := strings.Cut(line, " ")
		if !strings.HasPrefix(line, "#") && strings.Contains(name, sub) {
			out = append(out, line)
		}
	}
	return out
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// longpoll opens --lp-opens long-poll sessions from one address.
func (s *soak) longpoll(ctx context.Context, r *result, pk *peak) {
	const workers = 8
	hc := httpClient("127.0.3.1", workers)
	defer hc.CloseIdleConnections()
	var next, opened atomic.Int64
	var mu sync.Mutex
	statuses := map[int]int{}
	firstRefused := int64(-1)
	var firstBody string
	deadline := time.Now().Add(60 * time.Second)
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				n := next.Add(1)
				if n > int64(s.o.lpOpens) {
					return
				}
				code, body := -1, ""
				res, err := hc.Post(s.base+"/lp/open", "application/json", strings.NewReader(`{"dialect":"v1"}`))
				if err == nil {
					b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
					res.Body.Close()
					code, body = res.StatusCode, string(b)
				}
				mu.Lock()
				statuses[code]++
				if code == http.StatusOK {
					opened.Add(1)
				} else if firstRefused < 0 || n < firstRefused {
					firstRefused, firstBody = n, strings.TrimSpace(body)
				}
				mu.Unlock()
				if n%2000 == 0 {
					pk.note(s.snap())
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	at := s.snap()
	pk.note(at)
	codes := make([]int, 0, len(statuses))
	for c := range statuses {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("HTTP %d ×%d", c, statuses[c]))
	}
	r.figuref("%d /lp/open calls from one address in %v (%s); %d sessions opened; %v (%+.1f MiB)",
		next.Load()-workers, took.Round(100*time.Millisecond), strings.Join(parts, ", "), opened.Load(), at,
		float64(at.rss-r.before.rss)/(1<<20))
	if v, ok := s.metric("rtgate_longpoll_sessions"); ok {
		r.figuref("rtgate_longpoll_sessions %.0f after the attack", v)
	}
	if firstRefused < 0 {
		r.failf("all %d long-poll opens from one address succeeded: no per-IP bound (limits.connectionsPerIP is 1000 here)", opened.Load())
	} else {
		r.figuref("first refusal at open %d: %s", firstRefused, firstBody)
	}
}

// slowVariants are the credentials of the slow REST requests: none (the
// server may read the body for the old SDK's body envelope, so it must
// bound that read), valid keys (bounded likewise), and a wrong key in the
// headers, which must be refused before the body is read.
var slowVariants = []struct{ name, headers string }{
	{"without keys", ""},
	{"with keys", "X-LC-Id: " + app + "\r\nX-LC-Key: any,master\r\n"},
	{"with a wrong key", "X-LC-Id: " + keyedApp + "\r\nX-LC-Key: wrong\r\n"},
}

// wrongKeyBound is how soon a request with a wrong key must be refused.
const wrongKeyBound = 2 * time.Second

// slowREST holds --slow-conns REST requests whose body never comes.
func (s *soak) slowREST(ctx context.Context, r *result, pk *peak) {
	n := s.o.slowConns
	type outcome struct {
		variant int
		took    time.Duration
		answer  string // the status line, "" if closed without one
		held    bool   // still open at the bound
		err     string
	}
	outs := make([]outcome, n)
	var wg sync.WaitGroup
	start := time.Now()
	addr := strings.TrimPrefix(s.base, "http://")
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := &outs[i]
			o.variant = i % len(slowVariants)
			c, err := sourceDialer("127.0.4.1").DialContext(ctx, "tcp", addr)
			if err != nil {
				o.err = err.Error()
				return
			}
			defer c.Close()
			hdr := "POST /1.1/rtm/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n" +
				slowVariants[o.variant].headers
			t0 := time.Now()
			if _, err := io.WriteString(c, hdr+"\r\n{"); err != nil {
				o.err = err.Error()
				return
			}
			c.SetReadDeadline(t0.Add(s.o.slowBound))
			line, err := bufio.NewReader(c).ReadString('\n')
			o.took = time.Since(t0)
			var ne net.Error
			switch {
			case line != "":
				o.answer = strings.TrimSpace(line)
			case errors.As(err, &ne) && ne.Timeout():
				o.held = true
			}
		}()
	}
	waitNoting(&wg, s, pk)
	held := make([]int, len(slowVariants))
	worst := make([]time.Duration, len(slowVariants))
	answers := make([]map[string]int, len(slowVariants))
	errs := 0
	for _, o := range outs {
		v := o.variant
		switch {
		case o.err != "":
			errs++
		case o.held:
			held[v]++
		default:
			if answers[v] == nil {
				answers[v] = map[string]int{}
			}
			answers[v][orDefault(o.answer, "closed without an answer")]++
			worst[v] = max(worst[v], o.took)
		}
	}
	r.figuref("%d connections with Content-Length 100 and one byte of body, in %v:", n, time.Since(start).Round(100*time.Millisecond))
	for v, sv := range slowVariants {
		r.figuref("  %s: %d held past %v, the others answered within %v: %v", sv.name, held[v], s.o.slowBound,
			worst[v].Round(time.Millisecond), answers[v])
		if held[v] > 0 {
			r.failf("%s: %d requests with a body that never comes were still held after %v", sv.name, held[v], s.o.slowBound)
		}
	}
	if errs > 0 {
		r.failf("%d connections could not be made", errs)
	}
	if w := worst[2]; w > wrongKeyBound || held[2] > 0 {
		r.failf("with a wrong key: refused after %v, not before the body (within %v)", w.Round(time.Millisecond), wrongKeyBound)
	}
	for a := range answers[2] {
		if !strings.Contains(a, " 401 ") {
			r.failf("with a wrong key: answered %q, want 401", a)
		}
	}
}

// churn opens and closes sessions on --churn-conns connections.
func (s *soak) churn(ctx context.Context, r *result, pk *peak) {
	var cycles, failures atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(s.o.churnTime)
	var wg sync.WaitGroup
	start := time.Now()
	for c := range s.o.churnConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := dialModern(s.base, "127.0.5.1")
			if err != nil {
				failures.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			defer m.c.Close()
			peer := fmt.Sprintf("churn-%d", c)
			tick := time.NewTicker(12 * time.Millisecond) // 2 commands a tick: under 200/s
			defer tick.Stop()
			var i int64
			for ctx.Err() == nil && time.Now().Before(deadline) {
				<-tick.C
				for _, call := range []map[string]any{
					{"cmd": "session", "op": "open", "appId": app, "peerId": peer, "sessionPeerIds": []string{fmt.Sprintf("churn-%d", c+1)}},
					{"cmd": "session", "op": "close", "appId": app, "peerId": peer},
				} {
					i++
					reply, err := m.call(call, i, 5*time.Second)
					if err == nil && reply["cmd"] == "error" {
						err = fmt.Errorf("error %v %v", reply["code"], reply["reason"])
					}
					if err != nil {
						failures.Add(1)
						firstErr.CompareAndSwap(nil, fmt.Sprintf("%s %s: %v", peer, call["op"], err))
						return
					}
				}
				cycles.Add(1)
			}
		}()
	}
	waitNoting(&wg, s, pk)
	took := time.Since(start)
	r.figuref("%d open/close cycles on %d connections in %v: %.0f cycles/s", cycles.Load(), s.o.churnConns,
		took.Round(100*time.Millisecond), float64(cycles.Load())/took.Seconds())
	if failures.Load() > 0 {
		first, _ := firstErr.Load().(string)
		r.failf("%d connections failed; first: %s", failures.Load(), first)
	}
}

// waitNoting waits for wg, noting the server's resources every second.
func waitNoting(wg *sync.WaitGroup, s *soak, pk *peak) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for {
		select {
		case <-done:
			return
		case <-time.After(time.Second):
			pk.note(s.snap())
		}
	}
}

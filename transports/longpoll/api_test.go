package longpoll_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/storage/memory"
	"github.com/rtgate/rtgate/transports/longpoll"
)

// The tests here call the handler directly (no network), most of them in
// a synctest bubble so that held polls, ping timeouts, expiry and linger
// run on the fake clock.

const (
	testPoll = 25 * time.Second
	testPing = 20 * time.Second
)

// lp is a handler over a fresh hub.
type lp struct {
	t   *testing.T
	hub *core.Hub
	h   *longpoll.Handler
}

func newLP(t *testing.T, mod func(*longpoll.Config)) *lp {
	hub, err := core.New(core.Config{Store: memory.New(memory.Config{}), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := longpoll.Config{PollTimeout: testPoll, PingTimeout: testPing, Logger: slog.New(slog.DiscardHandler)}
	if mod != nil {
		mod(&cfg)
	}
	l := &lp{t: t, hub: hub, h: longpoll.New(hub, cfg)}
	t.Cleanup(func() {
		if err := hub.Shutdown(context.Background()); err != nil {
			t.Errorf("hub shutdown: %v", err)
		}
		l.h.Wait()
	})
	return l
}

// do runs one request through the handler.
func (l *lp) do(method, target, body string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "/lp/"+target, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	l.h.ServeHTTP(w, r)
	return w
}

// goDo runs a request in its own goroutine (a held poll).
func (l *lp) goDo(method, target string) <-chan *httptest.ResponseRecorder {
	ch := make(chan *httptest.ResponseRecorder, 1)
	go func() { ch <- l.do(method, target, "") }()
	return ch
}

func (l *lp) open(dialect string) string {
	l.t.Helper()
	body := ""
	if dialect != "" {
		body = `{"dialect":"` + dialect + `"}`
	}
	w := l.do("POST", "open", body)
	var resp struct{ SID string }
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &resp) != nil || resp.SID == "" {
		l.t.Fatalf("open = %d %s", w.Code, w.Body)
	}
	return resp.SID
}

// send posts body and expects 200 {"ack":want}.
func (l *lp) send(sid, body string, want int64) {
	l.t.Helper()
	w := l.do("POST", "send?sid="+sid, body)
	if w.Code != 200 || w.Body.String() != `{"ack":`+itoa(want)+`}` {
		l.t.Fatalf("send %s = %d %s, want ack %d", body, w.Code, w.Body, want)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// expectBody checks a response's status and exact body.
func expectBody(t *testing.T, w *httptest.ResponseRecorder, code int, body string) {
	t.Helper()
	if w.Code != code || w.Body.String() != body {
		t.Fatalf("got %d %s\nwant %d %s", w.Code, w.Body, code, body)
	}
}

// expectError checks an error response's status and API code.
func expectError(t *testing.T, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	var e struct{ Code, Error string }
	if w.Code != status || json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Code != code || e.Error == "" {
		t.Fatalf("got %d %s, want %d with code %q", w.Code, w.Body, status, code)
	}
}

func TestOpen(t *testing.T) {
	l := newLP(t, nil)
	w := l.do("POST", "open", "")
	var resp struct {
		SID, Dialect              string
		PingInterval, PingTimeout int64
		MaxPayload                int
	}
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || w.Code != 200 {
		t.Fatalf("open = %d %s", w.Code, w.Body)
	}
	if len(resp.SID) != 32 || strings.Trim(resp.SID, "0123456789abcdef") != "" || resp.Dialect != "v1" ||
		resp.PingInterval != testPoll.Milliseconds() || resp.PingTimeout != testPing.Milliseconds() || resp.MaxPayload != 1<<20 {
		t.Fatalf("open = %+v", resp)
	}
	if cc, ct := w.Header().Get("Cache-Control"), w.Header().Get("Content-Type"); cc != "no-store" || !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("headers: Cache-Control %q, Content-Type %q", cc, ct)
	}
	if l.open("") == resp.SID {
		t.Fatal("two opens returned the same sid")
	}
	for _, target := range []string{"open?dialect=rtgate.json.1", "open"} {
		body := ""
		if target == "open" {
			body = `{"dialect":"rtgate.json.1"}`
		}
		w := l.do("POST", target, body)
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"dialect":"rtgate.json.1"`) {
			t.Fatalf("modern open via %s = %d %s", target, w.Code, w.Body)
		}
	}
	expectError(t, l.do("POST", "open", `{"dialect":"msgpack"}`), 400, "unknown_dialect")
	expectError(t, l.do("POST", "open", `{`), 400, "bad_request")
}

func TestRequestErrors(t *testing.T) {
	l := newLP(t, func(c *longpoll.Config) { c.MaxPayload = 512; c.MaxBatchFrames = 2 })
	sid := l.open("")
	tests := []struct {
		name, method, target, body string
		status                     int
		code                       string
	}{
		{"unknown sid send", "POST", "send?sid=ffff", `[]`, 404, "unknown_session"},
		{"unknown sid poll", "GET", "poll?sid=ffff", "", 404, "unknown_session"},
		{"missing sid", "POST", "close", "", 404, "unknown_session"},
		{"unknown endpoint", "GET", "stream?sid=" + sid, "", 404, "not_found"},
		{"open is POST", "GET", "open", "", 405, "method_not_allowed"},
		{"poll is GET", "POST", "poll?sid=" + sid, "", 405, "method_not_allowed"},
		{"send body not an array", "POST", "send?sid=" + sid, `{"cseq":1}`, 400, "bad_request"},
		{"send item without cseq", "POST", "send?sid=" + sid, `[{"d":{}}]`, 400, "bad_request"},
		{"too many items", "POST", "send?sid=" + sid, `[{"cseq":1,"d":{}},{"cseq":2,"d":{}},{"cseq":3,"d":{}}]`, 413, "too_large"},
		{"body over maxPayload", "POST", "send?sid=" + sid, `[{"cseq":1,"d":"` + strings.Repeat("x", 600) + `"}]`, 413, "too_large"},
		{"cseq gap", "POST", "send?sid=" + sid, `[{"cseq":2,"d":{}}]`, 400, "bad_cseq"},
		{"ack beyond the last frame", "GET", "poll?sid=" + sid + "&ack=1", "", 400, "bad_ack"},
		{"ack not a number", "GET", "poll?sid=" + sid + "&ack=x", "", 400, "bad_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expectError(t, l.do(tc.method, tc.target, tc.body), tc.status, tc.code)
		})
	}
}

func TestCORS(t *testing.T) {
	l := newLP(t, func(c *longpoll.Config) { c.AllowedOrigins = []string{"https://chat.example.org"} })
	w := l.do("OPTIONS", "send", "", "Origin", "https://Chat.example.org", "Access-Control-Request-Method", "POST")
	if w.Code != 204 || w.Header().Get("Access-Control-Allow-Origin") != "https://Chat.example.org" ||
		!strings.Contains(w.Header().Get("Access-Control-Allow-Methods"), "POST") || w.Header().Get("Access-Control-Allow-Headers") != "Content-Type" {
		t.Fatalf("preflight = %d %v", w.Code, w.Header())
	}
	w = l.do("POST", "open", "", "Origin", "https://chat.example.org")
	if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "https://chat.example.org" || w.Header().Get("Vary") != "Origin" {
		t.Fatalf("open = %d %v", w.Code, w.Header())
	}
	expectError(t, l.do("POST", "open", "", "Origin", "https://evil.example"), 403, "origin_not_allowed")
	if w := l.do("POST", "open", ""); w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("open without Origin = %d %v", w.Code, w.Header())
	}
}

func TestSendIsIdempotentAndPollRetryIsRepeatable(t *testing.T) {
	l := newLP(t, nil)
	sid := l.open("")
	l.send(sid, `[{"cseq":1,"d":{}}]`, 1)
	l.send(sid, `[{"cseq":1,"d":{}}]`, 1)                     // a retry: skipped
	l.send(sid, `[{"cseq":1,"d":{}},{"cseq":2,"d":"{}"}]`, 2) // 1 skipped, 2 applied (as a string)
	batch := `{"frames":[{"seq":1,"d":{}},{"seq":2,"d":{}}]}`
	expectBody(t, l.do("GET", "poll?sid="+sid, ""), 200, batch)
	expectBody(t, l.do("GET", "poll?sid="+sid+"&ack=0", ""), 200, batch) // the same frames again
	expectBody(t, l.do("GET", "poll?sid="+sid+"&ack=1", ""), 200, `{"frames":[{"seq":2,"d":{}}]}`)
	expectError(t, l.do("GET", "poll?sid="+sid+"&ack=3", ""), 400, "bad_ack")
}

func TestBatchBoundedByMaxPayload(t *testing.T) {
	l := newLP(t, func(c *longpoll.Config) { c.MaxPayload = 40 })
	sid := l.open("")
	for i := range int64(3) {
		l.send(sid, `[{"cseq":`+itoa(i+1)+`,"d":{}}]`, i+1) // frames of 16 bytes
	}
	expectBody(t, l.do("GET", "poll?sid="+sid, ""), 200, `{"frames":[{"seq":1,"d":{}},{"seq":2,"d":{}}]}`)
	expectBody(t, l.do("GET", "poll?sid="+sid+"&ack=2", ""), 200, `{"frames":[{"seq":3,"d":{}}]}`)
}

func TestHeldPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLP(t, nil)
		sid := l.open("")
		start := time.Now()
		first := l.goDo("GET", "poll?sid="+sid)
		synctest.Wait() // held
		// A keepalive's reply wakes the held poll.
		l.send(sid, `[{"cseq":1,"d":{}}]`, 1)
		expectBody(t, <-first, 200, `{"frames":[{"seq":1,"d":{}}]}`)
		if time.Since(start) != 0 {
			t.Fatalf("answered after %s", time.Since(start))
		}
		// Nothing to send: the poll is answered with a ping after PollTimeout.
		second := l.goDo("GET", "poll?sid="+sid+"&ack=1")
		synctest.Wait()
		start = time.Now()
		expectBody(t, <-second, 200, `{"frames":[],"ping":true}`)
		if d := time.Since(start); d != testPoll {
			t.Fatalf("ping after %s, want %s", d, testPoll)
		}
	})
}

func TestNewerPollReplacesHeldOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLP(t, nil)
		sid := l.open("")
		old := l.goDo("GET", "poll?sid="+sid)
		synctest.Wait()
		newer := l.goDo("GET", "poll?sid="+sid)
		synctest.Wait()
		select {
		case w := <-old:
			expectBody(t, w, 200, `{"frames":[]}`)
		default:
			t.Fatal("the replaced poll is still held")
		}
		l.send(sid, `[{"cseq":1,"d":{}}]`, 1)
		expectBody(t, <-newer, 200, `{"frames":[{"seq":1,"d":{}}]}`)
	})
}

func TestCoreCloseIsAnsweredAndLingers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLP(t, nil)
		sid := l.open("") // v1: a command before open closes with 4105
		l.send(sid, `[{"cseq":1,"d":{}},{"cseq":2,"d":{"cmd":"direct","peerId":"a","msg":"x","toPeerIds":["b"]}},{"cseq":3,"d":{}}]`, 2)
		w := l.do("GET", "poll?sid="+sid, "")
		want := `{"frames":[{"seq":1,"d":{}}],"close":{"code":4105,"reason":"no open session for peer \"a\" on this connection"}}`
		expectBody(t, w, 200, want)
		expectBody(t, l.do("GET", "poll?sid="+sid, ""), 200, want) // the retried final poll
		expectError(t, l.do("POST", "send?sid="+sid, `[{"cseq":3,"d":{}}]`), 410, "session_closed")
		time.Sleep(testPing) // linger
		synctest.Wait()
		expectError(t, l.do("GET", "poll?sid="+sid, ""), 404, "unknown_session")
		if n := l.h.Sessions(); n != 0 {
			t.Fatalf("%d sessions left", n)
		}
	})
}

func TestExpiryWithoutPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLP(t, nil)
		watcher := coretest.Dial(l.hub, false)
		t.Cleanup(watcher.Drop) // before the hub shuts down
		watcher.Open(t, "app", "w", "bob")
		sid := l.open("")
		l.send(sid, `[{"cseq":1,"d":{"cmd":"session","op":"open","appId":"app","peerId":"bob","sessionPeerIds":[],"i":1}}]`, 1)
		watcher.Expect(t, protocol.KindPresence) // bob on
		// A held poll keeps the session; PollTimeout+PingTimeout after
		// the last answered poll, it expires.
		if w := l.do("GET", "poll?sid="+sid, ""); w.Code != 200 || !strings.HasPrefix(w.Body.String(), `{"frames":[{"seq":1,"d":{"cmd":"session","op":"opened",`) {
			t.Fatalf("poll = %d %s", w.Code, w.Body)
		}
		start := time.Now()
		time.Sleep(testPoll + testPing - time.Second)
		synctest.Wait()
		if l.h.Sessions() != 1 {
			t.Fatal("expired early")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		off := watcher.Expect(t, protocol.KindPresence)
		if off.Status != protocol.StatusOff || time.Since(start) != testPoll+testPing {
			t.Fatalf("presence %+v after %s", *off, time.Since(start))
		}
		expectError(t, l.do("GET", "poll?sid="+sid+"&ack=1", ""), 404, "unknown_session")
	})
}

func TestClientClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLP(t, nil)
		sid := l.open("")
		held := l.goDo("GET", "poll?sid="+sid)
		synctest.Wait()
		expectBody(t, l.do("POST", "close?sid="+sid, ""), 200, `{}`)
		expectBody(t, <-held, 200, `{"frames":[],"close":{"code":1000,"reason":"closed by the client"}}`)
		expectError(t, l.do("GET", "poll?sid="+sid, ""), 404, "unknown_session")
	})
}

func TestBufferOverflowIsASlowConsumer(t *testing.T) {
	l := newLP(t, func(c *longpoll.Config) { c.BufferFrames = 3 })
	sid := l.open("")
	l.send(sid, `[{"cseq":1,"d":{}},{"cseq":2,"d":{}}]`, 2)
	expectBody(t, l.do("GET", "poll?sid="+sid, ""), 200, `{"frames":[{"seq":1,"d":{}},{"seq":2,"d":{}}]}`)
	l.send(sid, `[{"cseq":3,"d":{}}]`, 3) // 1, 2, 3 buffered: full, not over
	expectBody(t, l.do("GET", "poll?sid="+sid+"&ack=2", ""), 200, `{"frames":[{"seq":3,"d":{}}]}`)
	l.send(sid, `[{"cseq":4,"d":{}},{"cseq":5,"d":{}}]`, 5) // acked frames made room
	expectBody(t, l.do("GET", "poll?sid="+sid+"&ack=3", ""), 200, `{"frames":[{"seq":4,"d":{}},{"seq":5,"d":{}}]}`)
	l.send(sid, `[{"cseq":6,"d":{}},{"cseq":7,"d":{}}]`, 7) // 4, 5, 6 and then 7: over
	expectBody(t, l.do("GET", "poll?sid="+sid+"&ack=3", ""), 200,
		`{"frames":[],"close":{"code":4201,"reason":"long-poll buffer full: the client does not poll"}}`)
}

func TestShutdownAnswersHeldPolls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLP(t, nil)
		sid := l.open("")
		held := l.goDo("GET", "poll?sid="+sid)
		synctest.Wait()
		if err := l.hub.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		expectBody(t, <-held, 200, `{"frames":[],"close":{"code":1001,"reason":"server shutting down"}}`)
		expectError(t, l.do("POST", "open", ""), http.StatusServiceUnavailable, "unavailable")
	})
}

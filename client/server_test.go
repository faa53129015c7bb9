package client

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtgate/rtgate/client/wire"
	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/storage/memory"
	"github.com/rtgate/rtgate/transports/ws"
)

// testServer is a core.Hub behind transports/ws on a loopback httptest
// server whose TCP connections the test can drop, and which it can make
// refuse new connections for a while.
type testServer struct {
	hub  *core.Hub
	url  string // ws://127.0.0.1:port/
	down atomic.Bool
	// dropAck, when set, makes the next write holding an ack frame close
	// its connection instead: the ack is lost after the server acted.
	dropAck atomic.Bool

	mu    sync.Mutex
	conns map[net.Conn]struct{} // accepted, not yet closed; guarded by mu
}

func newHub(t testing.TB, apps core.Apps) *core.Hub {
	t.Helper()
	hub, err := core.New(core.Config{Store: memory.New(memory.Config{}), Apps: apps, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hub.Shutdown(ctx)
	})
	return hub
}

// serveWS serves hub over WebSocket on a new loopback port.
func serveWS(t testing.TB, hub *core.Hub) *testServer {
	t.Helper()
	s := &testServer{hub: hub, conns: make(map[net.Conn]struct{})}
	h := ws.New(hub, ws.Config{Logger: slog.New(slog.DiscardHandler), CommandsPerSecond: -1})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.down.Load() {
			http.Error(w, "down for the test", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	srv.Listener = &trackListener{Listener: srv.Listener, s: s}
	srv.Start()
	t.Cleanup(func() {
		s.drop()
		srv.Close()
		h.Wait()
	})
	s.url = "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
	return s
}

// drop closes every TCP connection of the server, as a network failure
// would.
func (s *testServer) drop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

type trackListener struct {
	net.Listener
	s *testServer
}

func (l *trackListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.s.mu.Lock()
	l.s.conns[c] = struct{}{}
	l.s.mu.Unlock()
	return &trackedConn{Conn: c, s: l.s}, nil
}

type trackedConn struct {
	net.Conn
	s *testServer
}

func (c *trackedConn) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("ack")) && c.s.dropAck.CompareAndSwap(true, false) {
		c.Close()
		return 0, net.ErrClosed
	}
	return c.Conn.Write(p)
}

func (c *trackedConn) Close() error {
	c.s.mu.Lock()
	delete(c.s.conns, c.Conn)
	c.s.mu.Unlock()
	return c.Conn.Close()
}

// ev is one Handler event, as the recorder saw it.
type ev struct {
	kind  string // "message", "sent", "failure", "online", "offline", "paused", "resumed", "group", "receipt", "error"
	peer  string // the session's peer
	m     *Message
	sent  *Sent
	fail  *Failure
	peers []string
	g     *GroupEvent
	r     *Receipt
	err   error
}

// recorder is a Handler that forwards every event to a channel. gate, if
// set, is called in OnMessage before the event is recorded (a test blocks
// the handler with it).
type recorder struct {
	ch   chan ev
	gate func(*Message)

	mu   sync.Mutex
	msgs []*Message // every message given to OnMessage; guarded by mu
}

func newRecorder() *recorder { return &recorder{ch: make(chan ev, 10000)} }

func peerOf(s *Session) string {
	if s == nil {
		return ""
	}
	return s.PeerID()
}

func (r *recorder) OnMessage(s *Session, m *Message) {
	if r.gate != nil {
		r.gate(m)
	}
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	r.ch <- ev{kind: "message", peer: peerOf(s), m: m}
}
func (r *recorder) OnSent(s *Session, m *Sent) { r.ch <- ev{kind: "sent", peer: peerOf(s), sent: m} }
func (r *recorder) OnFailure(s *Session, f *Failure) {
	r.ch <- ev{kind: "failure", peer: peerOf(s), fail: f}
}
func (r *recorder) OnOnline(s *Session, p []string) {
	r.ch <- ev{kind: "online", peer: peerOf(s), peers: p}
}
func (r *recorder) OnOffline(s *Session, p []string) {
	r.ch <- ev{kind: "offline", peer: peerOf(s), peers: p}
}
func (r *recorder) OnPaused(s *Session)  { r.ch <- ev{kind: "paused", peer: peerOf(s)} }
func (r *recorder) OnResumed(s *Session) { r.ch <- ev{kind: "resumed", peer: peerOf(s)} }
func (r *recorder) OnGroupEvent(s *Session, e *GroupEvent) {
	r.ch <- ev{kind: "group", peer: peerOf(s), g: e}
}
func (r *recorder) OnReceipt(s *Session, x *Receipt) {
	r.ch <- ev{kind: "receipt", peer: peerOf(s), r: x}
}
func (r *recorder) OnError(s *Session, err error) {
	r.ch <- ev{kind: "error", peer: peerOf(s), err: err}
}

// wait returns the next event of that kind for which match (nil: any)
// holds, skipping others; it fails the test after 5 s.
func (r *recorder) wait(t testing.TB, kind string, match func(ev) bool) ev {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-r.ch:
			if e.kind == kind && (match == nil || match(e)) {
				return e
			}
		case <-deadline:
			t.Fatalf("no %q event within 5 s", kind)
			return ev{}
		}
	}
}

// until returns the events up to and including the first that stop
// matches (failing the test after 5 s).
func (r *recorder) until(t testing.TB, stop func(ev) bool) []ev {
	t.Helper()
	var evs []ev
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-r.ch:
			evs = append(evs, e)
			if stop(e) {
				return evs
			}
		case <-deadline:
			t.Fatalf("no closing event within 5 s; saw %d", len(evs))
			return nil
		}
	}
}

func (r *recorder) messages() []*Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Message(nil), r.msgs...)
}

// newClient starts a client for url with a recorder and fast reconnects.
func newClient(t testing.TB, url string, opts *wire.Options, edit ...func(*Config)) (*Client, *recorder) {
	t.Helper()
	rec := newRecorder()
	cfg := Config{
		URL: url, AppID: "dev", Transport: opts, Handler: rec,
		Reconnect: Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		Logger:    slog.New(slog.DiscardHandler),
	}
	for _, f := range edit {
		f(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, rec
}

func open(t testing.TB, c *Client, peer string, watch ...string) *Session {
	t.Helper()
	s, err := c.Open(context.Background(), peer, watch...)
	if err != nil {
		t.Fatalf("open %s: %v", peer, err)
	}
	return s
}

// dialects are the WebSocket dialects every scenario runs over.
var dialects = []struct {
	name  string
	codec wire.Codec
}{
	{"msgpack", wire.CodecMsgpack},
	{"json", wire.CodecJSON},
	{"legacy", wire.CodecLegacy},
}

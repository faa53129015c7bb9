package client

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rtgate/rtgate/client/wire"
	"github.com/rtgate/rtgate/core"
)

var bg = context.Background()

// scenario is a test that runs against any transport: env reaches a fresh
// hub.
type scenario struct {
	name string
	run  func(t *testing.T, e env)
}

// env says how a scenario's clients reach the server.
type env struct {
	url  string
	opts *wire.Options
	dial func(context.Context, string, *wire.Options) (wire.Conn, error) // nil: wire.Dial
}

func (e env) client(t *testing.T) (*Client, *recorder) {
	return newClient(t, e.url, e.opts, func(c *Config) { c.dial = e.dial })
}

var scenarios = []scenario{
	{"OpenWatchPresence", testOpenWatchPresence},
	{"SendReceiveAck", testSendReceiveAck},
	{"TransientAndReceipt", testTransientAndReceipt},
	{"Groups", testGroups},
	{"SeveralPeersOneConn", testSeveralPeers},
}

func TestWebSocket(t *testing.T) {
	for _, d := range dialects {
		for _, sc := range scenarios {
			t.Run(d.name+"/"+sc.name, func(t *testing.T) {
				srv := serveWS(t, newHub(t, nil))
				sc.run(t, env{url: srv.url, opts: &wire.Options{Codec: d.codec}})
			})
		}
	}
}

func testOpenWatchPresence(t *testing.T, e env) {
	ca, ra := e.client(t)
	alice := open(t, ca, "alice", "bob")
	if got := alice.Online(); len(got) != 0 {
		t.Fatalf("online before bob opened: %v", got)
	}
	cb, _ := e.client(t)
	bob := open(t, cb, "bob")
	ra.wait(t, "online", func(e ev) bool { return e.peer == "alice" && slices.Equal(e.peers, []string{"bob"}) })
	if got := alice.Online(); !slices.Equal(got, []string{"bob"}) {
		t.Fatalf("Online() = %v, want [bob]", got)
	}
	online, err := bob.Query(bg, "alice", "carol")
	if err != nil || !slices.Equal(online, []string{"alice"}) {
		t.Fatalf("query = %v, %v; want [alice]", online, err)
	}
	// Watch carol (offline), then she comes online.
	if on, err := alice.Watch(bg, "carol"); err != nil || len(on) != 0 {
		t.Fatalf("watch carol = %v, %v", on, err)
	}
	cc, _ := e.client(t)
	open(t, cc, "carol")
	ra.wait(t, "online", func(e ev) bool { return slices.Equal(e.peers, []string{"carol"}) })
	if err := alice.Unwatch(bg, "carol"); err != nil {
		t.Fatalf("unwatch: %v", err)
	}
	if got := alice.Watched(); !slices.Equal(got, []string{"bob"}) {
		t.Fatalf("Watched() = %v", got)
	}
	if err := bob.Close(bg); err != nil {
		t.Fatalf("close bob: %v", err)
	}
	ra.wait(t, "offline", func(e ev) bool { return slices.Equal(e.peers, []string{"bob"}) })
	if _, err := bob.Query(bg, "alice"); !errors.Is(err, ErrSessionClosed) {
		t.Fatalf("query on closed session: %v", err)
	}
	// The peer id is free again on that client.
	open(t, cb, "bob")
	ra.wait(t, "online", func(e ev) bool { return slices.Equal(e.peers, []string{"bob"}) })
}

func testSendReceiveAck(t *testing.T, e env) {
	ca, ra := e.client(t)
	alice := open(t, ca, "alice", "bob")
	cb, rb := e.client(t)
	open(t, cb, "bob", "alice")

	sent, err := alice.Send(bg, []string{"bob"}, "hi bob", SendOptions{})
	if err != nil || sent.ID == "" || sent.Time.IsZero() {
		t.Fatalf("send = %+v, %v", sent, err)
	}
	x := ra.wait(t, "sent", nil)
	if x.sent.ID != sent.ID || x.sent.Text != "hi bob" {
		t.Fatalf("OnSent %+v, want id %s", x.sent, sent.ID)
	}
	m := rb.wait(t, "message", nil).m
	if m.ID != sent.ID || m.From != "alice" || m.To != "bob" || m.Text != "hi bob" || m.Offline || m.Transient {
		t.Fatalf("received %+v", m)
	}
	if !m.Time.Equal(sent.Time) {
		t.Fatalf("time %v, sent %v", m.Time, sent.Time)
	}
	// Bob acked it: a new connection for bob gets nothing redelivered;
	// the next message is the first he sees.
	cb.Close()
	// The server read everything bob sent (his ack) once it saw him go.
	ra.wait(t, "offline", nil)
	cb2, rb2 := e.client(t)
	open(t, cb2, "bob", "alice")
	if _, err := alice.Send(bg, []string{"bob"}, "second", SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if m := rb2.wait(t, "message", nil).m; m.Text != "second" {
		t.Fatalf("first message after reconnect is %q (redelivered?)", m.Text)
	}

	// Offline delivery: bob closes, alice sends, bob opens again.
	ra.wait(t, "online", nil)
	cb2.Close()
	ra.wait(t, "offline", nil)
	sent, err = alice.Send(bg, []string{"bob"}, "while away", SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cb3, rb3 := e.client(t)
	open(t, cb3, "bob")
	m = rb3.wait(t, "message", nil).m
	if m.ID != sent.ID || !m.Offline {
		t.Fatalf("offline delivery: %+v", m)
	}
}

func testTransientAndReceipt(t *testing.T, e env) {
	ca, ra := e.client(t)
	alice := open(t, ca, "alice", "bob")
	cb, rb := e.client(t)
	open(t, cb, "bob", "alice")

	if s, err := alice.Send(bg, []string{"bob"}, "typing", SendOptions{Transient: true}); err != nil || s.ID != "" {
		t.Fatalf("transient send = %+v, %v", s, err)
	}
	if m := rb.wait(t, "message", nil).m; !m.Transient || m.Text != "typing" {
		t.Fatalf("transient received %+v", m)
	}
	sent, err := alice.Send(bg, []string{"bob"}, "read me", SendOptions{Receipt: true})
	if err != nil {
		t.Fatal(err)
	}
	rb.wait(t, "message", func(e ev) bool { return e.m.ID == sent.ID })
	r := ra.wait(t, "receipt", nil).r
	if r.ID != sent.ID || r.Time.IsZero() {
		t.Fatalf("receipt %+v for %s", r, sent.ID)
	}
}

func testGroups(t *testing.T, e env) {
	ca, ra := e.client(t)
	alice := open(t, ca, "alice")
	cb, rb := e.client(t)
	bob := open(t, cb, "bob")
	cc, rc := e.client(t)
	carol := open(t, cc, "carol")

	room, err := alice.CreateGroup(bg)
	if err != nil || room == "" {
		t.Fatalf("create = %q, %v", room, err)
	}
	x := ra.wait(t, "group", func(e ev) bool { return e.g.Kind == GroupJoined })
	if x.g.RoomID != room || x.g.By != "alice" {
		t.Fatalf("joined event %+v", x.g)
	}
	added, err := alice.InviteToGroup(bg, room, "bob")
	if err != nil || !slices.Equal(added, []string{"bob"}) {
		t.Fatalf("invite = %v, %v", added, err)
	}
	x = rb.wait(t, "group", func(e ev) bool { return e.g.Kind == GroupJoined })
	if x.g.RoomID != room || x.g.By != "alice" {
		t.Fatalf("bob joined event %+v", x.g)
	}
	if err := carol.JoinGroup(bg, room); err != nil {
		t.Fatalf("carol join: %v", err)
	}
	ra.wait(t, "group", func(e ev) bool {
		return e.g.Kind == GroupMembersJoined && slices.Equal(e.g.Peers, []string{"carol"})
	})

	sent, err := bob.SendToGroup(bg, room, "hello group", SendOptions{})
	if err != nil || sent.ID == "" {
		t.Fatalf("group send = %+v, %v", sent, err)
	}
	for _, r := range []*recorder{ra, rc} {
		m := r.wait(t, "message", nil).m
		if m.RoomID != room || m.From != "bob" || m.ID != sent.ID {
			t.Fatalf("group message %+v", m)
		}
	}

	kicked, err := alice.KickFromGroup(bg, room, "carol")
	if err != nil || !slices.Equal(kicked, []string{"carol"}) {
		t.Fatalf("kick = %v, %v", kicked, err)
	}
	x = rc.wait(t, "group", func(e ev) bool { return e.g.Kind == GroupLeft })
	if x.g.By != "alice" {
		t.Fatalf("carol left event %+v", x.g)
	}
	if err := bob.LeaveGroup(bg, room); err != nil {
		t.Fatalf("leave: %v", err)
	}
	ra.wait(t, "group", func(e ev) bool {
		return e.g.Kind == GroupMembersLeft && slices.Equal(e.g.Peers, []string{"bob"})
	})

	// A group that does not exist: rejected.
	var rej *RejectError
	if err := bob.JoinGroup(bg, "000000000000000000000000"); !errors.As(err, &rej) {
		t.Fatalf("join unknown group: %v, want *RejectError", err)
	}
	rb.wait(t, "group", func(e ev) bool { return e.g.Kind == GroupRejected })
}

func testSeveralPeers(t *testing.T, e env) {
	c, r := e.client(t)
	alice := open(t, c, "alice", "bob")
	bob := open(t, c, "bob", "alice")
	if _, err := c.Open(bg, "bob"); !errors.Is(err, ErrSessionExists) {
		t.Fatalf("second open of bob: %v", err)
	}
	sent, err := alice.Send(bg, []string{"bob"}, "same socket", SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	x := r.wait(t, "message", nil)
	if x.peer != "bob" || x.m.ID != sent.ID {
		t.Fatalf("message for %s: %+v", x.peer, x.m)
	}
	if _, err := bob.Send(bg, []string{"alice"}, "back", SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if x := r.wait(t, "message", nil); x.peer != "alice" || x.m.Text != "back" {
		t.Fatalf("message for %s: %+v", x.peer, x.m)
	}
}

// TestReconnect drops bob's connection while a message is being handled
// and keeps him offline while alice sends another: after the resumption
// the handler sees each message exactly once.
func TestReconnect(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			hub := newHub(t, nil)
			as, bs := serveWS(t, hub), serveWS(t, hub)
			opts := &wire.Options{Codec: d.codec}
			ca, ra := newClient(t, as.url, opts)
			alice := open(t, ca, "alice", "bob")

			gate := make(chan struct{})
			var once sync.Once
			release := func() { once.Do(func() { close(gate) }) }
			inHandler := make(chan string, 10)
			cb, rb := newClient(t, bs.url, opts)
			t.Cleanup(release) // before cb.Close, which waits for the handler
			rb.gate = func(m *Message) {
				inHandler <- m.Text
				if m.Text == "first" {
					<-gate
				}
			}
			bob := open(t, cb, "bob", "alice")
			ra.wait(t, "online", nil)

			first, err := alice.Send(bg, []string{"bob"}, "first", SendOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := <-inHandler; got != "first" {
				t.Fatalf("handler got %q", got)
			}
			// The handler holds "first", unacked. The network fails and
			// bob's server refuses connections for a while.
			bs.down.Store(true)
			bs.drop()
			ra.wait(t, "offline", nil)
			second, err := alice.Send(bg, []string{"bob"}, "second", SendOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// A request made while paused waits for the resumption.
			queried := make(chan error, 1)
			go func() {
				_, err := bob.Query(bg, "alice")
				queried <- err
			}()
			bs.down.Store(false)
			ra.wait(t, "online", nil)
			if err := <-queried; err != nil {
				t.Fatalf("query across the reconnection: %v", err)
			}
			release()
			rb.wait(t, "paused", nil)
			rb.wait(t, "resumed", nil)
			m := rb.wait(t, "message", func(e ev) bool { return e.m.Text == "second" }).m
			if m.ID != second.ID || !m.Offline {
				t.Fatalf("second: %+v", m)
			}
			// A barrier: a live message after both.
			third, err := alice.Send(bg, []string{"bob"}, "third", SendOptions{})
			if err != nil {
				t.Fatal(err)
			}
			rb.wait(t, "message", func(e ev) bool { return e.m.ID == third.ID })
			var ids []string
			for _, m := range rb.messages() {
				ids = append(ids, m.ID)
			}
			if want := []string{first.ID, second.ID, third.ID}; !slices.Equal(ids, want) {
				t.Fatalf("handled %v, want %v", ids, want)
			}
			if st := cb.Stats(); st.Duplicates != 1 || st.Connects != 2 {
				t.Fatalf("stats %+v, want 1 duplicate (first, redelivered) and 2 connects", st)
			}
		})
	}
}

// TestRequestFailsWhenLost: a request in flight when the connection drops
// fails with ErrConnLost; the message is reported to OnFailure.
func TestRequestTimeout(t *testing.T) {
	srv := serveWS(t, newHub(t, nil))
	c, r := newClient(t, srv.url, nil, func(cfg *Config) { cfg.RequestTimeout = 200 * time.Millisecond })
	s := open(t, c, "alice", "bob")
	srv.down.Store(true)
	srv.drop()
	r.wait(t, "paused", nil)
	if _, err := s.Send(bg, []string{"bob"}, "x", SendOptions{}); !errors.Is(err, ErrTimeout) {
		t.Fatalf("send while offline: %v, want ErrTimeout", err)
	}
	if f := r.wait(t, "failure", nil).fail; !errors.Is(f.Err, ErrTimeout) || f.Text != "x" {
		t.Fatalf("failure %+v", f)
	}
	srv.down.Store(false)
	r.wait(t, "resumed", nil)
	if _, err := s.Send(bg, []string{"bob"}, "y", SendOptions{}); err != nil {
		t.Fatalf("send after resume: %v", err)
	}
}

// TestSignatures runs against an app that requires signatures: HMACSigner
// signs open, watch and group operations; without a signer the open is
// refused (close 4108) and Open fails instead of retrying forever.
func TestSignatures(t *testing.T) {
	apps := core.StaticApps{"dev": {ID: "dev", MasterKey: "master", Signatures: true}}
	srv := serveWS(t, newHub(t, apps))
	c, _ := newClient(t, srv.url, nil, func(cfg *Config) { cfg.Signer = HMACSigner("master") })
	alice := open(t, c, "alice", "bob")
	if on, err := alice.Watch(bg, "carol"); err != nil || on == nil && err != nil {
		t.Fatalf("signed watch: %v", err)
	}
	room, err := alice.CreateGroup(bg)
	if err != nil {
		t.Fatalf("signed create: %v", err)
	}
	if _, err := alice.InviteToGroup(bg, room, "bob"); err != nil {
		t.Fatalf("signed invite: %v", err)
	}

	bad, r := newClient(t, srv.url, nil, func(cfg *Config) { cfg.Signer = HMACSigner("wrong") })
	if _, err := bad.Open(bg, "mallory"); err == nil {
		t.Fatal("open with a bad signature succeeded")
	}
	r.wait(t, "error", nil)
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Config{AppID: "x"}); err == nil {
		t.Error("New without URL succeeded")
	}
	if _, err := New(Config{URL: "ws://127.0.0.1:1/"}); err == nil {
		t.Error("New without AppID succeeded")
	}
}

func TestBackoffBounded(t *testing.T) {
	b := Config{}.withDefaults().Reconnect
	for n := range 100 {
		for _, rnd := range []float64{0, 0.5, 1} {
			d := b.delay(n, rnd)
			if d < b.Initial/2 || d > b.Max {
				t.Fatalf("delay(%d, %v) = %v outside [%v, %v]", n, rnd, d, b.Initial/2, b.Max)
			}
		}
	}
	if b.delay(0, 1) != b.Initial || b.delay(3, 1) != 8*b.Initial {
		t.Fatalf("not exponential: %v %v", b.delay(0, 1), b.delay(3, 1))
	}
}

func TestIDSetBounded(t *testing.T) {
	s := newIDSet(3)
	for _, id := range []string{"a", "b", "c"} {
		if !s.add(id) {
			t.Fatalf("%s not new", id)
		}
	}
	if s.add("a") {
		t.Fatal("a is new again")
	}
	s.add("d") // evicts a
	if !s.add("a") || len(s.set) != 3 {
		t.Fatalf("eviction: set %v", s.set)
	}
}

// TestSendSurvivesLostAck: the connection drops after the server stored a
// message and before its ack reached the sender. In the modern dialects
// the client sends it again on the next connection with the same client
// id, and the server acks the repeat with the first message's id: Send
// returns it, OnSent fires once, no OnFailure, and the recipient gets the
// message once. In the legacy dialect the server does not dedupe, so the
// send fails with ErrConnLost (the message was stored once).
func TestSendSurvivesLostAck(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			hub := newHub(t, nil)
			as, bs := serveWS(t, hub), serveWS(t, hub)
			opts := &wire.Options{Codec: d.codec}
			ca, ra := newClient(t, as.url, opts)
			alice := open(t, ca, "alice", "bob")
			cb, rb := newClient(t, bs.url, opts)
			open(t, cb, "bob")
			ra.wait(t, "online", nil)

			as.dropAck.Store(true)
			sent, err := alice.Send(bg, []string{"bob"}, "once", SendOptions{})
			m := rb.wait(t, "message", func(e ev) bool { return e.m.Text == "once" }).m
			if d.codec == wire.CodecLegacy {
				if !errors.Is(err, ErrConnLost) {
					t.Fatalf("legacy send across a lost ack: %v, want ErrConnLost", err)
				}
				ra.wait(t, "failure", nil)
				return
			}
			if err != nil {
				t.Fatalf("send across a lost ack: %v", err)
			}
			if m.ID != sent.ID {
				t.Fatalf("delivered id %s, Send returned %s", m.ID, sent.ID)
			}
			if ca.Stats().Connects != 2 {
				t.Fatalf("stats %+v, want 2 connects (the ack's connection was dropped)", ca.Stats())
			}
			after, err := alice.Send(bg, []string{"bob"}, "after", SendOptions{})
			if err != nil {
				t.Fatal(err)
			}
			rb.wait(t, "message", func(e ev) bool { return e.m.ID == after.ID })
			n := 0
			for _, m := range rb.messages() {
				if m.Text == "once" {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("bob handled %q %d times, want once", "once", n)
			}
			var sents []string
			for _, e := range ra.until(t, func(e ev) bool { return e.kind == "sent" && e.sent.ID == after.ID }) {
				switch e.kind {
				case "failure":
					t.Fatalf("OnFailure %+v", e.fail)
				case "sent":
					sents = append(sents, e.sent.Text)
				}
			}
			if !slices.Equal(sents, []string{"once", "after"}) {
				t.Fatalf("OnSent for %q, want once each", sents)
			}
			if got := testutil.ToFloat64(hub.Metrics().Deduplicated); got != 1 {
				t.Fatalf("server deduplicated %v sends, want 1", got)
			}
		})
	}
}

package transporttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/storage/memory"
)

const appID = "conformance"

// DefaultOptions are the server options the suite runs with.
var DefaultOptions = Options{MaxFrameBytes: protocol.DefaultMaxFrameBytes, QueueBytes: 64 << 10}

// env is one scenario's server: a fresh hub served by the transport.
type env struct {
	t       *testing.T
	h       Harness
	hub     *core.Hub
	addr    string
	opts    Options
	modern  bool
	clients int
}

// NewHub returns a hub on an in-memory store with cfg's other settings and
// a silent logger. A cleanup shuts it down and fails t if a connection was
// never disconnected.
func NewHub(t testing.TB, cfg core.Config) *core.Hub {
	t.Helper()
	hub := newHub(t, cfg)
	shutdownAtCleanup(t, hub)
	return hub
}

func newHub(t testing.TB, cfg core.Config) *core.Hub {
	t.Helper()
	cfg.Store = memory.New(memory.Config{})
	cfg.Logger = slog.New(slog.DiscardHandler)
	hub, err := core.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return hub
}

func shutdownAtCleanup(t testing.TB, hub *core.Hub) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := hub.Shutdown(ctx); err != nil {
			t.Errorf("hub shutdown: %v (a transport did not call Client.Disconnect)", err)
		}
	})
}

func newEnv(t *testing.T, h Harness, opts Options) *env {
	hub := newHub(t, core.Config{})
	e := &env{t: t, h: h, hub: hub, opts: opts, modern: h.Modern()}
	e.addr = h.Serve(t, hub, e.opts)
	shutdownAtCleanup(t, hub) // registered after Serve: runs before the harness stops its server
	return e
}

// dial connects a new client named name.
func (e *env) dial(name string) *Client {
	e.t.Helper()
	cc, err := e.h.Dial(e.t, e.addr)
	if err != nil {
		e.t.Fatalf("dial %s: %v", name, err)
	}
	e.t.Cleanup(func() { cc.Close() })
	return &Client{t: e.t, name: name, cc: cc}
}

// bobAndAlice dials bob and opens peer bob, then dials alice and opens
// peer alice watching watch.
func (e *env) bobAndAlice(watch ...string) (b, a *Client) {
	e.t.Helper()
	b = e.dial("bob")
	b.Open("bob")
	a = e.dial("alice")
	a.Open("alice", watch...)
	return b, a
}

// scenarios lists the suite's checks in the order Run runs them.
var scenarios = []struct {
	name string
	run  func(e *env)
	opts func(*Options) // changes to DefaultOptions, or nil
}{
	{"OpenEchoesI", openEchoesI, nil},
	{"Keepalive", keepalive, nil},
	{"PresenceAcrossConnsAndDroppedSocket", presence, nil},
	{"DirectAndAck", directAndAck, nil},
	{"MessageTextLimit", messageTextLimit, nil},
	{"PersistentToOfflinePeerRedelivered", offlineRedelivery, nil},
	{"TransientNotAcked", transientNotAcked, nil},
	{"CommandBeforeOpen", commandBeforeOpen, nil},
	{"MalformedFrame", malformedFrame, nil},
	{"OversizeFrame", oversizeFrame, nil},
	{"SlowConsumer", slowConsumer, nil},
	{"SlowConsumerCountedByClass", slowConsumerCounted, nil},
	{"PresenceFloodDropsNotDisconnects", presenceFlood, func(o *Options) { o.QueueBytes = 16 << 10 }},
	{"FrameLargerThanQueue", largeFrame, func(o *Options) { o.QueueBytes = 2 << 10 }},
	{"AbruptDisconnectMidStream", abruptDisconnect, nil},
	{"Shutdown", shutdown, nil},
}

// Run runs every scenario against h, each on its own hub and server.
func Run(t *testing.T, h Harness) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			opts := DefaultOptions
			opts.Registry = prometheus.NewRegistry()
			if sc.opts != nil {
				sc.opts(&opts)
			}
			sc.run(newEnv(t, h, opts))
		})
	}
}

func direct(from, msg string, i int64, to ...string) *protocol.Command {
	return &protocol.Command{Kind: protocol.KindDirect, PeerID: from, Msg: msg, ToPeerIDs: to, I: i}
}

func openEchoesI(e *env) {
	a := e.dial("alice")
	a.Send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: appID, PeerID: "alice", SessionPeerIDs: []string{"bob"}, I: 42})
	o := a.Expect(protocol.KindSessionOpened)
	if o.PeerID != "alice" || o.I != 42 || len(o.OnlineSessionPeerIDs) != 0 {
		e.t.Fatalf("opened = %+v", *o)
	}
	b := e.dial("bob")
	b.Open("bob")
	a.ExpectPresence("alice", protocol.StatusOn, "bob")
	// A second open of the same peer on the same connection answers again.
	a.Send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: appID, PeerID: "alice", SessionPeerIDs: []string{"bob"}, I: 43})
	o = a.Expect(protocol.KindSessionOpened)
	if o.I != 43 || !slices.Equal(o.OnlineSessionPeerIDs, []string{"bob"}) {
		e.t.Fatalf("re-opened = %+v", *o)
	}
}

func keepalive(e *env) {
	a := e.dial("alice")
	a.Barrier() // before any session: keepalives are always answered
	a.Open("alice")
	for range 3 {
		a.Barrier()
	}
}

func presence(e *env) {
	a := e.dial("alice")
	a.Open("alice", "bob")
	b1 := e.dial("bob1")
	b1.Open("bob")
	a.ExpectPresence("alice", protocol.StatusOn, "bob")
	b2 := e.dial("bob2")
	b2.Open("bob")
	b1.cc.Abort() // bob is still online on b2: no presence
	b2.Barrier()
	a.Barrier()
	if err := b2.cc.Close(); err != nil {
		e.t.Fatalf("close bob2: %v", err)
	}
	a.ExpectPresence("alice", protocol.StatusOff, "bob")
	a.Barrier()

	// A dropped socket is an offline peer too.
	b3 := e.dial("bob3")
	b3.Open("bob")
	a.ExpectPresence("alice", protocol.StatusOn, "bob")
	b3.cc.Abort()
	a.ExpectPresence("alice", protocol.StatusOff, "bob")
}

func directAndAck(e *env) {
	b, a := e.bobAndAlice("bob")
	for _, msg := range []string{"hi", "héllo \"quoted\" \\ \n\t \u2028 😀", strings.Repeat("é", protocol.MaxMessageBytes/2)} {
		cmd := direct("alice", msg, 7, "bob")
		cmd.ID = "client-1"
		a.Send(cmd)
		in := b.Expect(protocol.KindDirect)
		ack := a.Expect(protocol.KindAck)
		if in.PeerID != "bob" || in.FromPeerID != "alice" || in.Msg != msg || in.ID == "" || in.Offline || in.Transient || in.I != 0 {
			e.t.Fatalf("direct = %+v", *in)
		}
		if ack.PeerID != "alice" || ack.I != 7 || ack.UID != in.ID || ack.ID != "client-1" || ack.Time != in.Timestamp {
			e.t.Fatalf("ack = %+v for direct %+v", *ack, *in)
		}
		b.Send(&protocol.Command{Kind: protocol.KindAck, PeerID: "bob", IDs: []string{in.ID}, HasIDs: true})
	}
	b.Barrier() // client acks get no reply
}

func messageTextLimit(e *env) {
	b, a := e.bobAndAlice("bob")
	a.Send(direct("alice", strings.Repeat("x", protocol.MaxMessageBytes+1), 9, "bob"))
	if e.modern {
		f := a.Expect(protocol.KindError)
		if f.Code != protocol.ErrCodeTooLong || f.I != 9 {
			e.t.Fatalf("error = %+v", *f)
		}
		a.Barrier()
	} else {
		a.ExpectClose(protocol.CloseTooLong)
	}
	b.Barrier() // not delivered
}

func offlineRedelivery(e *env) {
	a := e.dial("alice")
	a.Open("alice", "bob")
	var uids []string
	for i, msg := range []string{"one", "two"} {
		a.Send(direct("alice", msg, int64(10+i), "bob"))
		ack := a.Expect(protocol.KindAck)
		if ack.I != int64(10+i) || ack.UID == "" {
			e.t.Fatalf("ack = %+v", *ack)
		}
		uids = append(uids, ack.UID)
	}
	for round := range 2 { // not acked in round 0: redelivered again
		b := e.dial(fmt.Sprintf("bob%d", round))
		b.OpenRaw("bob")
		var got []string
		for _, want := range []string{"one", "two"} {
			m := b.Expect(protocol.KindDirect)
			if m.Msg != want || !m.Offline || m.FromPeerID != "alice" || m.PeerID != "bob" {
				e.t.Fatalf("round %d: redelivered %+v", round, *m)
			}
			got = append(got, m.ID)
		}
		if !slices.Equal(got, uids) {
			e.t.Fatalf("round %d: ids %v, want %v", round, got, uids)
		}
		if round == 1 {
			b.Send(&protocol.Command{Kind: protocol.KindAck, PeerID: "bob", IDs: got, HasIDs: true})
		}
		b.Barrier()
		b.cc.Close()
		a.ExpectPresence("alice", protocol.StatusOn, "bob")
		a.ExpectPresence("alice", protocol.StatusOff, "bob")
	}
	b := e.dial("bob2")
	b.Open("bob")
	b.Barrier() // acked: nothing left
}

func transientNotAcked(e *env) {
	b, a := e.bobAndAlice("bob")
	cmd := direct("alice", "typing", 5, "bob")
	cmd.Transient = true
	a.Send(cmd)
	in := b.Expect(protocol.KindDirect)
	if !in.Transient || in.Msg != "typing" || in.FromPeerID != "alice" {
		e.t.Fatalf("transient = %+v", *in)
	}
	a.Barrier() // no ack before the keepalive reply
}

func commandBeforeOpen(e *env) {
	a := e.dial("alice")
	a.Send(direct("alice", "hi", 3, "bob"))
	if !e.modern {
		a.ExpectClose(protocol.CloseNoSession)
		return
	}
	f := a.Expect(protocol.KindError)
	if f.Code != protocol.ErrCodeNoSession || f.I != 3 {
		e.t.Fatalf("error = %+v", *f)
	}
	a.Barrier()
	a.Open("alice")
}

func malformedFrame(e *env) {
	b, a := e.bobAndAlice()
	a.SendRaw([]byte(`{"cmd":`)) // neither JSON nor msgpack
	if e.modern {
		f := a.Expect(protocol.KindError)
		if f.Code != protocol.ErrCodeBadCommand {
			e.t.Fatalf("error = %+v", *f)
		}
		a.Barrier()
	} else {
		a.ExpectClose(protocol.CloseInvalidPayload)
	}
	b.Barrier()
}

func oversizeFrame(e *env) {
	b, a := e.bobAndAlice()
	// Exactly at the limit is accepted (a keepalive with padding would be
	// transport-specific, so the limit itself is only checked from above).
	a.SendRaw(bytes.Repeat([]byte("x"), e.opts.MaxFrameBytes+1))
	a.ExpectClose(protocol.CloseTooLong)
	b.Barrier()
	c := e.dial("carol")
	c.Open("carol")
	c.Barrier()
}

func counter(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

func slowConsumer(e *env) {
	slow, a := e.bobAndAlice("bob")
	slowed := e.hub.Metrics().SlowConsumers
	before := counter(slowed)
	msg := strings.Repeat("m", 4000)
	const maxSent = 64 << 20 // transport buffers + queue are far below this
	sent := 0
	for counter(slowed) == before {
		if sent > maxSent {
			e.t.Fatalf("sent %d bytes to a client that never reads, and it was not disconnected", sent)
		}
		cmd := direct("alice", msg, 0, "bob")
		cmd.Transient = true
		a.Send(cmd)
		sent += len(msg)
	}
	slow.ExpectClose(protocol.CloseSlowConsumer)
	a.ExpectPresence("alice", protocol.StatusOff, "bob")
	a.Barrier() // the sender is fine
	b := e.dial("bob2")
	b.Open("bob")
	a.ExpectPresence("alice", protocol.StatusOn, "bob")
}

func abruptDisconnect(e *env) {
	b, a := e.bobAndAlice("bob")
	const n = 50
	for i := range n {
		a.Send(direct("alice", fmt.Sprint("m", i), int64(i+1), "bob"))
	}
	for range 5 {
		b.Expect(protocol.KindDirect) // read a few, ack none, then vanish
	}
	b.cc.Abort()
	var uids []string
	off := false
	for len(uids) < n || !off {
		f := a.Next()
		switch f.Kind {
		case protocol.KindAck:
			if f.I != int64(len(uids)+1) {
				e.t.Fatalf("ack %d has i %d", len(uids), f.I)
			}
			uids = append(uids, f.UID)
		case protocol.KindPresence:
			if f.Status != protocol.StatusOff || off {
				e.t.Fatalf("presence = %+v", *f)
			}
			off = true
		default:
			e.t.Fatalf("alice got %v %+v", f.Kind, *f)
		}
	}
	b = e.dial("bob-again")
	b.OpenRaw("bob")
	var got []string
	for range n {
		m := b.Expect(protocol.KindDirect)
		if !m.Offline {
			e.t.Fatalf("redelivered %+v", *m)
		}
		got = append(got, m.ID)
	}
	if !slices.Equal(got, uids) {
		e.t.Fatalf("redelivered ids %v, want %v", got, uids)
	}
	b.Barrier()
}

func shutdown(e *env) {
	a := e.dial("alice")
	a.Open("alice")
	b := e.dial("bob")
	b.Barrier() // connected, no session
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*wait)
		defer cancel()
		done <- e.hub.Shutdown(ctx)
	}()
	a.ExpectClose(protocol.CloseGoingAway)
	b.ExpectClose(protocol.CloseGoingAway)
	if err := <-done; err != nil {
		e.t.Fatalf("shutdown: %v", err)
	}
	// Connections after the shutdown are refused or ended at once: with
	// 1001 where the transport carries a code this early, or any error.
	cc, err := e.h.Dial(e.t, e.addr)
	if err != nil {
		return
	}
	defer cc.Close()
	for {
		_, err := cc.Recv(wait)
		if err == nil {
			continue
		}
		var ce *protocol.CloseError
		if errors.Is(err, ErrTimeout) || errors.As(err, &ce) && ce.Code != protocol.CloseGoingAway {
			e.t.Fatalf("late connection after shutdown: %v, want it ended (1001)", err)
		}
		return
	}
}

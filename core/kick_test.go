package core_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/protocol"
)

// TestKick: Kick closes every connection holding a session of the peer
// (two devices) with 1000 and the reason, and leaves other peers' alone.
func TestKick(t *testing.T) {
	h, _ := newHub(t, nil)
	a1, a2, b := coretest.Dial(h, false), coretest.Dial(h, false), coretest.Dial(h, false)
	a1.Open(t, "app", "alice")
	a2.Open(t, "app", "alice")
	b.Open(t, "app", "bob")
	// One connection, by its client address.
	a3 := dialFrom(h, false, "10.0.0.5:5")
	a3.Open(t, "app", "alice")
	if k := h.Kick("app", "alice", "10.0.0.5:5", "bye"); len(k) != 1 || k[0].RemoteAddr != "10.0.0.5:5" || !k[0].Connection {
		t.Fatalf("Kick of one connection closed %+v", k)
	}
	if a3.Closed() != protocol.CloseNormal || a1.Closed() != 0 || a2.Closed() != 0 {
		t.Fatalf("Kick of one connection: closed with %d, others %d %d", a3.Closed(), a1.Closed(), a2.Closed())
	}
	a3.Client.Disconnect() // as its transport's reader does
	if k := h.Kick("app", "alice", "", "bye"); len(k) != 2 || !k[0].Connection || k[0].Peer != "alice" {
		t.Fatalf("Kick closed %+v, want 2 connections", k)
	}
	for _, c := range []*coretest.MemConn{a1, a2} {
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("kicked connection not closed")
		}
		if c.Closed() != protocol.CloseNormal {
			t.Fatalf("closed with %d, want 1000", c.Closed())
		}
	}
	if b.Closed() != 0 {
		t.Fatalf("bob's connection closed with %d", b.Closed())
	}
	if k := h.Kick("app", "nobody", "", "bye"); len(k) != 0 {
		t.Fatalf("Kick of an unknown peer closed %+v", k)
	}
}

// dialFrom connects a modern or legacy conn with the client address addr.
func dialFrom(h *core.Hub, modern bool, addr string) *coretest.MemConn {
	c := coretest.NewMemConn(core.ConnInfo{Transport: "mem", Modern: modern, RemoteAddr: addr}, 4096)
	c.Client = h.Connect(c)
	return c
}

// TestCloseSession: CloseSession ends alice's session on one multiplexed
// connection (chosen by its address) with a `session closed` push, while
// bob's session on the same connection and alice's on another stay open;
// her presence goes off only when her last session ends; a legacy
// connection is closed instead.
func TestCloseSession(t *testing.T) {
	h, _ := newHub(t, nil)
	w := coretest.Dial(h, false)
	w.Open(t, app, "watcher", "alice")
	mux := dialFrom(h, true, "10.0.0.1:1000")
	mux.Open(t, app, "alice")
	if on := w.Expect(t, protocol.KindPresence); on.Status != protocol.StatusOn {
		t.Fatalf("presence = %+v", *on)
	}
	mux.Open(t, app, "bob")
	other := dialFrom(h, true, "10.0.0.2:2000")
	other.Open(t, app, "alice")

	ss := h.Sessions(app, "alice")
	slices.SortFunc(ss, func(a, b core.SessionInfo) int { return strings.Compare(a.RemoteAddr, b.RemoteAddr) })
	if len(ss) != 2 || ss[0].RemoteAddr != "10.0.0.1:1000" || ss[1].RemoteAddr != "10.0.0.2:2000" || !ss[0].Modern || ss[0].Peer != "alice" {
		t.Fatalf("Sessions = %+v", ss)
	}
	k := h.CloseSession(app, "alice", "10.0.0.1:1000", "bye")
	if len(k) != 1 || k[0].Connection || k[0].RemoteAddr != "10.0.0.1:1000" || k[0].Peer != "alice" || k[0].Transport != "mem" {
		t.Fatalf("CloseSession = %+v, want alice's session on 10.0.0.1:1000", k)
	}
	c := mux.Expect(t, protocol.KindSessionClosed)
	if c.PeerID != "alice" || c.Code != protocol.ErrCodeKicked || c.Reason != "bye" || c.I != 0 {
		t.Fatalf("session closed = %+v", *c)
	}
	w.ExpectNone(t, 50*time.Millisecond) // still online on the other connection

	// bob's session on the same connection still works; alice's is gone.
	send(t, mux, &protocol.Command{Kind: protocol.KindSessionQuery, PeerID: "bob", SessionPeerIDs: []string{"alice"}, I: 5})
	if q := mux.Expect(t, protocol.KindSessionQueryResult); q.I != 5 || !slices.Equal(q.OnlineSessionPeerIDs, []string{"alice"}) {
		t.Fatalf("query = %+v", *q)
	}
	send(t, mux, &protocol.Command{Kind: protocol.KindSessionQuery, PeerID: "alice", SessionPeerIDs: []string{"bob"}, I: 6})
	if e := mux.Expect(t, protocol.KindError); e.Code != protocol.ErrCodeNoSession || e.I != 6 {
		t.Fatalf("alice's query after the close = %+v", *e)
	}
	if mux.Closed() != 0 || other.Closed() != 0 {
		t.Fatal("closing a session closed a connection")
	}
	if ss := h.Sessions(app, "alice"); len(ss) != 1 || ss[0].RemoteAddr != "10.0.0.2:2000" {
		t.Fatalf("Sessions after the close = %+v", ss)
	}
	if k := h.CloseSession(app, "alice", "10.0.0.1:1000", "bye"); len(k) != 0 {
		t.Fatalf("second CloseSession = %+v", k)
	}

	// No address: every session of alice (the one left) ends; off.
	if k := h.CloseSession(app, "alice", "", "bye"); len(k) != 1 || k[0].RemoteAddr != "10.0.0.2:2000" {
		t.Fatalf("CloseSession = %+v", k)
	}
	other.Expect(t, protocol.KindSessionClosed)
	if off := w.Expect(t, protocol.KindPresence); off.Status != protocol.StatusOff {
		t.Fatalf("presence = %+v", *off)
	}
	// Opened again on the same connection, it is a new session.
	mux.Open(t, app, "alice")
	w.Expect(t, protocol.KindPresence)

	// Legacy dialect: no server-side session close; the connection closes.
	old := dialFrom(h, false, "10.0.0.3:3000")
	old.Open(t, app, "carol")
	if k := h.CloseSession(app, "carol", "", "bye"); len(k) != 1 || !k[0].Connection {
		t.Fatalf("CloseSession on a legacy connection = %+v", k)
	}
	select {
	case <-old.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("legacy connection not closed")
	}
	if old.Closed() != protocol.CloseNormal {
		t.Fatalf("closed with %d", old.Closed())
	}
}

// TestCloseSessionRace: server-side closes race the client's own commands
// and its disconnect on the same connection (run with -race): every
// session ends once, and the hub's session gauge returns to zero.
func TestCloseSessionRace(t *testing.T) {
	h, _ := newHub(t, nil)
	for round := range 20 {
		c := dialFrom(h, true, "10.0.0.9:9")
		c.Open(t, app, "alice")
		c.Open(t, app, "bob")
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.CloseSession(app, "alice", "", "bye")
			h.CloseSession(app, "bob", "10.0.0.9:9", "bye")
		}()
		for i := range 5 {
			c.Client.Handle(&protocol.Command{Kind: protocol.KindSessionQuery, PeerID: "alice", SessionPeerIDs: []string{"bob"}, I: int64(10 + i)})
		}
		if round%2 == 0 {
			c.Drop()
		}
		<-done
		c.Drop()
	}
	if n := testutil.ToFloat64(h.Metrics().Sessions); n != 0 {
		t.Fatalf("rtgate_sessions = %v after every session ended", n)
	}
}

package quic_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/transports/framed"
	"github.com/rtgate/rtgate/transports/quic"
	"github.com/rtgate/rtgate/transports/quic/quictest"
	"github.com/rtgate/rtgate/transports/transporttest"
)

const wait = 5 * time.Second

func dialT(t testing.TB, addr string, o quictest.DialOptions) (*quictest.Client, *transporttest.Client) {
	t.Helper()
	c, err := quictest.Dial(addr, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, transporttest.NewClient(t, addr, c)
}

func TestTransientDirectAsDatagram(t *testing.T) {
	hub := transporttest.NewHub(t, core.Config{})
	_, addr := quictest.Serve(t, hub, quic.Config{})
	bc, b := dialT(t, addr, quictest.DialOptions{Datagrams: true})
	b.Open("bob")
	_, a := dialT(t, addr, quictest.DialOptions{})
	a.Open("alice", "bob")

	typing := &protocol.Command{Kind: protocol.KindDirect, PeerID: "alice", ToPeerIDs: []string{"bob"}, Msg: "typing", Transient: true}
	a.Send(typing)
	a.Barrier()
	got := quictest.Datagram(t, bc.QC)
	if got.Kind != protocol.KindDirect || got.Msg != "typing" || !got.Transient || got.FromPeerID != "alice" {
		t.Fatalf("datagram = %+v", *got)
	}

	// Too large for a datagram, and persistent messages: on the stream.
	big := *typing
	big.Msg = strings.Repeat("x", 2000)
	a.Send(&big)
	if m := b.Expect(protocol.KindDirect); m.Msg != big.Msg || !m.Transient {
		t.Fatalf("large transient = %+v", *m)
	}
	a.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: "alice", ToPeerIDs: []string{"bob"}, Msg: "stored", I: 2})
	a.Expect(protocol.KindAck)
	if m := b.Expect(protocol.KindDirect); m.Msg != "stored" || m.Transient {
		t.Fatalf("persistent = %+v", *m)
	}
}

func TestDatagramsOff(t *testing.T) {
	hub := transporttest.NewHub(t, core.Config{})
	_, addr := quictest.Serve(t, hub, quic.Config{Limits: framed.Limits{DisableDatagrams: true}})
	_, b := dialT(t, addr, quictest.DialOptions{Datagrams: true})
	b.Open("bob")
	_, a := dialT(t, addr, quictest.DialOptions{})
	a.Open("alice", "bob")
	a.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: "alice", ToPeerIDs: []string{"bob"}, Msg: "typing", Transient: true})
	if m := b.Expect(protocol.KindDirect); m.Msg != "typing" {
		t.Fatalf("direct = %+v", *m)
	}
}

// TestOversizeLengthClosesBeforeAllocating declares a 2^61-byte frame: a
// server that allocated before checking would die.
func TestOversizeLengthClosesBeforeAllocating(t *testing.T) {
	hub := transporttest.NewHub(t, core.Config{})
	_, addr := quictest.Serve(t, hub, quic.Config{Limits: framed.Limits{MaxFrameBytes: 1024}})
	_, b := dialT(t, addr, quictest.DialOptions{})
	b.Open("bob")
	ac, a := dialT(t, addr, quictest.DialOptions{})
	a.Open("alice")
	if err := ac.WriteRaw(protocol.AppendVarint(nil, 1<<61)); err != nil {
		t.Fatal(err)
	}
	a.ExpectClose(protocol.CloseTooLong)
	b.Barrier()

	// At the limit is fine: a frame body of exactly MaxFrameBytes.
	cc, c := dialT(t, addr, quictest.DialOptions{})
	c.Open("carol")
	body := protocol.AppendMsgpack(nil, &protocol.Command{Kind: protocol.KindSessionQuery, PeerID: "carol", SessionPeerIDs: []string{strings.Repeat("p", 1024)}, I: 5})
	if len(body) <= 1024 {
		t.Fatalf("test frame is %d bytes", len(body))
	}
	// A malformed frame of 1024 bytes is read and answered, not closed.
	if err := cc.SendRaw(append([]byte{0xc1}, make([]byte, 1023)...)); err != nil {
		t.Fatal(err)
	}
	if e := c.Expect(protocol.KindError); e.Code != protocol.ErrCodeBadCommand {
		t.Fatalf("error = %+v", *e)
	}
	c.Barrier()
}

// TestStreamResetLeavesOthers resets one client's stream (the connection
// stays up): that client is disconnected, the others carry on.
func TestStreamResetLeavesOthers(t *testing.T) {
	hub := transporttest.NewHub(t, core.Config{})
	_, addr := quictest.Serve(t, hub, quic.Config{})
	_, a := dialT(t, addr, quictest.DialOptions{})
	a.Open("alice", "bob")
	bc, b := dialT(t, addr, quictest.DialOptions{})
	b.Open("bob")
	a.ExpectPresence("alice", protocol.StatusOn, "bob")
	_, c := dialT(t, addr, quictest.DialOptions{})
	c.Open("carol")

	bc.Str.CancelWrite(7)
	bc.Str.CancelRead(7)
	a.ExpectPresence("alice", protocol.StatusOff, "bob")
	select {
	case <-bc.QC.Context().Done():
	case <-time.After(wait):
		t.Fatal("server kept the connection of a reset stream")
	}
	a.Barrier()
	c.Barrier()
	a.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: "alice", ToPeerIDs: []string{"carol"}, Msg: "still here", I: 3})
	a.Expect(protocol.KindAck)
}

// TestIdleTimeout loses a client silently (its socket closes without a
// CONNECTION_CLOSE): the server's idle timeout ends the session. The
// watcher keeps its own connection busy meanwhile: quic-go clients clamp
// the idle timeout they honour to 5 s and would not ping in time.
func TestIdleTimeout(t *testing.T) {
	hub := transporttest.NewHub(t, core.Config{})
	_, addr := quictest.Serve(t, hub, quic.Config{MaxIdleTimeout: 500 * time.Millisecond})
	_, a := dialT(t, addr, quictest.DialOptions{})
	a.Open("alice", "bob")
	bc, b := dialT(t, addr, quictest.DialOptions{})
	b.Open("bob")
	a.ExpectPresence("alice", protocol.StatusOn, "bob")
	start := time.Now()
	bc.Tr.Close() // no CONNECTION_CLOSE
	for {
		if time.Since(start) > 3*time.Second {
			t.Fatal("lost client not noticed within 3 s")
		}
		a.Send(&protocol.Command{Kind: protocol.KindKeepalive})
		f, err := a.Conn().Recv(wait)
		if err != nil {
			t.Fatal(err)
		}
		if f.Kind == protocol.KindPresence {
			if f.Status != protocol.StatusOff {
				t.Fatalf("presence %+v", *f)
			}
			return
		}
		time.Sleep(100 * time.Millisecond) // keep alice's connection active
	}
}

// TestNoStreamLoginTimeout: a connection that opens no stream is closed by
// the hub's login timeout.
func TestNoStreamLoginTimeout(t *testing.T) {
	hub := transporttest.NewHub(t, core.Config{LoginTimeout: 300 * time.Millisecond})
	_, addr := quictest.Serve(t, hub, quic.Config{})
	c, _ := dialT(t, addr, quictest.DialOptions{})
	select {
	case <-c.QC.Context().Done():
	case <-time.After(wait):
		t.Fatal("connection without a stream still open")
	}
	if err := quictest.MapErr(context.Cause(c.QC.Context())); !errors.Is(err, &protocol.CloseError{Code: protocol.CloseLoginTimeout}) {
		t.Fatalf("closed with %v, want 4108", err)
	}
}

func TestUnknownALPNRefused(t *testing.T) {
	hub := transporttest.NewHub(t, core.Config{})
	_, addr := quictest.Serve(t, hub, quic.Config{})
	for _, alpn := range []string{"h3", "rtgate/2"} { // no H3 server configured
		if c, err := quictest.Dial(addr, quictest.DialOptions{ALPN: alpn}); err == nil {
			c.Close()
			t.Errorf("ALPN %q accepted", alpn)
		}
	}
}

// TestCloseWithoutShutdown closes the server under open connections:
// clients learn 1001 and every goroutine ends.
func TestCloseWithoutShutdown(t *testing.T) {
	base := runtime.NumGoroutine()
	func() {
		hub := transporttest.NewHub(t, core.Config{})
		srv, addr := quictest.Serve(t, hub, quic.Config{})
		var clients []*quictest.Client
		for i := range 5 {
			c, err := quictest.Dial(addr, quictest.DialOptions{Datagrams: i%2 == 0})
			if err != nil {
				t.Fatal(err)
			}
			clients = append(clients, c)
			x := transporttest.NewClient(t, addr, c)
			x.Open("peer" + string(rune('a'+i)))
		}
		srv.Close()
		for _, c := range clients {
			transporttest.NewClient(t, addr, c).ExpectClose(protocol.CloseGoingAway)
			c.Close()
		}
	}()
	waitGoroutines(t, base)
}

// waitGoroutines waits until the goroutine count is back near base.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base+2 {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, baseline %d:\n%s", n, base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

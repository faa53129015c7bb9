package webtransport_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	quicgo "github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	wtgo "github.com/quic-go/webtransport-go"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/storage/memory"
	"github.com/rtgate/rtgate/transports/quic"
	"github.com/rtgate/rtgate/transports/quic/quictest"
	"github.com/rtgate/rtgate/transports/transporttest"
	"github.com/rtgate/rtgate/transports/webtransport"
)

const wait = 5 * time.Second

func dialT(t testing.TB, addr, path string, hdr http.Header) (*wtClient, *transporttest.Client) {
	t.Helper()
	c, err := dialWT(addr, path, hdr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, transporttest.NewClient(t, addr, c)
}

// dialRaw opens a raw QUIC (rtgate/1) client to the shared port.
func dialRaw(t testing.TB, addr string) *transporttest.Client {
	t.Helper()
	c, err := quictest.Dial(addr, quictest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return transporttest.NewClient(t, addr, c)
}

// TestSharedPortALPN runs a WebTransport client and a raw QUIC client on
// one UDP port and passes messages both ways.
func TestSharedPortALPN(t *testing.T) {
	hub := transporttest.NewHub(t, core.Config{})
	addr := serve(t, hub, webtransport.Config{})
	_, w := dialT(t, addr, "/wt", nil)
	w.Open("web", "native")
	r := dialRaw(t, addr)
	r.Open("native", "web")
	if p := w.Expect(protocol.KindPresence); p.Status != protocol.StatusOn {
		t.Fatalf("presence %+v", *p)
	}
	w.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: "web", ToPeerIDs: []string{"native"}, Msg: "from the browser", I: 2})
	w.Expect(protocol.KindAck)
	if m := r.Expect(protocol.KindDirect); m.Msg != "from the browser" || m.FromPeerID != "web" {
		t.Fatalf("raw got %+v", *m)
	}
	r.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: "native", ToPeerIDs: []string{"web"}, Msg: "from the app", I: 3})
	r.Expect(protocol.KindAck)
	if m := w.Expect(protocol.KindDirect); m.Msg != "from the app" || m.FromPeerID != "native" {
		t.Fatalf("wt got %+v", *m)
	}
}

func TestTransientDirectAsDatagram(t *testing.T) {
	hub := transporttest.NewHub(t, core.Config{})
	addr := serve(t, hub, webtransport.Config{})
	bc, b := dialT(t, addr, "/wt?datagrams=1", nil)
	b.Open("bob")
	_, a := dialT(t, addr, "/wt", nil)
	a.Open("alice", "bob", "carol")
	a.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: "alice", ToPeerIDs: []string{"bob"}, Msg: "typing", Transient: true})
	got := quictest.Datagram(t, bc.sess)
	if got.Kind != protocol.KindDirect || got.Msg != "typing" || !got.Transient {
		t.Fatalf("datagram = %+v", *got)
	}
	b.Barrier() // nothing arrived on the stream

	// Without ?datagrams=1 the same message comes on the stream.
	_, c := dialT(t, addr, "/wt", nil)
	c.Open("carol")
	a.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: "alice", ToPeerIDs: []string{"carol"}, Msg: "typing", Transient: true})
	if m := c.Expect(protocol.KindDirect); m.Msg != "typing" {
		t.Fatalf("stream got %+v", *m)
	}
}

func TestOrigins(t *testing.T) {
	hub := transporttest.NewHub(t, core.Config{})
	addr := serve(t, hub, webtransport.Config{AllowedOrigins: []string{"https://chat.example.org"}})
	tests := []struct {
		name   string
		origin string
		path   string
		status int // 0: accepted
	}{
		{"allowed origin", "https://CHAT.example.org", "/wt", 0},
		{"no origin (native)", "", "/wt", 0},
		{"other origin", "https://evil.example", "/wt", http.StatusForbidden},
		{"other path", "", "/nope", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := http.Header{}
			if tt.origin != "" {
				hdr.Set("Origin", tt.origin)
			}
			c, err := dialWT(addr, tt.path, hdr)
			if tt.status == 0 {
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				transporttest.NewClient(t, addr, c).Barrier()
				return
			}
			if err == nil {
				c.Close()
				t.Fatal("accepted")
			}
			var de *dialError
			if !errors.As(err, &de) || de.status != tt.status {
				t.Fatalf("err = %v, want status %d", err, tt.status)
			}
		})
	}
}

// TestStreamResetLeavesOthers resets one session's stream; the others on
// the same server carry on.
func TestStreamResetLeavesOthers(t *testing.T) {
	hub := transporttest.NewHub(t, core.Config{})
	addr := serve(t, hub, webtransport.Config{})
	_, a := dialT(t, addr, "/wt", nil)
	a.Open("alice", "bob")
	bc, b := dialT(t, addr, "/wt", nil)
	b.Open("bob")
	if p := a.Expect(protocol.KindPresence); p.Status != protocol.StatusOn {
		t.Fatalf("presence %+v", *p)
	}
	bc.str.CancelWrite(7)
	bc.str.CancelRead(7)
	if p := a.Expect(protocol.KindPresence); p.Status != protocol.StatusOff {
		t.Fatalf("presence %+v", *p)
	}
	select {
	case <-bc.sess.Context().Done():
	case <-time.After(wait):
		t.Fatal("server kept the session of a reset stream")
	}
	a.Barrier()
}

// TestShutdownGoroutines closes sessions through the hub, then the server,
// and checks that the goroutine count returns to its baseline.
func TestShutdownGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	func() {
		hub, err := core.New(core.Config{Store: memory.New(memory.Config{}), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		wt := webtransport.New(hub, webtransport.Config{Logger: slog.New(slog.DiscardHandler)})
		srv := quic.New(hub, quic.Config{H3: wt, Logger: slog.New(slog.DiscardHandler)})
		done := make(chan error, 1)
		go func() { done <- srv.Serve(pc, quictest.Certs().TLSConfig()) }()
		addr := srv.Addr().String()
		var clients []*wtClient
		for i := range 4 {
			c, err := dialWT(addr, "/wt", nil)
			if err != nil {
				t.Fatal(err)
			}
			clients = append(clients, c)
			transporttest.NewClient(t, addr, c).Open(string(rune('a' + i)))
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := hub.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		for _, c := range clients {
			for {
				_, err := c.Recv(wait)
				if err == nil {
					continue
				}
				if !errors.Is(err, &protocol.CloseError{Code: protocol.CloseGoingAway}) {
					t.Errorf("closed with %v, want 1001", err)
				}
				break
			}
			c.Close()
		}
		srv.Close()
		<-done
	}()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base+2 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, baseline %d:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// h3Conn dials an HTTP/3 connection to addr on which the test opens
// WebTransport sessions itself; both end with the test.
func h3Conn(t *testing.T, ctx context.Context, addr string) (*quicgo.Conn, *wtgo.ClientConn) {
	t.Helper()
	qcfg := quictest.ClientConfig(true)
	qcfg.EnableStreamResetPartialDelivery = true
	qconn, err := quicgo.DialAddr(ctx, addr, quictest.ClientTLS("h3"), qcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { qconn.CloseWithError(0, "") })
	tr := &wtgo.Transport{}
	t.Cleanup(func() { tr.Close() })
	cc, err := tr.NewClientConn(qconn)
	if err != nil {
		t.Fatal(err)
	}
	return qconn, cc
}

// TestConnClosedAfterLastSession checks end to end that the server closes
// a QUIC connection with H3_NO_ERROR about ConnLinger after its last
// WebTransport session ended, and that the connection carries sessions
// one after another. The linger's timing itself (a session within it
// keeps the connection) is TestLingerer's, on a fake clock.
func TestConnClosedAfterLastSession(t *testing.T) {
	const linger = 1500 * time.Millisecond
	hub := transporttest.NewHub(t, core.Config{})
	addr := serve(t, hub, webtransport.Config{ConnLinger: linger})
	ctx, cancel := context.WithTimeout(context.Background(), 4*wait)
	defer cancel()
	qconn, cc := h3Conn(t, ctx, addr)
	session := func() *wtgo.Session {
		t.Helper()
		_, s, err := cc.Dial(ctx, "https://"+addr+"/wt", nil)
		if err != nil {
			t.Fatalf("session on the same connection: %v", err)
		}
		return s
	}
	s1 := session()
	s1.CloseWithError(0, "")
	// The server refuses a new session (H3_REQUEST_REJECTED) until it has
	// seen s1 end: wait for the hub to let go of s1's connection.
	for deadline := time.Now().Add(wait); testutil.ToFloat64(hub.Metrics().Connections) != 0; {
		if time.Now().After(deadline) {
			t.Fatal("the hub kept the first session's connection")
		}
		time.Sleep(5 * time.Millisecond)
	}
	s2 := session() // within the linger: the connection is still open
	s2.CloseWithError(0, "")
	ended := time.Now()
	select {
	case <-qconn.Context().Done():
	case <-time.After(linger + wait):
		t.Fatal("the server kept the connection after its last session")
	}
	if d := time.Since(ended); d < linger-200*time.Millisecond {
		t.Errorf("closed %v after the last session, want about %v", d, linger)
	}
	var ae *quicgo.ApplicationError
	if err := context.Cause(qconn.Context()); !errors.As(err, &ae) || !ae.Remote || ae.ErrorCode != quicgo.ApplicationErrorCode(http3.ErrCodeNoError) {
		t.Errorf("connection ended with %v, want the server's H3_NO_ERROR", err)
	}
}

// TestConnLingerOff checks that a negative ConnLinger leaves the
// connection open after its session ended.
func TestConnLingerOff(t *testing.T) {
	hub := transporttest.NewHub(t, core.Config{})
	addr := serve(t, hub, webtransport.Config{ConnLinger: -1})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	qconn, cc := h3Conn(t, ctx, addr)
	_, s, err := cc.Dial(ctx, "https://"+addr+"/wt", nil)
	if err != nil {
		t.Fatal(err)
	}
	s.CloseWithError(0, "")
	select {
	case <-qconn.Context().Done():
		t.Fatalf("connection closed: %v", context.Cause(qconn.Context()))
	case <-time.After(time.Second):
	}
}

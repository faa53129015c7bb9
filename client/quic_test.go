package client

import (
	"fmt"
	"log/slog"
	"net"
	"testing"

	"github.com/rtgate/rtgate/client/wire"
	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/transports/quic"
	"github.com/rtgate/rtgate/transports/quic/quictest"
	"github.com/rtgate/rtgate/transports/webtransport"
)

// devCerts is the dev certificate of the test servers (quictest's).
var devCerts = quictest.Certs

// serveQUIC serves hub over raw QUIC and WebTransport on one loopback UDP
// port and returns host:port.
func serveQUIC(t testing.TB, hub *core.Hub) string {
	t.Helper()
	wt := webtransport.New(hub, webtransport.Config{Logger: slog.New(slog.DiscardHandler)})
	_, addr := quictest.Serve(t, hub, quic.Config{H3: wt})
	return addr
}

// TestQUICAndWebTransport runs every scenario over raw QUIC and over
// WebTransport, pinning the dev certificate by its SHA-256.
func TestQUICAndWebTransport(t *testing.T) {
	for _, tr := range []struct {
		name, url   string
		noDatagrams bool
	}{
		{"quic", "quic://%s", false},
		{"quic-no-datagrams", "quic://%s", true},
		{"webtransport", "https://%s/wt", false},
		{"webtransport-datagrams", "https://%s/wt?datagrams=1", false},
		{"wt-scheme", "wt://%s/wt", false},
	} {
		for _, sc := range scenarios {
			t.Run(tr.name+"/"+sc.name, func(t *testing.T) {
				addr := serveQUIC(t, newHub(t, nil))
				opts := &wire.Options{PinSHA256: devCerts().Current().Hex(), NoDatagrams: tr.noDatagrams}
				sc.run(t, env{url: fmt.Sprintf(tr.url, addr), opts: opts})
			})
		}
	}
}

// TestQUICReconnect: the server goes away and comes back on the same
// address with the same hub; the sessions resume.
func TestQUICReconnect(t *testing.T) {
	hub := newHub(t, nil)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	discard := slog.New(slog.DiscardHandler)
	start := func(pc net.PacketConn) func() {
		srv := quic.New(hub, quic.Config{Logger: discard})
		done := make(chan error, 1)
		go func() { done <- srv.Serve(pc, devCerts().TLSConfig()) }()
		return func() { srv.Close(); <-done; pc.Close() }
	}
	stop := start(pc)
	opts := &wire.Options{PinSHA256: devCerts().Current().Hex()}
	ca, ra := newClient(t, "quic://"+addr, opts)
	alice := open(t, ca, "alice", "bob")
	cb, rb := newClient(t, "quic://"+addr, opts)
	open(t, cb, "bob", "alice")
	ra.wait(t, "online", nil)

	stop()
	ra.wait(t, "paused", nil)
	rb.wait(t, "paused", nil)
	pc, err = net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	stop = start(pc)
	defer stop()
	ra.wait(t, "resumed", nil)
	rb.wait(t, "resumed", nil)
	sent, err := alice.Send(bg, []string{"bob"}, "after restart", SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m := rb.wait(t, "message", nil).m; m.ID != sent.ID {
		t.Fatalf("got %+v", m)
	}
}

// TestPinMismatch: a wrong pinned hash fails the handshake.
func TestPinMismatch(t *testing.T) {
	addr := serveQUIC(t, newHub(t, nil))
	for _, u := range []string{"quic://" + addr, "https://" + addr + "/wt"} {
		_, err := wire.Dial(bg, u, &wire.Options{PinSHA256: "00" + devCerts().Current().Hex()[2:]})
		if err == nil {
			t.Errorf("%s: dial with a wrong pin succeeded", u)
		}
		c, err := wire.Dial(bg, u, &wire.Options{RootCAs: devCerts().Current().RootCAs()})
		if err != nil {
			t.Errorf("%s: dial with RootCAs: %v", u, err)
			continue
		}
		c.Close()
	}
}

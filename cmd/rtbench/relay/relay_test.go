package relay_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	quic "github.com/quic-go/quic-go"

	"github.com/rtgate/rtgate/client/wire"
	"github.com/rtgate/rtgate/cmd/rtbench/relay"
	"github.com/rtgate/rtgate/internal/devcert"
	"github.com/rtgate/rtgate/protocol"
	quictransport "github.com/rtgate/rtgate/transports/quic"
)

// openPeer dials url and opens a session for peer; the conn is closed at
// the end of the test.
func openPeer(t *testing.T, ctx context.Context, url string, o *wire.Options, peer string) wire.Conn {
	t.Helper()
	c, err := wire.Dial(ctx, url, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: "a", PeerID: peer}); err != nil {
		t.Fatal(err)
	}
	if r, err := c.Recv(); err != nil || r.Kind != protocol.KindSessionOpened || r.PeerID != peer {
		t.Fatalf("open %s: %+v, %v", peer, r, err)
	}
	return c
}

func TestRelayForwardsAndAcks(t *testing.T) {
	for _, codec := range []wire.Codec{wire.CodecLegacy, wire.CodecJSON, wire.CodecMsgpack} {
		t.Run(codec.String(), func(t *testing.T) {
			rl := relay.New(relay.Config{})
			srv := httptest.NewServer(rl)
			defer func() { srv.Close(); rl.Close() }()
			url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			o := &wire.Options{Codec: codec}
			a, b := openPeer(t, ctx, url, o, "a"), openPeer(t, ctx, url, o, "b")
			if err := a.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: "a", ToPeerIDs: []string{"b"}, Msg: "hi"}); err != nil {
				t.Fatal(err)
			}
			if r, err := a.Recv(); err != nil || r.Kind != protocol.KindAck || r.UID == "" {
				t.Fatalf("ack: %+v, %v", r, err)
			}
			r, err := b.Recv()
			if err != nil || r.Kind != protocol.KindDirect || r.Msg != "hi" || r.FromPeerID != "a" || r.PeerID != "b" || r.ID == "" {
				t.Fatalf("delivery: %+v, %v", r, err)
			}
		})
	}
}

// TestRelayOverQUIC: the QUIC relay speaks rtgate's raw QUIC and
// WebTransport framing, so the Go SDK's quic:// and https://…/wt dialers
// work against it unchanged.
func TestRelayOverQUIC(t *testing.T) {
	for _, scheme := range []string{"quic://%s", "https://%s/wt"} {
		t.Run(strings.Split(scheme, ":")[0], func(t *testing.T) { testRelayOverQUIC(t, scheme) })
	}
}

func testRelayOverQUIC(t *testing.T, urlFormat string) {
	cert, err := devcert.Generate(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := quic.ListenAddr("127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert.TLS}, NextProtos: []string{relay.ALPN, relay.ALPNH3}},
		quictransport.Config{}.QUICConfig())
	if err != nil {
		t.Fatal(err)
	}
	rl := relay.New(relay.Config{})
	served := make(chan error, 1)
	go func() { served <- rl.ServeQUIC(ln) }()
	defer func() {
		ln.Close()
		if err := <-served; err != nil {
			t.Errorf("ServeQUIC: %v", err)
		}
		rl.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url, o := fmt.Sprintf(urlFormat, ln.Addr()), &wire.Options{InsecureSkipVerify: true}
	a, b := openPeer(t, ctx, url, o, "a"), openPeer(t, ctx, url, o, "b")
	for i := range 100 {
		if err := a.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: "a", ToPeerIDs: []string{"b"}, Msg: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 100 {
		if r, err := a.Recv(); err != nil || r.Kind != protocol.KindAck || r.UID == "" {
			t.Fatalf("ack %d: %+v, %v", i, r, err)
		}
		r, err := b.Recv()
		if err != nil || r.Kind != protocol.KindDirect || r.Msg != fmt.Sprint(i) || r.FromPeerID != "a" {
			t.Fatalf("delivery %d: %+v, %v", i, r, err)
		}
	}
}

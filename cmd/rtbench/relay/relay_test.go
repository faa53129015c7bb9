package relay_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rtgate/rtgate/client/wire"
	"github.com/rtgate/rtgate/cmd/rtbench/relay"
	"github.com/rtgate/rtgate/protocol"
)

func TestRelayForwardsAndAcks(t *testing.T) {
	for _, codec := range []wire.Codec{wire.CodecLegacy, wire.CodecJSON, wire.CodecMsgpack} {
		t.Run(codec.String(), func(t *testing.T) {
			rl := relay.New(relay.Config{})
			srv := httptest.NewServer(rl)
			defer func() { srv.Close(); rl.Close() }()
			url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			dial := func(peer string) wire.Conn {
				c, err := wire.Dial(ctx, url, &wire.Options{Codec: codec})
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
			a, b := dial("a"), dial("b")
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

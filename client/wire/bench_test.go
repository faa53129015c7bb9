package wire_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/rtgate/rtgate/client/wire"
	"github.com/rtgate/rtgate/protocol"
)

// BenchmarkWSSendRecv measures the client side of one transient direct
// message over a loopback WebSocket: Send, then Recv of the server's
// delivery, as the load generator (cmd/rtbench) does per message. The
// server answers each client frame with one precomputed frame and
// allocates nothing per message, so allocs/op are the client's. Run:
//
//	go test -run '^$' -bench WSSendRecv -benchmem ./client/wire/
func BenchmarkWSSendRecv(b *testing.B) {
	for _, codec := range []wire.Codec{wire.CodecMsgpack, wire.CodecJSON} {
		b.Run(codec.String(), func(b *testing.B) { benchSendRecv(b, codec) })
	}
}

func benchSendRecv(b *testing.B, codec wire.Codec) {
	msg := strings.Repeat("m", 100)
	send := &protocol.Command{Kind: protocol.KindDirect, PeerID: "alice", ToPeerIDs: []string{"bob"}, Msg: msg, Transient: true}
	deliv := &protocol.Command{Kind: protocol.KindDirect, PeerID: "bob", FromPeerID: "alice", Msg: msg, ID: "0123456789abcdef", Timestamp: 1700000000000, Transient: true}
	var body []byte
	op := byte(0x2)
	sub := wire.SubprotocolMsgpack
	if codec == wire.CodecMsgpack {
		body = protocol.AppendMsgpack(nil, deliv)
	} else {
		op, sub = 0x1, wire.SubprotocolJSON
		body = protocol.AppendJSON(nil, deliv)
	}
	var in []byte // the client's frame of send: header, mask, payload
	if codec == wire.CodecMsgpack {
		in = protocol.AppendMsgpack(nil, send)
	} else {
		in = protocol.AppendJSON(nil, send)
	}
	inLen := len(frameHeader(0, len(in))) + 4 + len(in)
	reply := append(frameHeader(op, len(body)), body...)

	up := websocket.Upgrader{Subprotocols: []string{sub}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		nc := ws.NetConn()
		defer nc.Close()
		buf := make([]byte, inLen)
		for {
			if _, err := io.ReadFull(nc, buf); err != nil {
				return
			}
			if _, err := nc.Write(reply); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c, err := wire.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), &wire.Options{Codec: codec})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := c.Send(send); err != nil {
			b.Fatal(err)
		}
		got, err := c.Recv()
		if err != nil {
			b.Fatal(err)
		}
		if got.Kind != protocol.KindDirect || got.ID != deliv.ID {
			b.Fatalf("got %+v", got)
		}
	}
}

// frameHeader is a final frame's header (RFC 6455 §5.2) for an n-byte
// payload under 64 KiB.
func frameHeader(op byte, n int) []byte {
	if n < 126 {
		return []byte{0x80 | op, byte(n)}
	}
	return []byte{0x80 | op, 126, byte(n >> 8), byte(n)}
}

package wire_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rtgate/rtgate/client/wire"
	"github.com/rtgate/rtgate/protocol"
)

// TestWSFrames checks the frames the conn writes itself against gorilla's
// server side, which rejects a bad mask bit, length or opcode: messages
// of every header length in both codecs, the pong it answers a ping with,
// and the echo of a server's close frame.
func TestWSFrames(t *testing.T) {
	for _, codec := range []wire.Codec{wire.CodecMsgpack, wire.CodecJSON} {
		t.Run(codec.String(), func(t *testing.T) {
			sizes := []int{1, 7, 100, 300, 70000} // 7-bit, 16-bit and 64-bit lengths
			sub := wire.SubprotocolMsgpack
			if codec == wire.CodecJSON {
				sub = wire.SubprotocolJSON
			}
			up := websocket.Upgrader{Subprotocols: []string{sub}}
			result := make(chan error, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ws, err := up.Upgrade(w, r, nil)
				if err != nil {
					result <- err
					return
				}
				defer ws.Close()
				result <- serveFrames(ws, codec, sizes)
			}))
			defer srv.Close()
			c, err := wire.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), &wire.Options{Codec: codec})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for _, n := range sizes {
				if err := c.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: "alice", ToPeerIDs: []string{"bob"}, Msg: strings.Repeat("x", n), Transient: true}); err != nil {
					t.Fatalf("send %d: %v", n, err)
				}
			}
			// The server pings, waits for the pong, then closes with 4001.
			_, err = c.Recv()
			var ce *protocol.CloseError
			if !errors.As(err, &ce) || ce.Code != 4001 {
				t.Fatalf("Recv: %v, want a close with 4001", err)
			}
			// The close was echoed: no frame may follow it.
			if err := c.Send(&protocol.Command{Kind: protocol.KindKeepalive}); err == nil {
				t.Error("Send after the close echo succeeded")
			}
			select {
			case err := <-result:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("server did not finish")
			}
		})
	}
}

// serveFrames reads len(sizes) messages and checks them, pings and waits
// for the pong, closes with 4001 and waits for the echo.
func serveFrames(ws *websocket.Conn, codec wire.Codec, sizes []int) error {
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, n := range sizes {
		mt, data, err := ws.ReadMessage()
		if err != nil {
			return err
		}
		var cmd protocol.Command
		if codec == wire.CodecMsgpack {
			if mt != websocket.BinaryMessage {
				return errors.New("msgpack sent as text")
			}
			err = protocol.DecodeMsgpack(data, &cmd)
		} else {
			if mt != websocket.TextMessage {
				return errors.New("json sent as binary")
			}
			err = protocol.DecodeJSON(data, &cmd)
		}
		if err != nil {
			return err
		}
		if len(cmd.Msg) != n || strings.Trim(cmd.Msg, "x") != "" {
			return errors.New("message garbled")
		}
	}
	pong := make(chan string, 1)
	ws.SetPongHandler(func(s string) error { pong <- s; return nil })
	closed := make(chan int, 1)
	ws.SetCloseHandler(func(code int, _ string) error { closed <- code; return nil })
	if err := ws.WriteControl(websocket.PingMessage, []byte("hello"), time.Now().Add(time.Second)); err != nil {
		return err
	}
	readErr := make(chan error, 1)
	go func() { // owned by serveFrames, which waits for it below
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				readErr <- err
				return
			}
		}
	}()
	select {
	case s := <-pong:
		if s != "hello" {
			return errors.New("pong payload " + s)
		}
	case err := <-readErr:
		return err
	}
	if err := ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"), time.Now().Add(time.Second)); err != nil {
		return err
	}
	<-readErr // the client's echo ends the read loop
	select {
	case code := <-closed:
		if code != 4001 {
			return errors.New("close echo with another code")
		}
	default:
		return errors.New("no close echo")
	}
	return nil
}

package ws_test

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/transports/transporttest"
	"github.com/rtgate/rtgate/transports/ws"
)

// harness runs the conformance suite over real loopback WebSockets in one
// dialect ("" is v1 legacy).
type harness struct {
	subprotocol string
	mod         func(*ws.Config) // optional extra settings
}

func (h harness) Modern() bool { return h.subprotocol != "" }

func (h harness) Serve(t testing.TB, hub *core.Hub, opts transporttest.Options) string {
	cfg := ws.Config{
		MaxFrameBytes:     opts.MaxFrameBytes,
		QueueBytes:        opts.QueueBytes,
		CommandsPerSecond: -1,
		Logger:            slog.New(slog.DiscardHandler),
	}
	if h.mod != nil {
		h.mod(&cfg)
	}
	handler := ws.New(hub, cfg)
	if opts.Registry != nil {
		opts.Registry.MustRegister(handler.Collectors()...)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(func() {
		srv.Close()
		waitHandler(t, handler)
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// waitHandler fails t if the handler's connection goroutines do not end.
func waitHandler(t testing.TB, h *ws.Handler) {
	done := make(chan struct{})
	go func() { h.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Errorf("ws handler goroutines still running 10 s after shutdown")
	}
}

func (h harness) Dial(t testing.TB, addr string) (transporttest.ClientConn, error) {
	return dialClient(addr, h.subprotocol, nil)
}

// wsClient is a gorilla client speaking one dialect.
type wsClient struct {
	ws      *websocket.Conn
	msgpack bool
	text    int // frame type of the dialect
	*transporttest.Puller
	buf []byte
}

func dialClient(addr, subprotocol string, hdr http.Header) (*wsClient, error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	if subprotocol != "" {
		d.Subprotocols = []string{subprotocol}
	}
	conn, resp, err := d.Dial(addr, hdr)
	if err != nil {
		if resp != nil {
			return nil, &dialError{status: resp.StatusCode, err: err}
		}
		return nil, err
	}
	if conn.Subprotocol() != subprotocol {
		conn.Close()
		return nil, errors.New("server chose subprotocol " + conn.Subprotocol())
	}
	c := &wsClient{ws: conn, msgpack: subprotocol == ws.SubprotocolMsgpack, text: websocket.TextMessage}
	if c.msgpack {
		c.text = websocket.BinaryMessage
	}
	c.Puller = transporttest.NewPuller(c.read)
	return c, nil
}

type dialError struct {
	status int
	err    error
}

func (e *dialError) Error() string { return e.err.Error() }

func (c *wsClient) read() (*protocol.Command, error) {
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return nil, &protocol.CloseError{Code: protocol.CloseCode(ce.Code), Reason: ce.Text}
		}
		return nil, err
	}
	cmd := new(protocol.Command)
	if c.msgpack {
		err = protocol.DecodeMsgpack(data, cmd)
	} else {
		err = protocol.DecodeJSON(data, cmd)
	}
	return cmd, err
}

func (c *wsClient) Send(cmd *protocol.Command) error {
	if c.msgpack {
		c.buf = protocol.AppendMsgpack(c.buf[:0], cmd)
	} else {
		c.buf = protocol.AppendJSON(c.buf[:0], cmd)
	}
	return c.SendRaw(c.buf)
}

func (c *wsClient) SendRaw(b []byte) error {
	c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteMessage(c.text, b)
}

func (c *wsClient) Close() error {
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(time.Second))
	c.Stop()
	return c.ws.Close()
}

func (c *wsClient) Abort() error {
	c.Stop()
	return c.ws.UnderlyingConn().Close()
}

var dialects = []struct {
	name        string
	subprotocol string
}{
	{"legacy", ""},
	{"json", ws.SubprotocolJSON},
	{"msgpack", ws.SubprotocolMsgpack},
}

func TestConformance(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			transporttest.Run(t, harness{subprotocol: d.subprotocol})
		})
	}
}

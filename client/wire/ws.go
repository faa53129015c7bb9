package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rtgate/rtgate/protocol"
)

// wsConn is a WebSocket Conn.
type wsConn struct {
	ws           *websocket.Conn
	codec        Codec
	writeTimeout time.Duration
	closed       atomic.Bool
	closeOnce    sync.Once

	wmu  sync.Mutex
	wbuf []byte // encode buffer; guarded by wmu

	rbuf []byte // frame buffer; owned by the Recv caller
}

func dialWS(ctx context.Context, u *url.URL, o *Options) (Conn, error) {
	d := websocket.Dialer{
		Proxy:           nil,
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
	}
	if u.Scheme == "wss" {
		tc, err := o.tlsConfig(u.Hostname(), nil)
		if err != nil {
			return nil, err
		}
		d.TLSClientConfig = tc
	}
	switch o.Codec {
	case CodecMsgpack:
		d.Subprotocols = []string{SubprotocolMsgpack}
	case CodecJSON:
		d.Subprotocols = []string{SubprotocolJSON}
	case CodecLegacy:
	default:
		return nil, fmt.Errorf("wire: unknown codec %v", o.Codec)
	}
	ws, resp, err := d.DialContext(ctx, u.String(), o.Header)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("wire: websocket dial %s: %w (HTTP %s)", u.Redacted(), err, resp.Status)
		}
		return nil, fmt.Errorf("wire: websocket dial %s: %w", u.Redacted(), err)
	}
	if len(d.Subprotocols) > 0 && ws.Subprotocol() != d.Subprotocols[0] {
		ws.Close()
		return nil, fmt.Errorf("%w: asked %s, got %q", ErrSubprotocol, d.Subprotocols[0], ws.Subprotocol())
	}
	ws.SetReadLimit(int64(o.MaxFrameBytes))
	return &wsConn{ws: ws, codec: o.Codec, writeTimeout: o.WriteTimeout}, nil
}

func (c *wsConn) Transport() string { return "ws" }
func (c *wsConn) Modern() bool      { return c.codec != CodecLegacy }

func (c *wsConn) Send(cmd *protocol.Command) error {
	if c.closed.Load() {
		return ErrClosed
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	mt := websocket.TextMessage
	if c.codec == CodecMsgpack {
		mt = websocket.BinaryMessage
		c.wbuf = protocol.AppendMsgpack(c.wbuf[:0], cmd)
	} else {
		c.wbuf = protocol.AppendJSON(c.wbuf[:0], cmd)
	}
	c.ws.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	if err := c.ws.WriteMessage(mt, c.wbuf); err != nil {
		return c.mapErr(err)
	}
	if cap(c.wbuf) > 64<<10 {
		c.wbuf = nil // do not keep a rare huge buffer
	}
	return nil
}

func (c *wsConn) Recv() (*protocol.Command, error) {
	mt, r, err := c.ws.NextReader()
	if err != nil {
		return nil, c.mapErr(err)
	}
	c.rbuf = c.rbuf[:0]
	for {
		if len(c.rbuf) == cap(c.rbuf) {
			c.rbuf = append(c.rbuf, 0)[:len(c.rbuf)]
		}
		n, err := r.Read(c.rbuf[len(c.rbuf):cap(c.rbuf)])
		c.rbuf = c.rbuf[:len(c.rbuf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, c.mapErr(err)
		}
	}
	return decodeBody(c.rbuf, mt == websocket.BinaryMessage)
}

// mapErr turns gorilla errors into the package's: a close frame becomes a
// *protocol.CloseError, anything after Close becomes ErrClosed.
func (c *wsConn) mapErr(err error) error {
	if c.closed.Load() {
		return ErrClosed
	}
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return &protocol.CloseError{Code: protocol.CloseCode(ce.Code), Reason: ce.Text}
	}
	return fmt.Errorf("wire: websocket: %w", err)
}

func (c *wsConn) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		c.ws.Close()
	})
	return nil
}

package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rtgate/rtgate/protocol"
)

// wsConn is a WebSocket Conn. Gorilla does the handshake and reads
// frames; the conn writes its own frames to the socket (ws.NetConn): one
// masked frame built in wbuf, one write(2), and a write deadline moved at
// most once per writeTimeout/4 (see armWrite), where gorilla's writer
// allocates a writer per message and moves the deadline on every write.
// So that frames never interleave, gorilla's own writes (the pong it
// answers a ping with, the echo of a close frame) go through writeFrame
// too, by the handlers set in dialWS.
type wsConn struct {
	ws           *websocket.Conn
	nc           net.Conn // ws.NetConn(); written only under wmu
	codec        Codec
	writeTimeout time.Duration
	closed       atomic.Bool
	closeOnce    sync.Once

	wmu       sync.Mutex
	wbuf      []byte    // frame buffer; guarded by wmu
	writeBy   time.Time // the write deadline in force; guarded by wmu
	closeSent bool      // a close frame was written (no frame may follow it); guarded by wmu

	rbuf []byte // frame buffer; owned by the Recv caller
}

// WebSocket opcodes (RFC 6455 §5.2) of the frames the conn writes.
const (
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPong   = 0xa
	finBit   = 0x80
	maskBit  = 0x80
	// maxHeader is a client frame's longest header: 2 bytes, an 8-byte
	// length, the 4-byte mask key.
	maxHeader = 14
)

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
	c := &wsConn{ws: ws, nc: ws.NetConn(), codec: o.Codec, writeTimeout: o.WriteTimeout}
	// Gorilla's default handlers write with its own writer; these write
	// under wmu. Like gorilla's, they ignore a failed write: the next
	// read or Send reports the broken connection.
	ws.SetPingHandler(func(data string) error {
		c.writeControl(opPong, []byte(data))
		return nil
	})
	ws.SetCloseHandler(func(code int, _ string) error {
		c.writeControl(opClose, websocket.FormatCloseMessage(code, ""))
		return nil
	})
	return c, nil
}

func (c *wsConn) Transport() string { return "ws" }
func (c *wsConn) Modern() bool      { return c.codec != CodecLegacy }

func (c *wsConn) Send(cmd *protocol.Command) error {
	if c.closed.Load() {
		return ErrClosed
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return c.mapErr(websocket.ErrCloseSent) // as gorilla's writer said
	}
	op := byte(opText)
	b := append(c.wbuf[:0], make([]byte, maxHeader)...)
	if c.codec == CodecMsgpack {
		op = opBinary
		b = protocol.AppendMsgpack(b, cmd)
	} else {
		b = protocol.AppendJSON(b, cmd)
	}
	c.wbuf = b
	if cap(c.wbuf) > 64<<10 {
		c.wbuf = nil // do not keep a rare huge buffer
	}
	frame := maskFrame(b, op)
	c.armWrite(time.Now(), c.writeTimeout)
	if _, err := c.nc.Write(frame); err != nil {
		return c.mapErr(err)
	}
	return nil
}

// writeControl writes a control frame (payload at most 125 bytes) within
// a second, like gorilla's WriteControl.
func (c *wsConn) writeControl(op byte, payload []byte) error {
	var buf [maxHeader + 125]byte
	b := append(buf[:maxHeader], payload...)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return nil // RFC 6455 §5.5.1: nothing after a close frame
	}
	c.closeSent = op == opClose
	c.writeBy = time.Now().Add(time.Second)
	c.nc.SetWriteDeadline(c.writeBy)
	_, err := c.nc.Write(maskFrame(b, op))
	return err
}

// armWrite gives the next write at least 3/4 of timeout and at most
// timeout: it moves the socket's deadline (a runtime timer change under a
// lock) only when the one in force is nearer than 3/4 of timeout. The
// caller holds wmu.
func (c *wsConn) armWrite(now time.Time, timeout time.Duration) {
	if c.writeBy.Sub(now) >= timeout-timeout/4 {
		return
	}
	c.writeBy = now.Add(timeout)
	c.nc.SetWriteDeadline(c.writeBy)
}

// maskFrame turns b, a payload after maxHeader reserved bytes, into a
// final masked client frame of opcode op (RFC 6455 §5.2, §5.3) and
// returns it: the header goes right before the payload, which is masked
// in place with a fresh key.
func maskFrame(b []byte, op byte) []byte {
	payload := b[maxHeader:]
	n := len(payload)
	hdr := 2 + 4
	switch {
	case n > 0xffff:
		hdr += 8
	case n >= 126:
		hdr += 2
	}
	start := maxHeader - hdr
	h := b[start:maxHeader]
	h[0] = finBit | op
	switch {
	case n > 0xffff:
		h[1] = maskBit | 127
		binary.BigEndian.PutUint64(h[2:], uint64(n))
	case n >= 126:
		h[1] = maskBit | 126
		binary.BigEndian.PutUint16(h[2:], uint16(n))
	default:
		h[1] = maskBit | byte(n)
	}
	key := rand.Uint32() // what gorilla uses for its mask keys
	binary.LittleEndian.PutUint32(h[hdr-4:], key)
	mask(payload, key)
	return b[start:]
}

// mask XORs p with the 4-byte key (little-endian: key's low byte masks
// p[0]), eight bytes at a time.
func mask(p []byte, key uint32) {
	k8 := uint64(key) | uint64(key)<<32
	i := 0
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^k8)
	}
	for ; i < len(p); i++ {
		p[i] ^= byte(key >> (8 * (i % 4)))
	}
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
		// A Send blocked on a full socket gives up within a second, so
		// the close frame gets its turn.
		c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		c.writeControl(opClose, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		c.ws.Close()
	})
	return nil
}

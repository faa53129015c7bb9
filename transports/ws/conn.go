package ws

import (
	"encoding/binary"
	"net"
	"slices"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/transports/internal/outq"
)

// WebSocket opcodes (RFC 6455 §5.2) of the frames the writer builds.
const (
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xa
	finBit   = 0x80

	maxControlPayload = 125
)

// conn is one WebSocket connection: the core.Conn the hub writes to.
//
// Gorilla performs the handshake only. The reader parses client frames
// itself (frameReader: RFC 6455 framing, masking, fragmentation, control
// frames); the writer owns the write half of the socket and writes frames
// it builds itself: server frames are unmasked, so a frame is a 2–10 byte
// header and the encoded command. Write encodes straight into the outbound
// queue (outq), and the writer hands everything queued to the socket in
// one write(2) per batch, instead of gorilla's one write per message.
//
// The writer exists only while there is something to write: the queue
// makes the goroutine that queued a frame or a close the writer when none
// runs (wake), which writes without waiting and hands what is left to a
// writer goroutine (writeFrom) that returns once it finds the queue
// empty, so an idle connection has no writer goroutine. The queue owns
// the close state; the last writer sends the close frame (or drops the
// queue) and closes writerDone.
//
// Close ordering: a close frame follows the frames queued before Close
// (a reply the core wrote just before closing reaches the client), except
// for protocol.CloseSlowConsumer, which drops the queue first.
type conn struct {
	h       *Handler        // immutable
	netConn net.Conn        // the socket: reads owned by the reader, writes by writeLoop
	dialect dialect         // immutable
	info    core.ConnInfo   // immutable
	client  *core.Client    // set before the goroutines start
	raw     syscall.RawConn // the socket, or nil; see rawconn.go
	fr      frameReader     // owned by the reader (whichever goroutine it is on)
	rd      readerState     // owned by the reader

	q outq.Queue // the outbound queue and the close state
	// writeBy is the write deadline in force, as Handler.clock time;
	// owned by the writer (one at a time, handed over under the queue's
	// lock).
	writeBy    time.Duration
	writerDone chan struct{} // closed when the last writer (close frame sent, or aborted) is done
	// wbuf is what tryWrite has still to write; writeFn is c.writeSome
	// bound once (a method value allocates). Owned by the writer.
	wbuf    []byte
	writeFn func(fd uintptr) bool

	mu         sync.Mutex
	graceArmed bool        // the close frame was sent and the read deadline is CloseGrace; guarded by mu
	ping       *time.Timer // modern dialects: the next server ping; guarded by mu
}

var _ core.Conn = (*conn)(nil)

// newConn wraps the socket of an upgraded connection. Nothing is buffered
// ahead of it: gorilla refuses a client that sends before the handshake
// completes.
func newConn(h *Handler, netConn net.Conn, d dialect, remote string) *conn {
	c := &conn{
		h:          h,
		netConn:    netConn,
		raw:        rawConn(netConn),
		dialect:    d,
		info:       core.ConnInfo{Transport: "ws", Modern: d != dialectLegacy, RemoteAddr: remote},
		writerDone: make(chan struct{}),
	}
	enc := encodeText
	if d == dialectMsgpack {
		enc = encodeBinary
	}
	c.q.Init(outq.Config{
		Limit:   h.cfg.QueueBytes,
		Encode:  enc,
		Wake:    c.wake,
		Pool:    &h.bufs,
		Metrics: h.metrics.queue,
	})
	c.fr.src = (*socketReader)(c)
	c.writeFn = c.writeSome
	return c
}

// Info implements core.Conn.
func (c *conn) Info() core.ConnInfo { return c.info }

// Write implements core.Conn: it encodes cmd into the queue, which wakes
// the writer. Overflow follows the queue's per-class policy (package
// outq): a reply or message closes the conn as a slow consumer and
// returns core.ErrSlowConsumer (once; core.ErrConnClosed afterwards).
func (c *conn) Write(cmd *protocol.Command) error { return c.q.Push(cmd) }

func encodeText(dst []byte, cmd *protocol.Command) []byte {
	return appendDataFrame(dst, dialectJSON, cmd)
}

func encodeBinary(dst []byte, cmd *protocol.Command) []byte {
	return appendDataFrame(dst, dialectMsgpack, cmd)
}

// startPings arms the server pings of modern dialects: a timer, not a
// goroutine, so an idle connection costs no stack for it.
func (c *conn) startPings() {
	interval := c.h.cfg.PingInterval
	if c.dialect == dialectLegacy || interval <= 0 {
		return
	}
	c.mu.Lock()
	if !c.q.Closed() {
		c.ping = time.AfterFunc(interval, c.pingTick)
	}
	c.mu.Unlock()
}

func (c *conn) pingTick() {
	c.queueControl(opPing, nil)
	c.mu.Lock()
	if c.ping != nil && !c.q.Closed() {
		c.ping.Reset(c.h.cfg.PingInterval)
	}
	c.mu.Unlock()
}

// Close implements core.Conn: it is idempotent and does not block; the
// writer sends the close frame after the frames already queued.
func (c *conn) Close(code protocol.CloseCode, reason string) { c.q.Close(code, reason) }

// abort ends the connection without a close frame (the peer is gone or
// the socket failed): the writer drops its queue and the socket is closed,
// which also unblocks the reader.
func (c *conn) abort() {
	c.q.Abort()
	c.netConn.Close()
}

// queueControl queues a ping or pong frame; it is dropped once the conn is
// closing. Control frames count against the queue budget like data frames.
func (c *conn) queueControl(op byte, payload []byte) {
	var b [2 + maxControlPayload]byte
	frame := appendFrameHeader(b[:0], op, len(payload))
	c.q.PushControl(append(frame, payload...))
}

// wake is the queue's Wake: a frame or a close was queued and no writer
// runs, so the caller (any goroutine that pushed) is now the writer. It
// hands what is queued to the socket itself with a non-blocking write:
// a connection whose socket takes each batch at once costs no goroutine
// and no hand-off per batch, and an idle connection still has no writer
// goroutine. What the socket does not take at once, a close, or more
// than maxInline batches go to a writer goroutine (writeFrom), which may
// block in the write under its deadline; the caller never blocks.
func (c *conn) wake() {
	if c.raw == nil {
		go c.writeLoop()
		return
	}
	for i := 0; ; i++ {
		b := c.q.Take()
		if b.State != outq.Open {
			go c.writeFrom(b, 0)
			return
		}
		if b.Empty() {
			return // the queue marked the writer stopped
		}
		n := c.tryWrite(b.Buf)
		if n < len(b.Buf) {
			go c.writeFrom(b, n)
			return
		}
		c.written(&b)
		if i+1 == maxInline {
			go c.writeLoop()
			return
		}
	}
}

// maxInline bounds the batches one wake writes on the pushing goroutine
// (more were queued while it wrote: a busy connection gets a writer).
const maxInline = 2

// tryWrite writes what the socket takes of p without waiting and returns
// the bytes written; an error (the socket is full, failed or closed)
// writes nothing more, and the writer goroutine's blocking write finds
// it again.
func (c *conn) tryWrite(p []byte) int {
	c.wbuf = p
	c.raw.Write(c.writeFn)
	n := len(p) - len(c.wbuf)
	c.wbuf = nil
	return n
}

// writeSome is tryWrite's RawConn callback (bound once as c.writeFn): one
// write(2) of c.wbuf on the non-blocking socket, never a wait.
func (c *conn) writeSome(fd uintptr) bool {
	if n, _ := syscall.Write(int(fd), c.wbuf); n > 0 {
		c.wbuf = c.wbuf[n:]
	}
	return true
}

// written accounts a batch handed to the socket and recycles its buffer.
func (c *conn) written(b *outq.Batch) {
	m := c.h.metrics
	m.framesOut[c.dialect].Add(float64(b.N))
	m.bytesOut[c.dialect].Add(float64(len(b.Buf)))
	c.q.Done(len(b.Buf), b.N)
	c.q.Recycle(b.Buf)
}

// writeLoop is a writer goroutine that starts with nothing in hand.
func (c *conn) writeLoop() { c.writeFrom(c.q.Take(), 0) }

// writeFrom is the connection's only socket writer while it runs (see
// wake): it writes b, whose first off bytes are already written, then
// drains the queue in batches and returns when it finds the queue empty;
// on close it sends the close frame, gives the client CloseGrace to
// answer before the reader gives up, and closes writerDone.
func (c *conn) writeFrom(b outq.Batch, off int) {
	cfg := &c.h.cfg
	m := c.h.metrics
	for ; ; b, off = c.q.Take(), 0 {
		if b.State == outq.Aborted {
			c.q.Recycle(b.Buf)
			m.closed(0)
			c.finish()
			return
		}
		if len(b.Buf) > 0 {
			c.armWrite(cfg.WriteTimeout)
			_, err := c.netConn.Write(b.Buf[off:])
			c.written(&b)
			if err != nil {
				c.h.log.Debug("ws write failed", "remote", c.info.RemoteAddr, "err", err)
				m.closed(0)
				c.abort()
				c.finish()
				return
			}
		}
		if b.State == outq.Closing {
			c.writeClose(b.Code, b.Reason)
			c.finish()
			return
		}
		if b.Empty() {
			return // the queue marked the writer stopped: the next frame wakes one
		}
	}
}

// armWrite gives the next socket write at least 3/4 of timeout and at
// most timeout to finish. It moves the socket's deadline only when the one
// in force is nearer than 3/4 of timeout: moving it is a runtime timer
// change under a lock, which a busy connection would otherwise pay on
// every batch.
func (c *conn) armWrite(timeout time.Duration) {
	now := c.h.clock()
	if c.writeBy-now >= timeout-timeout/4 {
		return
	}
	c.writeBy = now + timeout
	c.netConn.SetWriteDeadline(c.h.at(c.writeBy))
}

// finish marks the last writer done (the queue starts no writer again):
// the ping timer stops and the reader may close the socket.
func (c *conn) finish() {
	c.mu.Lock()
	if c.ping != nil {
		c.ping.Stop()
		c.ping = nil
	}
	c.mu.Unlock()
	close(c.writerDone)
}

// writeClose sends the close frame and arms the reader's deadline: the
// client has CloseGrace to answer with its own close frame.
func (c *conn) writeClose(code protocol.CloseCode, reason string) {
	cfg := &c.h.cfg
	var payload []byte
	if sendable(code) {
		payload = binary.BigEndian.AppendUint16(make([]byte, 0, maxControlPayload), uint16(code))
		payload = append(payload, truncateUTF8(reason, maxControlPayload-2)...)
	}
	frame := appendFrameHeader(make([]byte, 0, 2+len(payload)), opClose, len(payload))
	frame = append(frame, payload...)
	c.armWrite(cfg.WriteTimeout)
	if _, err := c.netConn.Write(frame); err != nil {
		c.h.metrics.closed(0)
		c.abort()
		return
	}
	c.h.metrics.closed(int(code))
	c.mu.Lock() // the reader extends its deadline under mu only while !graceArmed
	c.graceArmed = true
	c.netConn.SetReadDeadline(time.Now().Add(cfg.CloseGrace))
	c.mu.Unlock()
}

// sendable reports whether code may appear in a close frame (RFC 6455
// §7.4.1: 1005, 1006 and 1015 are for reporting only).
func sendable(code protocol.CloseCode) bool {
	switch code {
	case 1005, 1006, 1015:
		return false
	}
	return code >= 1000 && code < 5000
}

// appendDataFrame appends cmd as one unfragmented data frame of d. The
// header is reserved at its 4-byte size (payloads of 126..65535 bytes) and
// fixed up after encoding, so the payload is encoded in place.
func appendDataFrame(dst []byte, d dialect, cmd *protocol.Command) []byte {
	op := byte(opText)
	if d == dialectMsgpack {
		op = opBinary
	}
	start := len(dst)
	dst = slices.Grow(dst, 4+len(cmd.Msg)+256) // one growth for a big message, not several
	dst = append(dst, finBit|op, 126, 0, 0)
	body := start + 4
	if d == dialectMsgpack {
		dst = protocol.AppendMsgpack(dst, cmd)
	} else {
		dst = protocol.AppendJSON(dst, cmd)
	}
	n := len(dst) - body
	switch {
	case n < 126:
		dst[start+1] = byte(n)
		copy(dst[start+2:], dst[body:])
		dst = dst[:len(dst)-2]
	case n <= 0xffff:
		binary.BigEndian.PutUint16(dst[start+2:], uint16(n))
	default:
		dst = append(dst, 0, 0, 0, 0, 0, 0)
		copy(dst[body+6:], dst[body:body+n])
		dst[start+1] = 127
		binary.BigEndian.PutUint64(dst[start+2:], uint64(n))
	}
	return dst
}

// appendFrameHeader appends a final frame header for an n-byte payload.
func appendFrameHeader(dst []byte, op byte, n int) []byte {
	switch {
	case n < 126:
		return append(dst, finBit|op, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(dst, finBit|op, 126), uint16(n))
	}
	return binary.BigEndian.AppendUint64(append(dst, finBit|op, 127), uint64(n))
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Read buffers are pooled across connections so an idle connection holds
// none (queue buffers: outq.Pool).
const initialBuf = 512

// getReadBuf returns a buffer for one inbound frame.
func (h *Handler) getReadBuf() *[]byte {
	if p, ok := h.readBufs.Get().(*[]byte); ok {
		return p
	}
	b := make([]byte, 0, initialBuf)
	return &b
}

func (h *Handler) putReadBuf(p *[]byte) {
	if cap(*p) <= h.cfg.MaxFrameBytes+1 {
		*p = (*p)[:0]
		h.readBufs.Put(p)
	}
}

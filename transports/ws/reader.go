package ws

import (
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/transports/internal/inbound"
)

// readLoop owns the connection: it reads frames, hands them to the core in
// order, and when the connection ends waits for the writer, closes the
// socket and calls Client.Disconnect exactly once. It is the goroutine
// ServeHTTP starts; see serve for how it hands itself over while idle.
func (c *conn) readLoop() {
	h := c.h
	cfg := &h.cfg
	// Modern clients get server pings; one that sends nothing (not even a
	// pong) for two intervals is dead. Legacy clients rely on the core's
	// read timeout.
	if c.dialect != dialectLegacy && cfg.PingInterval > 0 {
		c.rd.idle = 2 * cfg.PingInterval
	}
	c.rd.throttle = min(time.Second, c.rd.idle/4) // moving a deadline is not free
	c.rd.bucket = inbound.NewBucket(cfg.CommandsPerSecond, cfg.Burst, time.Now())
	ws := c.ws
	ws.SetPingHandler(func(data string) error {
		c.alive()
		if !c.rd.bucket.Take(time.Now()) {
			c.Close(protocol.ClosePolicyViolation, "flood")
			return nil
		}
		c.queueControl(opPong, []byte(data))
		return nil
	})
	ws.SetPongHandler(func(string) error { c.alive(); c.client.Touch(); return nil })
	ws.SetCloseHandler(func(code int, _ string) error {
		// The client closes: echo its code after the queued frames (RFC
		// 6455 §5.5.1). No-op when we closed first.
		c.Close(protocol.CloseCode(code), "")
		return nil
	})
	c.alive()
	c.serve()
}

// readerState is the reader's own state, kept in conn (not on its stack)
// because the reader moves between goroutines (see serve).
type readerState struct {
	idle     time.Duration // read deadline extension; 0: none (legacy)
	throttle time.Duration
	extended time.Time
	bucket   inbound.Bucket
	polled   bool // within a waitReadable: the first check was done
}

// alive extends the read deadline of a modern client (throttled).
func (c *conn) alive() {
	r := &c.rd
	if r.idle == 0 {
		return
	}
	now := time.Now()
	if now.Sub(r.extended) < r.throttle {
		return
	}
	r.extended = now
	c.mu.Lock()
	if !c.graceArmed {
		c.netConn.SetReadDeadline(now.Add(r.idle))
	}
	c.mu.Unlock()
}

// serve reads frames until the connection ends. When gorilla's buffer is
// empty after a frame, serve first waits for the socket on this goroutine
// for up to Config.IdleHandover (waitWarm: a busy connection stays here).
// If nothing comes, the reader would otherwise park deep inside gorilla
// with the stack the frames' handling grew (8 KiB, never shrunk at such a
// depth): instead serve hands over to a new goroutine, idleRead, which
// waits for the socket in a shallow frame on a fresh (2 KiB) stack, and
// returns. Exactly one goroutine is the reader at any time.
func (c *conn) serve() {
	var cmd protocol.Command // reused: the core does not keep it past Handle
	for {
		if err := c.readOne(&cmd); err != nil {
			c.endRead(err)
			return
		}
		if c.br != nil && c.raw != nil && c.br.Buffered() == 0 && !c.waitWarm() {
			go c.idleRead()
			return
		}
	}
}

// idleRead waits until the socket is readable (or fails, or its deadline
// passes), then reads on.
func (c *conn) idleRead() {
	c.waitReadable()
	c.serve()
}

// waitWarm waits up to Config.IdleHandover for the socket to become
// readable, under a read deadline it sets for the wait and then puts back.
// It reports false when the wait timed out (the caller hands over), true
// otherwise: data, EOF or an error that the next read reports.
func (c *conn) waitWarm() bool {
	handover := c.h.cfg.IdleHandover
	if handover <= 0 {
		return false
	}
	r := &c.rd
	var restore time.Time // the deadline alive() keeps; zero for legacy
	if c.q.Closed() {     // read on here until the client's close frame or CloseGrace
		return true
	}
	c.mu.Lock()
	deadline := time.Now().Add(handover)
	if r.idle > 0 {
		restore = r.extended.Add(r.idle)
		deadline = minTime(deadline, restore)
	}
	c.netConn.SetReadDeadline(deadline)
	c.mu.Unlock()
	err := c.waitReadable()
	c.mu.Lock()
	if !c.graceArmed { // writeClose set the close grace deadline meanwhile
		c.netConn.SetReadDeadline(restore)
	}
	c.mu.Unlock()
	return !errors.Is(err, os.ErrDeadlineExceeded)
}

// readable is the callback of the reader's syscall.RawConn Reads, which
// wait until the socket is readable: the first call of a Read checks
// (peekReadable: the poller's edge may have come before the wait began);
// a later call means the poller woke the waiter, which it does only for
// new data, EOF or an error, so it returns true without another system
// call. It is bound once (conn.readableFn) so a wait allocates nothing.
func (c *conn) readable(fd uintptr) bool {
	if c.rd.polled {
		return true
	}
	c.rd.polled = true
	return peekReadable(fd)
}

// waitReadable waits until the socket is readable, fails or its read
// deadline passes; see readable.
func (c *conn) waitReadable() error {
	c.rd.polled = false
	return c.raw.Read(c.readableFn)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// readOne reads and handles one frame; a non-nil error ends the connection.
func (c *conn) readOne(cmd *protocol.Command) error {
	h := c.h
	cfg := &h.cfg
	m := h.metrics
	typ, r, err := c.ws.NextReader()
	if err != nil {
		return err
	}
	if c.isClosing() {
		return nil // drain until the client's close frame or CloseGrace
	}
	c.alive()
	if !c.rd.bucket.Take(time.Now()) {
		c.Close(protocol.ClosePolicyViolation, "flood")
		return nil
	}
	want, other := websocket.TextMessage, "binary"
	if c.dialect == dialectMsgpack {
		want, other = websocket.BinaryMessage, "text"
	}
	if typ != want {
		c.Close(protocol.CloseUnsupportedData, other+" frames are not part of the "+c.dialect.String()+" dialect")
		return nil
	}
	bp := h.getReadBuf() // pooled: an idle connection holds no frame buffer
	buf, tooLong, err := readFrame(r, *bp, cfg.MaxFrameBytes)
	*bp = buf
	if err != nil || tooLong {
		h.putReadBuf(bp)
		if err != nil {
			return err
		}
		c.Close(protocol.CloseTooLong, "frame over the frame limit")
		return nil
	}
	m.framesIn[c.dialect].Inc()
	m.bytesIn[c.dialect].Add(float64(len(buf)))
	if typ == websocket.TextMessage && !utf8.Valid(buf) {
		// RFC 6455 §8.1: a text frame that is not UTF-8 fails the
		// connection with 1007; it is not decoded (and repaired).
		h.putReadBuf(bp)
		c.Close(protocol.CloseInvalidPayload, "text frame is not valid UTF-8")
		return nil
	}
	if c.dialect == dialectMsgpack {
		err = protocol.DecodeMsgpack(buf, cmd)
	} else {
		err = protocol.DecodeJSON(buf, cmd)
	}
	if err != nil {
		err = c.client.BadFrame(cmd, err)
	} else {
		err = c.client.Handle(cmd)
	}
	h.putReadBuf(bp) // decoded strings never alias buf
	inbound.Handled(c, err, h.log, c.info)
	c.waitDrained()
	return nil
}

// endRead ends the connection after the read error rerr.
func (c *conn) endRead(rerr error) {
	defer c.h.wg.Done()
	defer c.h.metrics.conns.Dec()
	if !c.isClosing() {
		var ne net.Error
		if errors.As(rerr, &ne) && ne.Timeout() {
			c.Close(protocol.CloseReadTimeout, "no frame or pong from the client")
		} else {
			// EOF, reset, or a protocol error gorilla already answered.
			c.abort()
		}
	}
	<-c.writerDone
	c.netConn.Close()
	c.client.Disconnect()
}

// waitDrained applies backpressure to the client's own requests: while the
// queue is over half its budget the reader waits for the writer.
func (c *conn) waitDrained() {
	high := c.h.cfg.QueueBytes / 2
	for c.q.Queued() > high {
		select {
		case <-c.q.Drained():
		case <-c.writerDone:
			return
		}
	}
}

func (c *conn) isClosing() bool { return c.q.Closed() }

// readFrame reads one frame's payload into buf (reused), reading at most
// limitBytes+1 bytes: tooLong reports a frame over limitBytes, whose rest is not read.
func readFrame(r io.Reader, buf []byte, limitBytes int) (_ []byte, tooLong bool, err error) {
	buf = buf[:0]
	limit := limitBytes + 1
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(max(cap(buf), 512), limit-len(buf)))
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), limit)])
		buf = buf[:len(buf)+n]
		if len(buf) > limitBytes {
			return buf, true, nil
		}
		if err == io.EOF {
			return buf, false, nil
		}
		if err != nil {
			return buf, false, err
		}
	}
}

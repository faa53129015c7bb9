package ws

import (
	"errors"
	"net"
	"os"
	"time"
	"unicode/utf8"

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
// It reads the clock itself: passing a time.Time down from the callers
// made their frames large enough to double every idle reader's goroutine
// stack (2 to 4 KiB per connection, measured with rtbench's idle
// workload); keep the reader's frames small.
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
		if c.raw != nil && c.fr.buffered() == 0 && !c.waitWarm() {
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

// errPeerClosed ends the reader after the client's close frame.
var errPeerClosed = errors.New("ws: client sent a close frame")

// readOne reads frames until it has handled one data message (control
// frames are answered on the way); a non-nil error ends the connection.
func (c *conn) readOne(cmd *protocol.Command) error {
	h := c.h
	cfg := &h.cfg
	// Wait for the next frame before taking a message buffer from the pool:
	// a connection parked here (no RawConn wait: TLS) holds none.
	if err := c.fr.need(1); err != nil {
		return err
	}
	bp := h.getReadBuf()
	defer h.putReadBuf(bp)
	for {
		op, ctl, err := c.fr.Next(bp, cfg.MaxFrameBytes)
		if err != nil {
			return c.frameFailed(err)
		}
		switch {
		case op == opPing:
			c.alive()
			if !c.rd.bucket.Take(time.Now()) {
				c.Close(protocol.ClosePolicyViolation, "flood")
				continue
			}
			c.queueControl(opPong, ctl)
		case op == opPong:
			c.alive()
			c.client.Touch()
		case op == opClose:
			// The client closes: echo its code after the queued frames
			// (RFC 6455 §5.5.1). No-op when we closed first.
			c.Close(protocol.CloseCode(closeCode(ctl)), "")
			return errPeerClosed
		default:
			return c.handleMessage(op, *bp, cmd)
		}
	}
}

// frameFailed handles an error of frameReader.Next: nil when the reader
// skips the rest of an over-long message, else the error that ends it. It
// is out of readOne's loop so that errors.As's target (which escapes)
// costs an allocation only on a failure, not on every frame.
func (c *conn) frameFailed(err error) error {
	if err == errTooLong {
		if !c.isClosing() {
			c.Close(protocol.CloseTooLong, "frame over the frame limit")
		}
		return nil // the reader skips the rest of the message
	}
	var fe *frameError
	if errors.As(err, &fe) {
		// The stream is out of sync: close, and read no more.
		c.Close(protocol.CloseCode(fe.code), fe.reason)
	}
	return err
}

// handleMessage hands one data message to the core.
func (c *conn) handleMessage(op byte, buf []byte, cmd *protocol.Command) error {
	h := c.h
	m := h.metrics
	if c.isClosing() {
		return nil // drain until the client's close frame or CloseGrace
	}
	c.alive()
	if !c.rd.bucket.Take(time.Now()) {
		c.Close(protocol.ClosePolicyViolation, "flood")
		return nil
	}
	want, other := byte(opText), "binary"
	if c.dialect == dialectMsgpack {
		want, other = opBinary, "text"
	}
	if op != want {
		c.Close(protocol.CloseUnsupportedData, other+" frames are not part of the "+c.dialect.String()+" dialect")
		return nil
	}
	m.framesIn[c.dialect].Inc()
	m.bytesIn[c.dialect].Add(float64(len(buf)))
	if op == opText && !utf8.Valid(buf) {
		// RFC 6455 §8.1: a text frame that is not UTF-8 fails the
		// connection with 1007; it is not decoded (and repaired).
		c.Close(protocol.CloseInvalidPayload, "text frame is not valid UTF-8")
		return nil
	}
	var err error
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
	// Decoded strings never alias buf, which readOne gives back to the pool.
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
			// EOF or a reset.
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

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
	r := &c.rd
	// Modern clients get server pings; one that sends nothing (not even a
	// pong) for two intervals is dead. Legacy clients rely on the core's
	// read timeout.
	if c.dialect != dialectLegacy && cfg.PingInterval > 0 {
		r.idle = 2 * cfg.PingInterval
	}
	r.step = r.idle
	if hd := cfg.IdleHandover; hd > 0 && (r.idle == 0 || hd < r.idle) {
		r.step, r.handover = hd, true
	}
	r.throttle = min(time.Second, r.step/2) // moving a deadline is not free
	r.bucket = inbound.NewBucket(cfg.CommandsPerSecond, cfg.Burst, time.Now())
	c.alive()
	c.serve()
}

// readerState is the reader's own state, kept in conn (not on its stack)
// because the reader moves between goroutines (see serve).
//
// Read deadlines: while the reader runs on its working goroutine ("deep")
// the socket's read deadline is kept about step ahead of the last frame,
// moved at most once per throttle (alive), not per frame. With a handover
// step that deadline passing is not an error: at a frame boundary the
// reader hands over to a small idle goroutine (errHandover); inside a
// frame the read goes on under the parked deadline (park). Parked, the
// deadline is the client's idle deadline (none for legacy).
type readerState struct {
	idle     time.Duration // the client's read deadline; 0: none (legacy)
	step     time.Duration // the deadline kept ahead of a deep reader: IdleHandover, or idle
	throttle time.Duration // alive moves the deadline at most once per throttle
	extended time.Duration // when alive last moved the deadline (Handler.clock)
	bucket   inbound.Bucket
	handover bool // step is IdleHandover: its passing hands the reader over
	deep     bool // the deadline in force is extended+step (else the parked one)
	boundary bool // the reader waits for a new frame with nothing buffered
}

// alive keeps the read deadline of a deep reader step ahead (throttled).
// It reads the clock itself: passing a time.Time down from the callers
// made their frames large enough to double every idle reader's goroutine
// stack (2 to 4 KiB per connection, measured with rtbench's idle
// workload); keep the reader's frames small.
func (c *conn) alive() {
	r := &c.rd
	if r.step == 0 {
		return // legacy without a handover: no deadline
	}
	now := c.h.clock()
	if r.deep && now-r.extended < r.throttle {
		return
	}
	r.extended, r.deep = now, true
	c.mu.Lock()
	if !c.graceArmed {
		c.netConn.SetReadDeadline(c.h.at(now + r.step))
	}
	c.mu.Unlock()
}

// park puts the parked deadline in force: the client's idle deadline from
// the last move (none for legacy). The close grace, once armed, stays.
func (c *conn) park() {
	r := &c.rd
	r.deep = false
	var d time.Time
	if r.idle > 0 {
		d = c.h.at(r.extended + r.idle)
	}
	c.mu.Lock()
	if !c.graceArmed {
		c.netConn.SetReadDeadline(d)
	}
	c.mu.Unlock()
}

// serve reads frames until the connection ends. A busy reader reads on
// its own goroutine, parking in the socket read between frames as a plain
// relay does (no deadline move per frame, no readiness probe). When the
// handover deadline passes while it waits for a new frame, the reader
// would otherwise stay parked with the stack the frames' handling grew
// (8 KiB): instead serve hands over to a new goroutine, idleRead, which
// waits for the socket on a fresh (2 KiB) stack, and returns. Exactly one
// goroutine is the reader at any time.
func (c *conn) serve() {
	for {
		err := c.readOne()
		if err == errHandover {
			go c.idleRead()
			return
		}
		if err != nil {
			c.endRead(err)
			return
		}
		if c.h.cfg.IdleHandover < 0 && c.fr.buffered() == 0 && !c.q.Closed() {
			go c.idleRead() // hand over after every frame
			return
		}
	}
}

// idleRead is the reader parked on a small stack: it waits for the next
// frame under the parked deadline, then reads on.
func (c *conn) idleRead() {
	c.park()
	c.serve()
}

// errHandover: the handover deadline passed while the reader waited for a
// new frame; nothing was consumed.
var errHandover = errors.New("ws: reader idle: hand over")

// socketReader is the frame reader's source: the socket, with the
// handover deadline's timeouts turned into a handover (at a frame
// boundary) or a longer wait (inside a frame), so that frameReader.Next,
// which cannot resume after an error mid-frame, never sees them.
type socketReader conn

func (sr *socketReader) Read(p []byte) (int, error) {
	c := (*conn)(sr)
	for {
		n, err := c.netConn.Read(p)
		if n > 0 || err == nil {
			return n, nil // an error comes again on the next read
		}
		r := &c.rd
		if !r.deep || !r.handover || !errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, err
		}
		if r.boundary {
			return 0, errHandover
		}
		c.park() // inside a frame: read on under the parked deadline
	}
}

// errPeerClosed ends the reader after the client's close frame.
var errPeerClosed = errors.New("ws: client sent a close frame")

// readOne reads frames until it has handled one data message (control
// frames are answered on the way); a non-nil error ends the connection.
func (c *conn) readOne() error {
	h := c.h
	cfg := &h.cfg
	// Wait for the next frame before taking a message buffer from the pool:
	// a connection parked here holds none.
	c.rd.boundary = true
	err := c.fr.need(1)
	c.rd.boundary = false
	if err != nil {
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
			return c.handleMessage(op, *bp)
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

// handleMessage hands one data message to the core. The decoded command
// lives in its frame, which is off the stack while the reader waits (so
// not inlined: the idle reader's stack stays small).
//
//go:noinline
func (c *conn) handleMessage(op byte, buf []byte) error {
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
	var cmd protocol.Command // the core does not keep it past Handle
	var err error
	if c.dialect == dialectMsgpack {
		err = protocol.DecodeMsgpack(buf, &cmd)
	} else {
		err = protocol.DecodeJSON(buf, &cmd)
	}
	if err != nil {
		err = c.client.BadFrame(&cmd, err)
	} else {
		err = c.client.Handle(&cmd)
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

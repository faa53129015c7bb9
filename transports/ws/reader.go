package ws

import (
	"errors"
	"io"
	"net"
	"slices"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/protocol"
)

// readLoop owns the connection: it reads frames, hands them to the core in
// order, and when the connection ends waits for the writer, closes the
// socket and calls Client.Disconnect exactly once.
func (c *conn) readLoop() {
	h := c.h
	cfg := &h.cfg
	m := h.metrics
	defer h.wg.Done()
	defer m.conns.Dec()

	// Modern clients get server pings; one that sends nothing (not even a
	// pong) for two intervals is dead. Legacy clients rely on the core's
	// read timeout.
	var idle time.Duration
	if c.dialect != dialectLegacy && cfg.PingInterval > 0 {
		idle = 2 * cfg.PingInterval
	}
	var extended time.Time
	throttle := min(time.Second, idle/4) // moving a deadline is not free
	alive := func() {
		if idle == 0 {
			return
		}
		now := time.Now()
		if now.Sub(extended) < throttle {
			return
		}
		extended = now
		c.mu.Lock()
		if !c.closing {
			c.netConn.SetReadDeadline(now.Add(idle))
		}
		c.mu.Unlock()
	}
	bucket := tokenBucket{rate: cfg.CommandsPerSecond, burst: float64(cfg.Burst), tokens: float64(cfg.Burst), last: time.Now()}
	ws := c.ws
	ws.SetPingHandler(func(data string) error {
		alive()
		if !bucket.take(time.Now()) {
			c.Close(protocol.ClosePolicyViolation, "flood")
			return nil
		}
		c.queueControl(opPong, []byte(data))
		return nil
	})
	ws.SetPongHandler(func(string) error { alive(); c.client.Touch(); return nil })
	ws.SetCloseHandler(func(code int, _ string) error {
		// The client closes: echo its code after the queued frames (RFC
		// 6455 §5.5.1). No-op when we closed first.
		c.Close(protocol.CloseCode(code), "")
		return nil
	})
	alive()

	want, other := websocket.TextMessage, "binary"
	if c.dialect == dialectMsgpack {
		want, other = websocket.BinaryMessage, "text"
	}
	var (
		cmd  protocol.Command // reused: the core does not keep it past Handle
		rerr error
	)
	for {
		c.idleWait()
		typ, r, err := ws.NextReader()
		if err != nil {
			rerr = err
			break
		}
		if c.isClosing() {
			continue // drain until the client's close frame or CloseGrace
		}
		alive()
		if !bucket.take(time.Now()) {
			c.Close(protocol.ClosePolicyViolation, "flood")
			continue
		}
		if typ != want {
			c.Close(protocol.CloseUnsupportedData, other+" frames are not part of the "+c.dialect.String()+" dialect")
			continue
		}
		bp := h.getReadBuf() // pooled: an idle connection holds no frame buffer
		buf, tooLong, err := readFrame(r, *bp, cfg.MaxFrameBytes)
		*bp = buf
		if err != nil || tooLong {
			h.putReadBuf(bp)
			if err != nil {
				rerr = err
				break
			}
			c.Close(protocol.CloseTooLong, "frame over the frame limit")
			continue
		}
		m.framesIn[c.dialect].Inc()
		m.bytesIn[c.dialect].Add(float64(len(buf)))
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
		h.putReadBuf(bp) // decoded strings never alias buf
		c.handled(err)
		c.waitDrained()
	}

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

// handled acts on the core's answer to a frame.
func (c *conn) handled(err error) {
	if err == nil {
		return
	}
	var ce *protocol.CloseError
	switch {
	case errors.As(err, &ce):
		c.Close(ce.Code, ce.Reason)
	case errors.Is(err, core.ErrConnClosed):
		c.Close(protocol.CloseGoingAway, "connection closed") // the hub refused or dropped the client
	default:
		c.h.log.Error("ws: core failed a command", "remote", c.info.RemoteAddr, "err", err)
		c.Close(protocol.CloseInternal, "internal error")
	}
}

// waitDrained applies backpressure to the client's own requests: while the
// queue is over half its budget the reader waits for the writer.
func (c *conn) waitDrained() {
	high := c.h.cfg.QueueBytes / 2
	for c.queued() > high {
		select {
		case <-c.drained:
		case <-c.writerDone:
			return
		}
	}
}

func (c *conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

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

// tokenBucket is the per-connection flood limit; owned by the reader.
type tokenBucket struct {
	rate, burst, tokens float64
	last                time.Time
}

// take spends one token, reporting false when none is left. A
// non-positive rate never refuses.
func (b *tokenBucket) take(now time.Time) bool {
	if b.rate <= 0 {
		return true
	}
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

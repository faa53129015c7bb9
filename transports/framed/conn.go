package framed

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/protocol"
)

// Stream is the client's bidirectional stream: *quic.Stream and
// *webtransport.Stream satisfy it. Close ends the send direction (FIN).
type Stream interface {
	io.Reader
	io.Writer
	Close() error
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
}

// Session is the QUIC connection or WebTransport session that carries the
// stream. Only the writer goroutine calls it.
type Session interface {
	// SendDatagram sends one datagram; an error (too large, not
	// supported, connection closed) makes the writer send the message on
	// the stream instead.
	SendDatagram(b []byte) error
	// CloseWithCode ends the connection with code as its application error
	// code and reason as its message. Code 0 means the connection was lost
	// or broken and no code is owed to the client. It may block briefly.
	CloseWithCode(code protocol.CloseCode, reason string)
}

// Conn is one client connection: the core.Conn the hub writes to.
type Conn struct {
	sess   Session       // owned by writeLoop
	info   core.ConnInfo // immutable
	opts   Options       // immutable, defaults applied
	log    *slog.Logger  // immutable
	m      *Metrics      // immutable
	client *core.Client  // set by Serve before the writer starts

	wake       chan struct{} // cap 1: something was queued, or closing
	drained    chan struct{} // cap 1: the writer finished a batch
	readerDone chan struct{} // closed when the reader stopped reading the stream
	writerDone chan struct{} // closed when writeLoop returns

	mu           sync.Mutex
	str          Stream             // nil until the client's stream is accepted; reads: owned by the reader, writes: by writeLoop; guarded by mu
	cancelAccept func()             // ends the reader's wait for the stream; guarded by mu
	pending      []byte             // encoded frames for the stream; guarded by mu
	pendingN     int                // frames in pending; guarded by mu
	dgrams       [][]byte           // msgpack bodies for datagrams; guarded by mu
	queued       int                // len(pending) + bodies in dgrams; guarded by mu
	closing      bool               // Close or abort was called; nothing more is queued; guarded by mu
	aborted      bool               // the connection is lost: no flush, no FIN, no wait; guarded by mu
	closeCode    protocol.CloseCode // guarded by mu
	closeReason  string             // guarded by mu
}

var _ core.Conn = (*Conn)(nil)

// New returns a connection carried by sess; Serve accepts its stream.
// info.Transport names the transport; Modern should be true.
func New(sess Session, info core.ConnInfo, opts Options) *Conn {
	opts = opts.WithDefaults()
	m := opts.Metrics
	if m == nil {
		m = NewMetrics("rtgate_framed", "framed")
	}
	return &Conn{
		sess: sess, info: info, opts: opts, log: opts.Logger, m: m,
		wake:       make(chan struct{}, 1),
		drained:    make(chan struct{}, 1),
		readerDone: make(chan struct{}),
		writerDone: make(chan struct{}),
	}
}

// Info implements core.Conn.
func (c *Conn) Info() core.ConnInfo { return c.info }

// Write implements core.Conn: it encodes cmd into the queue (as a datagram
// body when cmd is a transient direct message, datagrams are on, it fits
// and the queue is empty) and wakes the writer. A transient message that
// finds frames already queued goes on the stream with them: quic-go puts
// one datagram in a packet, while queued stream frames leave together in
// as few packets as fit, so under load the stream costs fewer packets
// (and is never later than the frames queued before it). Over the queue budget it closes the conn as a
// slow consumer and returns core.ErrSlowConsumer (once; core.ErrConnClosed
// afterwards). A single frame larger than the budget is let through when
// the queue is empty.
func (c *Conn) Write(cmd *protocol.Command) error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return core.ErrConnClosed
	}
	wasEmpty := c.queued == 0
	n := 0
	if wasEmpty && c.opts.Datagrams && cmd.Kind == protocol.KindDirect && cmd.Transient {
		b := protocol.AppendMsgpack(make([]byte, 0, 128), cmd)
		if len(b) <= c.opts.MaxDatagramBytes {
			c.dgrams = append(c.dgrams, b)
			n = len(b)
		} else {
			c.m.DatagramFallbacks.Inc()
		}
	}
	if n == 0 {
		if c.pending == nil {
			c.pending = c.opts.Pool.get()
		}
		start := len(c.pending)
		c.pending = protocol.AppendMsgpackFrame(c.pending, cmd)
		c.pendingN++
		n = len(c.pending) - start
	}
	c.queued += n
	if !wasEmpty && c.queued > c.opts.QueueBytes {
		c.closeLocked(protocol.CloseSlowConsumer, "outbound queue full")
		c.mu.Unlock()
		return core.ErrSlowConsumer
	}
	c.mu.Unlock()
	if wasEmpty {
		signal(c.wake)
	}
	return nil
}

// Close implements core.Conn: it is idempotent and does not block. The
// frames queued before it are still sent (except for a slow consumer), then
// the connection closes with code.
func (c *Conn) Close(code protocol.CloseCode, reason string) {
	c.mu.Lock()
	c.closeLocked(code, reason)
	c.mu.Unlock()
}

func (c *Conn) closeLocked(code protocol.CloseCode, reason string) {
	if c.closing {
		return
	}
	c.closing, c.closeCode, c.closeReason = true, code, reason
	if code == protocol.CloseSlowConsumer {
		c.dropLocked()
	}
	c.wakeReaderLocked()
	signal(c.wake)
}

// wakeReaderLocked makes the reader stop waiting for the stream or a frame;
// it then disconnects the client. The reader re-checks closing after it
// sets its own deadline.
func (c *Conn) wakeReaderLocked() {
	if c.cancelAccept != nil {
		c.cancelAccept()
	}
	if c.str != nil {
		c.str.SetReadDeadline(time.Now())
	}
}

// abort ends a lost or broken connection: nothing more is sent.
func (c *Conn) abort() {
	c.mu.Lock()
	if !c.aborted {
		c.aborted = true
		c.closing = true
		c.dropLocked()
		c.wakeReaderLocked()
		if c.str != nil {
			c.str.SetWriteDeadline(time.Now())
		}
		signal(c.wake)
	}
	c.mu.Unlock()
}

func (c *Conn) dropLocked() {
	c.opts.Pool.put(c.pending)
	c.pending, c.pendingN, c.dgrams, c.queued = nil, 0, nil, 0
}

func (c *Conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// overHalf reports whether the queue is over half its budget.
func (c *Conn) overHalf() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queued > c.opts.QueueBytes/2 && !c.closing
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// writeLoop is the only goroutine that writes to the stream, sends
// datagrams or closes the session. It drains the queue in batches: one
// stream write per batch, with a deadline.
func (c *Conn) writeLoop() {
	defer close(c.writerDone)
	for range c.wake {
		for {
			c.mu.Lock()
			str := c.str
			if str == nil && !c.closing {
				c.mu.Unlock()
				break // queued until the stream is accepted
			}
			buf, n, dgrams := c.pending, c.pendingN, c.dgrams
			c.pending, c.pendingN, c.dgrams = nil, 0, nil
			closing, aborted := c.closing, c.aborted
			code, reason := c.closeCode, c.closeReason
			c.mu.Unlock()
			if aborted {
				c.opts.Pool.put(buf)
				c.finish(0, "")
				return
			}
			size := len(buf)
			for _, d := range dgrams {
				size += len(d)
				if err := c.sess.SendDatagram(d); err != nil {
					c.m.DatagramFallbacks.Inc()
					if buf == nil {
						buf = c.opts.Pool.get()
					}
					buf = protocol.AppendFrame(buf, d)
					n++
					continue
				}
				c.m.DatagramsOut.Inc()
			}
			if len(buf) > 0 && str != nil {
				str.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
				_, err := str.Write(buf)
				c.m.FramesOut.Add(float64(n))
				c.m.BytesOut.Add(float64(len(buf)))
				c.opts.Pool.put(buf)
				if err != nil {
					c.log.Debug("stream write failed", "transport", c.info.Transport, "remote", c.info.RemoteAddr, "err", err)
					c.abort()
					c.finish(0, "")
					return
				}
			}
			if size > 0 {
				c.mu.Lock()
				c.queued = max(0, c.queued-size)
				c.mu.Unlock()
				signal(c.drained)
			}
			if closing {
				c.finish(code, reason)
				return
			}
			if size == 0 {
				break
			}
		}
	}
}

// finish ends the connection. For an orderly close it ends the stream
// (FIN), waits for the reader to stop and for the client's FIN (at most
// CloseGrace), so that the frames sent are read before the close.
//
// Codes after which the stream is out of sync or the client does not read
// (4109, 4201) skip the wait.
func (c *Conn) finish(code protocol.CloseCode, reason string) {
	c.mu.Lock()
	str := c.str
	c.mu.Unlock()
	if str != nil && code != 0 && code != protocol.CloseSlowConsumer && code != protocol.CloseTooLong {
		str.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
		str.Close()
		grace := time.NewTimer(c.opts.CloseGrace)
		select {
		case <-c.readerDone:
			str.SetReadDeadline(time.Now().Add(c.opts.CloseGrace))
			drain(str)
		case <-grace.C:
		}
		grace.Stop()
	}
	c.m.closed(int(code))
	c.sess.CloseWithCode(code, reason)
}

// drain reads and drops what the client still sends until its FIN, an
// error or the read deadline.
func drain(r io.Reader) {
	var b [512]byte
	for {
		if _, err := r.Read(b[:]); err != nil {
			return
		}
	}
}

// stopOn aborts c when ctx is done (the QUIC connection or WT session
// ended), so that neither goroutine waits on a dead stream (WebTransport
// streams may otherwise hang after WT_SESSION_GONE).
func (c *Conn) stopOn(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, c.abort)
}

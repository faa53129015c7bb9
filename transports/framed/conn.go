package framed

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/transports/internal/outq"
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

	q          outq.Queue    // frames and datagrams for the client, and the close state
	wake       chan struct{} // cap 1: something was queued, or closing
	readerDone chan struct{} // closed when the reader stopped reading the stream
	writerDone chan struct{} // closed when writeLoop returns

	mu           sync.Mutex
	str          Stream // nil until the client's stream is accepted; reads: owned by the reader, writes: by writeLoop; guarded by mu
	cancelAccept func() // ends the reader's wait for the stream; guarded by mu
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
	c := &Conn{
		sess: sess, info: info, opts: opts, log: opts.Logger, m: m,
		wake:       make(chan struct{}, 1),
		readerDone: make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	c.q.Init(outq.Config{
		Limit:   opts.QueueBytes,
		Encode:  protocol.AppendMsgpackFrame,
		Wake:    func() { signal(c.wake) },
		Pool:    opts.Pool,
		Metrics: m.Queue,
	})
	return c
}

// Info implements core.Conn.
func (c *Conn) Info() core.ConnInfo { return c.info }

// Write implements core.Conn: it encodes cmd into the queue (as a datagram
// body when cmd is a transient direct message, datagrams are on, it fits
// and the queue is empty) and wakes the writer. A transient message that
// finds frames already queued goes on the stream with them: quic-go puts
// one datagram in a packet, while queued stream frames leave together in
// as few packets as fit, so under load the stream costs fewer packets
// (and is never later than the frames queued before it). Overflow follows
// the queue's per-class policy (package outq): a reply or message closes
// the conn as a slow consumer and returns core.ErrSlowConsumer (once;
// core.ErrConnClosed afterwards); a single frame larger than the budget is
// let through when the queue is empty.
func (c *Conn) Write(cmd *protocol.Command) error {
	if c.opts.Datagrams && cmd.Kind == protocol.KindDirect && cmd.Transient && c.q.Queued() == 0 {
		b := protocol.AppendMsgpack(make([]byte, 0, 128), cmd)
		if len(b) <= c.opts.MaxDatagramBytes {
			if ok, err := c.q.PushSide(b); ok || err != nil {
				return err
			}
		} else {
			c.m.DatagramFallbacks.Inc()
		}
	}
	err := c.q.Push(cmd)
	if errors.Is(err, core.ErrSlowConsumer) {
		c.closed()
	}
	return err
}

// Close implements core.Conn: it is idempotent and does not block. The
// frames queued before it are still sent (except for a slow consumer), then
// the connection closes with code.
func (c *Conn) Close(code protocol.CloseCode, reason string) {
	if c.q.Close(code, reason) {
		c.closed()
	}
}

// closed wakes the reader and the writer after the queue closed.
func (c *Conn) closed() {
	c.mu.Lock()
	c.wakeReaderLocked()
	c.mu.Unlock()
	signal(c.wake) // also when the writer waits for the stream
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
	if !c.q.Abort() {
		return
	}
	c.mu.Lock()
	c.wakeReaderLocked()
	if c.str != nil {
		c.str.SetWriteDeadline(time.Now())
	}
	c.mu.Unlock()
	signal(c.wake)
}

func (c *Conn) isClosing() bool { return c.q.Closed() }

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
			c.mu.Unlock()
			if str == nil && !c.q.Closed() {
				break // queued until the stream is accepted (acceptStream wakes us)
			}
			b := c.q.Take()
			if b.State == outq.Aborted {
				c.q.Recycle(b.Buf)
				c.finish(0, "")
				return
			}
			buf, n, size := b.Buf, b.N, b.Bytes()
			for _, d := range b.Side {
				if err := c.sess.SendDatagram(d); err != nil {
					c.m.DatagramFallbacks.Inc()
					if buf == nil {
						buf = c.opts.Pool.Get()
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
				if err != nil {
					c.q.Recycle(buf)
					c.log.Debug("stream write failed", "transport", c.info.Transport, "remote", c.info.RemoteAddr, "err", err)
					c.abort()
					c.finish(0, "")
					return
				}
			}
			c.q.Recycle(buf)
			if size > 0 {
				c.q.Done(size, b.N+len(b.Side))
			}
			if b.State == outq.Closing {
				c.finish(b.Code, b.Reason)
				return
			}
			if b.Empty() {
				break // the queue marked the writer idle: the next frame wakes it
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

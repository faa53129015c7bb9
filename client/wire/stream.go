package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/webtransport-go"

	"github.com/rtgate/rtgate/protocol"
)

// byteStream is what QUIC and WebTransport streams have in common.
type byteStream interface {
	io.ReadWriter
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
	Close() error
}

// interrupt is a read deadline in the past: setting it makes a blocked
// stream Read return at once with a timeout, without losing buffered data.
var interrupt = time.Unix(1, 0)

// closeGrace bounds how long Close waits for the server to end a QUIC or
// WebTransport connection after the client ended its stream.
const closeGrace = time.Second

// streamConn is a QUIC or WebTransport Conn: length-prefixed msgpack frames
// on one bidirectional stream, plus datagrams.
//
// Datagrams are merged without a goroutine per message or a channel hop for
// stream frames: the datagram goroutine queues each decoded datagram and
// then interrupts a Recv blocked in the stream read by setting a read
// deadline in the past. Recv clears the deadline before it looks at the
// queue, so a datagram queued after that look always finds the deadline
// set, and FrameReader keeps a partly read frame across the interruption.
type streamConn struct {
	transport    string
	str          byteStream
	fr           *protocol.FrameReader // owned by the Recv caller
	writeTimeout time.Duration
	closeConn    func(code uint64, reason string) error // closes the QUIC connection or WT session
	connDone     <-chan struct{}                        // done when the connection or session ended
	errOf        func(err error) error                  // maps a transport error

	closed    atomic.Bool
	closeOnce sync.Once
	cancel    context.CancelFunc // stops the datagram goroutine
	done      chan struct{}      // closed when the datagram goroutine returned

	wmu  sync.Mutex
	wbuf []byte // frame buffer; guarded by wmu

	dmu     sync.Mutex
	dq      []*protocol.Command // received datagrams, oldest first; guarded by dmu
	dqMax   int
	dropped atomic.Uint64 // datagrams dropped: queue full or undecodable
}

func newStreamConn(transport string, str byteStream, o *Options,
	recvDatagram func(context.Context) ([]byte, error), connDone <-chan struct{},
	closeConn func(uint64, string) error, errOf func(error) error) *streamConn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &streamConn{
		transport:    transport,
		str:          str,
		fr:           protocol.NewFrameReader(str, o.MaxFrameBytes),
		writeTimeout: o.WriteTimeout,
		closeConn:    closeConn,
		connDone:     connDone,
		errOf:        errOf,
		cancel:       cancel,
		done:         make(chan struct{}),
		dqMax:        o.DatagramQueue,
	}
	if recvDatagram == nil { // no datagrams on this connection
		close(c.done)
		return c
	}
	go c.datagrams(ctx, recvDatagram)
	return c
}

func (c *streamConn) Transport() string { return c.transport }
func (c *streamConn) Modern() bool      { return true }

// DroppedDatagrams reports how many datagrams were dropped because the
// queue was full or they did not decode.
func (c *streamConn) DroppedDatagrams() uint64 { return c.dropped.Load() }

func (c *streamConn) datagrams(ctx context.Context, recv func(context.Context) ([]byte, error)) {
	defer close(c.done)
	for {
		b, err := recv(ctx)
		if err != nil {
			return // connection gone or Close: Recv sees it on the stream
		}
		cmd, err := decodeBody(b, true)
		if err != nil {
			c.dropped.Add(1)
			continue
		}
		c.dmu.Lock()
		if len(c.dq) >= c.dqMax {
			c.dq[0] = nil
			c.dq = c.dq[1:]
			c.dropped.Add(1)
		}
		c.dq = append(c.dq, cmd)
		c.dmu.Unlock()
		c.str.SetReadDeadline(interrupt)
	}
}

func (c *streamConn) popDatagram() *protocol.Command {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	if len(c.dq) == 0 {
		return nil
	}
	cmd := c.dq[0]
	c.dq[0] = nil
	c.dq = c.dq[1:]
	if len(c.dq) == 0 {
		c.dq = c.dq[:0:0] // let the backing array go
	}
	return cmd
}

func (c *streamConn) Send(cmd *protocol.Command) error {
	if c.closed.Load() {
		return ErrClosed
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = protocol.AppendMsgpackFrame(c.wbuf[:0], cmd)
	c.str.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	if _, err := c.str.Write(c.wbuf); err != nil {
		return c.mapErr(err)
	}
	if cap(c.wbuf) > 64<<10 {
		c.wbuf = nil
	}
	return nil
}

func (c *streamConn) Recv() (*protocol.Command, error) {
	for {
		c.str.SetReadDeadline(time.Time{})
		if cmd := c.popDatagram(); cmd != nil {
			return cmd, nil
		}
		body, err := c.fr.ReadFrame()
		if err == nil {
			return decodeBody(body, true)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && !c.closed.Load() {
			continue // interrupted by a datagram
		}
		if errors.Is(err, protocol.ErrFrameTooLarge) {
			c.closeConn(uint64(protocol.CloseTooLong), "frame too large")
			return nil, err
		}
		return nil, c.mapErr(err)
	}
}

func (c *streamConn) mapErr(err error) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("wire: %s: stream closed by the server: %w", c.transport, err)
	}
	return c.errOf(err)
}

func (c *streamConn) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.cancel()
		c.str.SetReadDeadline(interrupt)
		// End the stream and give the server a moment to read what was
		// sent and close: closing the connection at once would discard
		// stream data still in flight (the last acks, say).
		c.wmu.Lock()
		c.str.SetWriteDeadline(time.Now().Add(closeGrace))
		c.str.Close()
		c.wmu.Unlock()
		t := time.NewTimer(closeGrace)
		select {
		case <-c.connDone:
		case <-t.C:
		}
		t.Stop()
		c.closeConn(uint64(protocol.CloseNormal), "")
	})
	<-c.done
	return nil
}

// quicErr maps a quic-go error: an application close becomes a
// *protocol.CloseError with the same code and reason.
func quicErr(err error) error {
	var ae *quic.ApplicationError
	if errors.As(err, &ae) && ae.Remote {
		return &protocol.CloseError{Code: protocol.CloseCode(ae.ErrorCode), Reason: ae.ErrorMessage}
	}
	return fmt.Errorf("wire: quic: %w", err)
}

// wtErr maps a webtransport-go error: a session closed by the server with a
// code becomes a *protocol.CloseError.
func wtErr(err error) error {
	var se *webtransport.SessionError
	if errors.As(err, &se) && se.Remote {
		return &protocol.CloseError{Code: protocol.CloseCode(se.ErrorCode), Reason: se.Message}
	}
	var ae *quic.ApplicationError
	if errors.As(err, &ae) && ae.Remote && ae.ErrorCode != 0 {
		return &protocol.CloseError{Code: protocol.CloseCode(ae.ErrorCode), Reason: ae.ErrorMessage}
	}
	return fmt.Errorf("wire: webtransport: %w", err)
}

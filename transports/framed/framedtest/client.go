// Package framedtest is a Go client of the framed stream protocol (raw
// QUIC and WebTransport) for tests: a transporttest.ClientConn over any
// stream, given how its connection ends.
//
// Concurrency: as transporttest.ClientConn; Send may run beside Recv.
//
// Imports: protocol, transports/transporttest, the standard library.
package framedtest

import (
	"errors"
	"io"
	"sync"
	"time"

	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/transports/transporttest"
)

// Stream is the client's side of its bidirectional stream.
type Stream interface {
	io.Reader
	io.Writer
	Close() error // FIN
	SetWriteDeadline(t time.Time) error
}

// Ends describes the client's connection (QUIC connection or WT session).
type Ends struct {
	// Done is closed when the connection has ended.
	Done <-chan struct{}
	// Err returns why the connection ended, once Done is closed: the
	// server's close as the transport's error type (see MapErr).
	Err func() error
	// MapErr turns a transport error into a *protocol.CloseError when it
	// carries the server's close code, and returns it unchanged otherwise.
	MapErr func(error) error
	// Abort drops the connection without the orderly FIN exchange.
	Abort func()
	// Release frees the connection and its socket after it ended.
	Release func()
}

// Client is one test connection.
type Client struct {
	str  Stream
	ends Ends
	fr   *protocol.FrameReader
	*transporttest.Puller

	wmu sync.Mutex // serializes Send/SendRaw
	buf []byte     // guarded by wmu

	once sync.Once
}

var _ transporttest.ClientConn = (*Client)(nil)

// wait bounds the waits of Close and of the close code after EOF.
const wait = 10 * time.Second

// New returns a client over str. The client's first frame makes the
// stream visible to the server.
func New(str Stream, ends Ends) *Client {
	c := &Client{str: str, ends: ends, fr: protocol.NewFrameReader(str, 16<<20)}
	c.Puller = transporttest.NewPuller(c.read)
	return c
}

func (c *Client) read() (*protocol.Command, error) {
	body, err := c.fr.ReadFrame()
	if err == nil {
		cmd := new(protocol.Command)
		return cmd, protocol.DecodeMsgpack(body, cmd)
	}
	if errors.Is(err, io.EOF) {
		// The server ended its side: answer with ours and learn the code
		// from the connection close.
		c.str.Close()
		select {
		case <-c.ends.Done:
			err = c.ends.Err()
		case <-time.After(wait):
			return nil, errors.New("framedtest: stream ended but the connection stayed open")
		}
	}
	return nil, c.ends.MapErr(err)
}

// Send implements transporttest.ClientConn.
func (c *Client) Send(cmd *protocol.Command) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.buf = protocol.AppendMsgpackFrame(c.buf[:0], cmd)
	return c.write(c.buf)
}

// SendRaw implements transporttest.ClientConn: b is sent as one frame body.
func (c *Client) SendRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.buf = protocol.AppendFrame(c.buf[:0], b)
	return c.write(c.buf)
}

// WriteRaw writes b to the stream exactly as given (no length prefix).
func (c *Client) WriteRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.write(b)
}

// write sends b. A write cut short by the server's close is not an error:
// Recv reports the close (the server may close before reading a frame it
// refuses, such as an oversize one).
func (c *Client) write(b []byte) error {
	c.str.SetWriteDeadline(time.Now().Add(wait))
	_, err := c.str.Write(b)
	if err != nil {
		var ce *protocol.CloseError
		if errors.As(c.ends.MapErr(err), &ce) {
			return nil
		}
	}
	return err
}

// Close implements transporttest.ClientConn: FIN, wait for the server to
// close the connection, release it.
func (c *Client) Close() error {
	c.once.Do(func() {
		c.Puller.Stop()
		c.str.Close()
		select {
		case <-c.ends.Done:
		case <-time.After(wait):
		}
		c.ends.Release()
	})
	return nil
}

// Abort implements transporttest.ClientConn.
func (c *Client) Abort() error {
	c.once.Do(func() {
		c.Puller.Stop()
		c.ends.Abort()
		c.ends.Release()
	})
	return nil
}

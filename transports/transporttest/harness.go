// Package transporttest is the conformance suite every rtgate transport
// runs. The suite starts its own core.Hub over the in-memory store, asks the
// transport under test (a Harness) to serve that hub and to dial client
// connections to it, and checks the behaviour the core and the v1 protocol
// expect of any transport: order, close codes, limits, slow consumers,
// dropped sockets and shutdown.
//
// A transport plugs in by implementing Harness in its own tests:
//
//	func TestConformance(t *testing.T) {
//		transporttest.Run(t, myHarness{})
//	}
//
// Scenarios wait on events (a reply, a close, a keepalive round trip as an
// order barrier), never on sleeps.
//
// Concurrency: a ClientConn is used by one test goroutine at a time, except
// that scenarios may Send on one ClientConn while another is read.
//
// Imports: core, protocol, storage/memory, the standard library and the
// prometheus client model (to read the hub's counters).
package transporttest

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/protocol"
)

// Options is what the suite asks of the server side of a transport. Serve
// must apply them exactly; 0 never occurs.
type Options struct {
	// MaxFrameBytes is the inbound frame limit (4109 above it).
	MaxFrameBytes int
	// QueueBytes is the outbound queue budget of one connection (4201 above
	// it).
	QueueBytes int
	// Registry, when not nil, must receive the transport's Prometheus
	// collectors (its Collectors method): the slow-consumer scenarios read
	// the outbound queue's *_queue_drops_total and
	// *_queue_slow_consumers_total counters from it.
	Registry *prometheus.Registry
}

// Harness is the transport under test.
//
// Rate limits: scenarios send bursts of a few thousand commands per
// second on one connection; a transport with flood protection must set it
// out of the way in Serve.
type Harness interface {
	// Modern reports whether the transport's clients speak a modern
	// dialect (`error` replies) rather than v1 legacy (close codes).
	Modern() bool
	// Serve starts serving hub with opts and returns an address for Dial.
	// The server stops when t ends (register t.Cleanup); the suite shuts
	// the hub down first.
	Serve(t testing.TB, hub *core.Hub, opts Options) (addr string)
	// Dial opens a client connection to addr.
	Dial(t testing.TB, addr string) (ClientConn, error)
}

// ClientConn is the client side of one connection, speaking the
// transport's framing and codec.
type ClientConn interface {
	// Send encodes and sends one command.
	Send(c *protocol.Command) error
	// SendRaw sends b as one frame, exactly as given (the suite uses it for
	// malformed and oversize frames).
	SendRaw(b []byte) error
	// Recv returns the next command. It returns ErrTimeout when none
	// arrives within timeout (a later Recv may still return it), a
	// *protocol.CloseError when the server closed the connection with a
	// code, and any other error when the connection failed. The client must
	// read from the network only inside Recv (or a read Recv started): a
	// client that stops calling Recv must stop reading, so that the server
	// sees it as a slow consumer. Puller implements this for blocking
	// readers.
	Recv(timeout time.Duration) (*protocol.Command, error)
	// Close ends the connection in an orderly way.
	Close() error
	// Abort drops the connection abruptly, without any close handshake,
	// as a lost network would.
	Abort() error
}

// ErrTimeout is returned by ClientConn.Recv when nothing arrived in time.
var ErrTimeout = errors.New("transporttest: timeout")

// Puller turns a blocking read function into ClientConn.Recv semantics: a
// read starts only when Recv asks for one, at most one read is in flight,
// and a read that outlives a Recv timeout is delivered to the next Recv.
// Once read fails, every later Recv returns that error.
type Puller struct {
	read    func() (*protocol.Command, error)
	want    chan struct{}
	got     chan pulled
	waiting bool  // a read was requested and not yet delivered
	err     error // terminal error
}

type pulled struct {
	c   *protocol.Command
	err error
}

// NewPuller returns a Puller over read, which blocks until a command
// arrives or the connection fails. Its goroutine ends after read fails or
// Stop.
func NewPuller(read func() (*protocol.Command, error)) *Puller {
	p := &Puller{read: read, want: make(chan struct{}), got: make(chan pulled, 1)}
	go p.loop()
	return p
}

func (p *Puller) loop() {
	for range p.want {
		c, err := p.read()
		p.got <- pulled{c, err}
		if err != nil {
			return
		}
	}
}

// Recv implements ClientConn.Recv.
func (p *Puller) Recv(timeout time.Duration) (*protocol.Command, error) {
	if p.err != nil {
		return nil, p.err
	}
	if !p.waiting {
		p.want <- struct{}{}
		p.waiting = true
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-p.got:
		p.waiting = false
		if r.err != nil {
			p.err = r.err
			close(p.want)
		}
		return r.c, r.err
	case <-t.C:
		return nil, ErrTimeout
	}
}

// Stop ends the Puller's goroutine once its read in flight (if any)
// returns; the caller closes the connection so that it does.
func (p *Puller) Stop() {
	if p.err == nil {
		p.err = errors.New("transporttest: puller stopped")
		close(p.want)
	}
}

package flashpolicy

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"syscall"
)

// Listener wraps ln (the plain TCP listener of the HTTP/WebSocket port,
// under any TLS listener) so that a Flash policy request on that port is
// answered: the first Read of each accepted connection checks the first
// byte it returns; `<` (no HTTP method or TLS record starts with it) makes
// the connection a policy exchange, answered and closed, and the Read
// returns io.EOF, which net/http takes as a client that went away. Any other
// byte is returned to the caller as read: nothing is buffered or replayed.
//
// Accept never waits for a client's first byte: the check runs in the
// connection's first Read, on the goroutine net/http runs for it, under the
// deadline net/http set (ReadHeaderTimeout); the rest of a policy request
// is read under Config.Timeout.
func (s *Server) Listener(ln net.Listener) net.Listener { return &sniffListener{Listener: ln, s: s} }

type sniffListener struct {
	net.Listener
	s *Server
}

// Accept implements net.Listener.
func (l *sniffListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &sniffConn{Conn: c, s: l.s}, nil
}

// sniffConn is an accepted connection whose first Read is checked for a
// policy request.
type sniffConn struct {
	net.Conn
	s       *Server
	sniffed atomic.Bool // the first data was seen (set by the first Read that returned bytes)
	policy  atomic.Bool // it was a policy request: the conn is done
}

// Read implements net.Conn.
func (c *sniffConn) Read(p []byte) (int, error) {
	if c.sniffed.Load() {
		if c.policy.Load() {
			return 0, io.EOF
		}
		return c.Conn.Read(p)
	}
	n, err := c.Conn.Read(p)
	if n == 0 {
		return n, err
	}
	c.sniffed.Store(true)
	if p[0] != '<' {
		return n, err
	}
	c.policy.Store(true)
	c.s.serveConn(c.Conn, p[:n], "sniff")
	return 0, io.EOF
}

// NetConn returns the wrapped connection.
func (c *sniffConn) NetConn() net.Conn { return c.Conn }

// SyscallConn returns the wrapped socket's syscall.RawConn, so that code
// waiting for readability on the raw socket (the WebSocket transport's
// shallow idle reader) works through this wrapper. It is exact because a
// sniffConn never buffers: every byte it has read was returned to its
// caller.
func (c *sniffConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errNoSyscallConn
	}
	return sc.SyscallConn()
}

var errNoSyscallConn = errors.New("flashpolicy: wrapped connection has no syscall.RawConn")

package ws

import (
	"net"
	"syscall"
)

// The writer's non-blocking write (conn.tryWrite) goes through the
// socket's syscall.RawConn; a conn without one (TLS, a wrapped conn)
// writes from a writer goroutine only.

// rawConn returns the socket's syscall.RawConn, or nil (TLS or a wrapped
// conn).
func rawConn(c net.Conn) syscall.RawConn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

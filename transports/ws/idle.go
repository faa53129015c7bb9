package ws

import (
	"net"
	"syscall"
)

// An idle reader parked deep in a read (frameReader → net.Conn Read →
// poller) keeps the stack its frames' handling grew, 8 KiB. When the
// frame reader has nothing buffered the reader instead waits for the
// socket to become readable on a fresh goroutine in a shallow frame (see
// conn.serve): 2 KiB.

// rawConn returns the socket's syscall.RawConn, or nil (TLS or a wrapped
// conn: no shallow wait).
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

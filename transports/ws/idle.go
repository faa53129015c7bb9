package ws

import (
	"bufio"
	"reflect"
	"syscall"

	"github.com/gorilla/websocket"
)

// An idle reader parked deep inside gorilla (NextReader → bufio → net.Conn
// Read → poller) keeps a stack of 8 KiB, the largest per-connection cost
// once the connection has no writer. When gorilla's read buffer is empty
// the reader instead waits for the socket to become readable on a fresh
// goroutine in a shallow frame (see conn.serve): 2 KiB.

// gorillaReader returns the websocket.Conn's buffered reader, or nil if
// this version of gorilla has none where expected (then the reader always
// waits inside gorilla, which is correct, only larger).
func gorillaReader(ws *websocket.Conn) *bufio.Reader {
	f := reflect.ValueOf(ws).Elem().FieldByName("br")
	if !f.IsValid() || f.Type() != reflect.TypeFor[*bufio.Reader]() {
		return nil
	}
	return (*bufio.Reader)(f.UnsafePointer())
}

// rawConn returns the socket's syscall.RawConn, or nil (TLS or a wrapped
// conn: no shallow wait).
func rawConn(ws *websocket.Conn) syscall.RawConn {
	sc, ok := ws.UnderlyingConn().(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

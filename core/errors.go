package core

import "errors"

// Errors a Conn returns from Write.
var (
	// ErrSlowConsumer is returned by Conn.Write when the connection's
	// outbound queue is full; the conn has closed itself with
	// protocol.CloseSlowConsumer. Returned once; later writes get
	// ErrConnClosed.
	ErrSlowConsumer = errors.New("core: slow consumer")
	// ErrConnClosed is returned by Conn.Write after the connection closed.
	ErrConnClosed = errors.New("core: connection closed")
)

// Errors of the hub.
var (
	ErrHubClosed = errors.New("core: hub shut down")
)

package client

import (
	"errors"
	"fmt"
)

// Errors of the package.
var (
	// ErrClosed is returned by every method after Client.Close.
	ErrClosed = errors.New("client: closed")
	// ErrSessionClosed is returned by the methods of a closed Session.
	ErrSessionClosed = errors.New("client: session closed")
	// ErrSessionExists is returned by Open for a peer already open on the
	// Client.
	ErrSessionExists = errors.New("client: session already open")
	// ErrConnLost is returned by a request whose connection was lost
	// before the reply came. A persistent message may or may not have
	// been stored.
	ErrConnLost = errors.New("client: connection lost before the reply")
	// ErrTimeout is returned by a request without a reply within
	// Config.RequestTimeout (or its context's deadline).
	ErrTimeout = errors.New("client: request timed out")
)

// ServerError is an `error` reply of a modern dialect.
type ServerError struct {
	Code   int
	Reason string
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("client: server error %d: %s", e.Code, e.Reason)
}

// RejectError is a `room reject` reply: the server refused a group
// operation.
type RejectError struct {
	RoomID string
	Peers  []string // targets of the refused operation
}

func (e *RejectError) Error() string {
	return fmt.Sprintf("client: group operation on %q rejected (targets %v)", e.RoomID, e.Peers)
}

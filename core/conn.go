package core

import "github.com/rtgate/rtgate/protocol"

// ConnInfo describes a connection; it does not change after Connect.
type ConnInfo struct {
	// Transport names the transport: "ws", "longpoll", "quic",
	// "webtransport", or "mem" in tests.
	Transport string
	// Modern is true for the negotiated dialects (rtgate.json.1,
	// rtgate.msgpack.1, QUIC, WebTransport): recoverable errors are
	// answered with an `error` command instead of closing the connection.
	// False is the v1 legacy dialect: no `error` command ever.
	Modern bool
	// RemoteAddr is the client's address (ip:port), for logs and history.
	RemoteAddr string
}

// Conn is the transport seam: the core's only way to reach a client.
//
// Write encodes c before it returns (the caller may reuse c) and queues the
// bytes; it never blocks. What happens when the queue has no room depends
// on ClassOf(c): a reply or a message closes the conn with
// protocol.CloseSlowConsumer and Write returns ErrSlowConsumer; a presence
// event is coalesced or dropped (oldest first) and Write returns nil.
// Close ends the connection with a close code; it is safe to call from any
// goroutine, more than once, and does not wait. After either, the
// transport's reader returns and calls Client.Disconnect.
type Conn interface {
	Write(c *protocol.Command) error
	Close(code protocol.CloseCode, reason string)
	Info() ConnInfo
}

// Class is how a transport's outbound queue treats a frame it has no room
// for; ClassOf tells it for each command the core writes.
type Class uint8

const (
	// ClassReply is an answer to the client's own command (opened, ack,
	// error, `{}`...). No room: the connection closes as a slow consumer.
	ClassReply Class = iota
	// ClassMessage is delivered on behalf of another session: a direct
	// message, a receipt, a room event. No room: the connection closes as
	// a slow consumer (persistent messages stay in the inbox).
	ClassMessage
	// ClassPresence is a presence event. No room: a queued event for the
	// same watcher and peer is replaced by the newer one, or the oldest
	// queued presence events are dropped; the connection stays open.
	ClassPresence
)

// ClassOf returns the class of a command the core writes.
func ClassOf(c *protocol.Command) Class {
	switch c.Kind {
	case protocol.KindPresence:
		return ClassPresence
	case protocol.KindDirect, protocol.KindRcp, protocol.KindAckReq,
		protocol.KindRoomInvited, protocol.KindRoomKicked,
		protocol.KindRoomMembersJoined, protocol.KindRoomMembersLeft:
		return ClassMessage
	}
	return ClassReply
}

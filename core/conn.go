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
// bytes; it never blocks. When the queue is over its byte budget the conn
// closes itself with protocol.CloseSlowConsumer and returns ErrSlowConsumer.
// Close ends the connection with a close code; it is safe to call from any
// goroutine, more than once, and does not wait. After either, the
// transport's reader returns and calls Client.Disconnect.
type Conn interface {
	Write(c *protocol.Command) error
	Close(code protocol.CloseCode, reason string)
	Info() ConnInfo
}

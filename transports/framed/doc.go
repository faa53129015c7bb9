// Package framed runs one rtgate connection over a framed byte stream: the
// machinery shared by the raw QUIC (ALPN rtgate/1) and WebTransport
// transports. The client opens one bidirectional stream; each direction
// carries frames of protocol.AppendFrame (QUIC varint length + one msgpack
// command). Transient direct messages may also leave as datagrams (one
// msgpack command, no length prefix) when the client asked for them and
// nothing else is queued for the connection (behind queued frames they go
// on the stream, batched: one packet for many).
//
// A transport accepts its connection and stream, wraps them in a Stream and
// a Session, and calls Serve, which blocks for the connection's life:
//
//	c := framed.New(str, sess, info, opts)
//	c.Serve(ctx, hub) // ctx: the QUIC connection's or WT session's context
//
// Concurrency: Serve's goroutine is the reader: it owns the stream's read
// side, decodes frames and calls core.Client.Handle in order, and at the
// end calls core.Client.Disconnect once and waits for the writer. The
// writer goroutine (started by Serve) is the only one that writes to the
// stream, sends datagrams or closes the session. core.Conn.Write (any
// goroutine) encodes at once into the outbound queue (internal/outq) and
// wakes the writer; Close (any goroutine) is idempotent and non-blocking.
// The reader pauses while its own queue is over half full, so a client
// pipelining requests without reading replies is slowed down, while
// deliveries from other sessions never block (over budget: 4201 for
// replies and messages; presence events are coalesced or dropped).
//
// Closing: the writer flushes what was queued before Close (except for a
// slow consumer), ends its direction of the stream (FIN), waits up to
// Options.CloseGrace for the client's FIN, and then closes the QUIC
// connection or WT session with the close code as the application error
// code and the reason as its message. Clients learn the code from the
// connection/session close, after having read every frame.
//
// Imports: core, protocol, transports/internal, the prometheus client and
// the standard library; nothing QUIC-specific (the transports adapt their
// streams).
package framed

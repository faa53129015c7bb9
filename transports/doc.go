// Package transports groups rtgate's client transports. Each subpackage
// accepts client connections of one kind, wraps each in a core.Conn, hands
// it to core.Hub.Connect and feeds the decoded commands to the returned
// core.Client from one reader goroutine:
//
//	ws/            WebSocket: v1 legacy JSON (no subprotocol), rtgate.json.1,
//	               rtgate.msgpack.1 (an http.Handler)
//	longpoll/      HTTP long-poll: v1 legacy and rtgate.json.1 (an http.Handler)
//	quic/          raw QUIC, ALPN "rtgate/1", and the shared UDP listener
//	webtransport/  HTTP/3 WebTransport, served by quic's listener
//	framed/        one connection over a framed stream: raw QUIC's and
//	               WebTransport's shared reader and writer
//	internal/      pieces every transport shares (the outbound queue, the
//	               flood limit)
//
// Every transport follows the same contract (the "acceptor" shape):
//
//   - one reader per connection calls core.Client.Handle for each frame, in
//     order, and core.Client.Disconnect exactly once when the connection
//     ends; frames the codec refuses go to core.Client.BadFrame;
//   - a *protocol.CloseError returned by Handle or BadFrame closes the
//     connection with that code and reason;
//   - core.Conn.Write encodes at once and queues into the connection's
//     outbound queue (internal/outq: one component for every transport)
//     drained by exactly one writer; it never blocks; over budget a reply
//     or message closes the connection with protocol.CloseSlowConsumer and
//     presence events are coalesced or dropped oldest first, counted per
//     reason in *_queue_drops_total and *_queue_slow_consumers_total;
//   - every input is bounded before it is buffered (protocol frame limit),
//     every write has a deadline.
//
// Package transporttest is the conformance suite every transport runs: it
// starts a core.Hub over the in-memory store and drives it through the
// transport's own client side (a transporttest.Harness).
//
// Imports: transports import core and protocol, never each other, never a
// concrete store (tests excepted).
package transports

// Package client is the rtgate Go SDK for native apps, bots and tools: the
// concepts of the 2014 Android and iOS SDKs (sessions for several peers on
// one connection, watch lists and presence, persistent and transient
// messages with acks and receipts, groups, automatic pause/resume) over
// any rtgate transport, in idiomatic Go.
//
//	c, _ := client.New(client.Config{URL: "quic://127.0.0.1:4433", AppID: "dev", Handler: h})
//	defer c.Close()
//	s, _ := c.Open(ctx, "alice", "bob")             // open + watch bob
//	sent, _ := s.Send(ctx, []string{"bob"}, "hi", client.SendOptions{})
//
// The low-level layer is package client/wire (Dial by URL scheme, one
// Conn per connection); Client adds:
//
//   - Request/reply matching. Each request carries a serial `i` that the
//     server echoes; replies without `i` (legacy v1 servers) are matched
//     FIFO by kind, as the v1 JS client did. Every request waits at most
//     Config.RequestTimeout (10 s). Modern dialects report failures as
//     *ServerError; the legacy dialect has no error reply (the server
//     closes the connection, which fails the request with ErrConnLost).
//   - Reliable delivery. Each persistent message is acknowledged after
//     Handler.OnMessage returned, and ids already handled (a bounded set of
//     the last Config.DedupeSize) are dropped and re-acknowledged, so a
//     message redelivered after a lost connection or a lost ack reaches
//     the Handler once. Sending, in the modern dialects: each persistent
//     message carries a client id (SendOptions.ID, random unless given),
//     and a Send whose connection is lost before the ack is sent again on
//     the next connection; the server acks a repeat with the first
//     message's id and stores and delivers it once, so the message is
//     neither lost nor duplicated, within RequestTimeout. A Send that
//     fails (ErrTimeout) may still have been stored: sending it again with
//     the same SendOptions.ID within the server's dedupe window (10 min)
//     is safe. In the legacy dialect (CodecLegacy) the server does not
//     dedupe, and such a Send fails with ErrConnLost.
//   - Reconnection. When the connection is lost every open session is
//     paused (Handler.OnPaused), requests in flight fail with ErrConnLost
//     (except persistent sends and other requests safe to repeat, which
//     are sent again),
//     and the client reconnects with exponential backoff and jitter
//     (Config.Reconnect) and re-opens every session with its full watch
//     list (Handler.OnResumed, then OnOffline/OnOnline for what changed
//     meanwhile). Requests made while paused wait for the resumption
//     within their timeout. An open the server refuses (close 4108, 4103,
//     4100, or an error reply) ends that session instead.
//
// Concurrency: a Client owns one connection goroutine, which dials, reads
// every frame and routes it (per connection it also runs a re-open helper
// and a keepalive ticker), and one event goroutine, which runs the Handler
// methods one at a time in the order the events happened. Session and
// Client methods are safe for concurrent use, Handler methods included,
// except that Client.Close, which waits for both goroutines, must not be
// called from a Handler method.
//
// Imports: protocol, client/wire and the standard library (wire brings the
// WebSocket, QUIC and WebTransport libraries). Never core, storage or
// transports.
package client

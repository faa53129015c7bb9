// Package ws is rtgate's WebSocket transport: an http.Handler that upgrades
// requests (the handshake is gorilla/websocket's) and connects each socket
// to a core.Hub. After the handshake the connection reads and writes RFC
// 6455 frames itself (framereader.go, conn.go): gorilla's Conn is dropped.
//
// Dialects, chosen at the upgrade from Sec-WebSocket-Protocol:
//
//	(none)            v1 legacy: JSON text frames exactly as the 2014 clients
//	                  speak them; failures are close codes (ConnInfo.Modern false)
//	rtgate.json.1     modern JSON text frames, `error` replies
//	rtgate.msgpack.1  modern msgpack binary frames, `error` replies
//
// A client offering only other subprotocols is refused with 400. Mount the
// handler on any path:
//
//	h := ws.New(hub, ws.Config{AllowedOrigins: []string{"https://chat.example.org"}})
//	prometheus.MustRegister(h.Collectors()...)
//	mux.Handle("/", h)
//	...
//	hub.Shutdown(ctx) // every socket gets 1001
//	h.Wait()          // every connection goroutine has returned
//
// Concurrency: ServeHTTP returns right after the upgrade (it saves about
// 14 KiB per connection). Each connection then has a reader goroutine,
// which owns the connection — it decodes frames, calls core.Client.Handle
// in order, and at the end waits for the writer, closes the socket and
// calls core.Client.Disconnect once — and, only while frames are queued, a
// writer goroutine, the only goroutine that writes to the socket.
// core.Conn.Write (any goroutine) encodes the command into the outbound
// queue (internal/outq), which starts the writer if none runs (at most
// one at a time), which hands the whole queue to the socket in one write
// with a deadline and returns when the queue is empty; an idle connection
// has no writer goroutine. Modern dialects' pings come from a timer.
// The reader, too, sheds its stack while idle: when its frame reader has
// nothing buffered after a frame it hands over to a fresh goroutine that waits for the
// socket to become readable (RawConn, MSG_PEEK on Linux) in a shallow frame
// and then reads on, so an idle connection is one 2 KiB stack (see
// idle.go). Exactly one goroutine is the reader at a time.
// The writer builds frames itself (server frames are unmasked: a 2–10 byte
// header and the payload), so a burst of N frames costs one write(2), not
// N as with gorilla's NextWriter; pongs and pings go through the same
// queue. A client frame that breaks RFC 6455 (unmasked, reserved bits or
// opcodes, a bad fragment sequence or close frame) closes with 1002 (1007
// for a close reason that is not UTF-8), and nothing more is read.
// Close (any goroutine) is idempotent and non-blocking; the close frame
// follows the frames already queued, except for a slow consumer whose queue
// is dropped. Handler.wg counts connections; each reader waits for its
// writer.
//
// Limits: a message over Config.MaxFrameBytes (fragments added up) closes
// with 4109 before it is buffered; a connection over its token bucket
// closes with 1008 "flood"; a reply or message that finds the outbound
// queue full closes with 4201 (presence events are coalesced or dropped
// instead); the reader pauses while its own queue is over half full.
//
// Imports: core, protocol, transports/internal, internal/origin,
// gorilla/websocket (the handshake), the prometheus client and the
// standard library.
package ws

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
// calls core.Client.Disconnect once. core.Conn.Write (any goroutine)
// encodes the command into the outbound queue (internal/outq); when no
// writer runs, the pushing goroutine becomes the writer and hands the
// queue to the socket with one non-blocking write (conn.wake). Only what
// the socket does not take at once, a close, or a connection that keeps
// its writer busy gets a writer goroutine, which writes with a deadline
// and returns when the queue is empty: no caller ever blocks on a
// socket, and an idle connection has no writer goroutine. Modern
// dialects' pings come from a timer.
// The reader parks in the socket read between frames, as a relay does
// (no readiness probe, no deadline move per frame: its read deadline is
// kept Config.IdleHandover ahead and moved at most every half of it).
// When that deadline passes while it waits for a new frame, the reader
// hands over to a fresh goroutine that waits under the client's own
// deadline in a shallow frame, so an idle connection is one 2 KiB stack
// (see reader.go). Exactly one goroutine is the reader at a time.
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

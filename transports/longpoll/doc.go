// Package longpoll is rtgate's HTTP long-poll transport, for browsers and
// networks without WebSocket. It plugs into the same core.Hub as the other
// transports and loses nothing when an HTTP response is lost: every frame
// carries a sequence number and stays buffered on the server until the
// client acknowledges it, and every command the client sends carries a
// client sequence number the server de-duplicates. spec/longpoll.md is the
// long form, for SDK authors.
//
// Endpoints (relative to the mount prefix, e.g. /lp/):
//
//	POST open               {"dialect":"v1"|"rtgate.json.1"} (optional)
//	                        -> {"sid","dialect","pingInterval","pingTimeout","maxPayload"}
//	POST send?sid=S         [{"cseq":N,"d":<command>},...] -> {"ack":lastCseq}
//	GET  poll?sid=S&ack=N   -> {"frames":[{"seq":N,"d":<command>},...],
//	                            "close":{"code","reason"}?, "ping":true?}
//	POST close?sid=S        -> {}
//
// The v1 dialect (the default) keeps v1 legacy semantics (failures close
// the session with a code); rtgate.json.1 answers recoverable failures
// with `error` commands. Commands are the JSON objects of the WebSocket
// transport, unchanged.
//
// Delivery: a poll acknowledges every frame up to ack; the server drops
// those and answers the rest (at most maxPayload bytes), so a retried poll
// with the same ack gets the same frames and the client drops duplicates
// by seq. A send applies, in order, the items whose cseq follows the last
// applied one and skips the others, so a retried send applies nothing
// twice. Buffered frames are bounded by count and bytes, acknowledged or
// not (internal/outq): a reply or message over the bound closes the
// session with 4201 (slow consumer); presence events are coalesced or
// dropped oldest first.
//
// Concurrency contract: a session holds at most one poll; a newer poll
// replaces the held one, which is answered with an empty batch (never with
// frames another request also gets). Sends of one session take turns on a
// one-slot semaphore, which makes the sender of the moment the session's
// only reader: it alone calls core.Client.Handle/BadFrame, and the finish
// goroutine started by a close takes the same turn to call Disconnect once.
// core.Conn.Write (session.Write) encodes under the session mutex and never
// blocks. Locks: Handler.mu (the sid table) and session.mu are never held
// together; the turn is taken before session.mu, never while holding it.
// Timers: one per session
// (expiry after PollTimeout+PingTimeout without a poll; linger of a closed
// session). Every request has its own read/write deadlines set through
// http.ResponseController, so the server needs no global WriteTimeout.
//
// Cluster: with Config.Forward, a session id names its node
// ("<node>~<hex>") and any node serves any session: a request for another
// node's session is carried to it by cluster request/reply
// (forward.go) and answered as it answers there, so the sequence numbers
// keep it ordered, loss-free and duplicate-free end to end; 410
// (node_gone) when that node is gone.
//
// Imports: core, protocol, cluster (the Forwarder interface),
// internal/origin, the standard library and the Prometheus client.
package longpoll

// Package core is rtgate's transport-agnostic state machine: apps, sessions
// (several peers per connection, several connections per peer), watch sets
// and presence, direct and group routing, persistent delivery with acks and
// redelivery, receipts and signature checks.
//
// A transport accepts a connection, wraps it in a Conn and calls
// Hub.Connect. Its reader goroutine then decodes frames and hands each
// *protocol.Command to Client.Handle, in order, and calls Client.Disconnect
// once when the connection has ended. The core never reads from a
// transport: it writes through Conn.Write, which must not block.
//
// Concurrency: a Client's session table is owned by the transport's reader
// goroutine (the only caller of Handle and Disconnect). Shared state — the
// peer registry and the watchers index — is sharded, each shard guarded by
// its own mutex; presence events are written while the shard of the peer
// that changed is held, so they leave in the order the transitions
// happened. While the reader builds `opened` or `added`, pushes to that
// session (presence, live messages, group events, receipts) queue in the
// session and are written right after the reply (gate.go). Lock order: a
// registry shard, then a session's mu; never two shards at once. Storage calls are made without any core lock held.
//
// Imports: protocol, storage (interfaces only), the standard library and the
// prometheus client. Never a transport, never a concrete store.
package core

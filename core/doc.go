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
// its own mutex. Presence events come from one ordered source, the
// cluster.Presence's transition stream (in process on a single node): the
// hub registers a peer's first and unregisters its last session on this
// node, and writes the events the Presence hands back to the watchers,
// outside the registry's shard locks. Frames for peers held by other nodes
// go through the cluster.Deliverer, one Delivery per node (cluster.go).
// While the reader builds `opened` or `added`, pushes to that session
// (presence, live messages, group events, receipts) queue in the session
// and are written right after the reply (gate.go). The reader holds its
// Client's own mutex while it handles a command, so that an operator's
// Hub.CloseSession, from another goroutine, ends one session between two
// commands. Lock order: a Client's own, then a cluster.Local stripe, then
// a registry shard, then a session's mu; never two shards, never two
// Clients' own at once. Storage and cluster calls are made without any core
// lock held.
//
// Imports: protocol, storage and cluster (interfaces, and cluster.Local as
// the single-node default), the standard library and the prometheus
// client. Never a transport, never a concrete store.
package core

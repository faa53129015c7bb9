// Package opsview is the operator's view of a cluster: each node answers
// status requests on <ns>.svc.status (every node, no queue group) with its
// own figures, and Collect gathers those answers together with the health
// of the JetStream assets (streams, buckets and their consumers: replicas,
// leader, replica lag, pending messages). Kicks (a peer's connections, or
// its sessions alone, or one session) go to the nodes that hold the peer,
// each on its own control subject: Kick sends them through the caller's
// transport and HandleKick answers them on a node.
//
// Concurrency: Serve's handler runs in the NATS subscription's goroutine;
// Collect and Kick are safe for concurrent use. Neither owns the
// connection.
//
// Imports: the standard library and nats.go.
package opsview

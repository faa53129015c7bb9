// Package opsview is the operator's view of a cluster: each node answers
// status requests on <ns>.svc.status (every node, no queue group) with its
// own figures, and Collect gathers those answers together with the health
// of the JetStream assets (streams, buckets and their consumers: replicas,
// leader, replica lag, pending messages).
//
// Concurrency: Serve's handler runs in the NATS subscription's goroutine;
// Collect is safe for concurrent use. Neither owns the connection.
//
// Imports: the standard library and nats.go.
package opsview

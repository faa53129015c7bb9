// Package cluster is the seam between one rtgate node's core and the other
// nodes of a cluster. It holds five small interfaces and an in-process
// implementation of each:
//
//   - Deliverer carries a batch of frames to the node that holds their
//     recipients, and hands this node's batches to one subscriber.
//   - Presence records which nodes hold a peer's sessions (a node
//     registers its 0→1 and unregisters its 1→0 transitions) and reports
//     the cluster-wide on/off transitions of every peer, in one order that
//     every node sees alike.
//   - OpenGroups records which nodes hold sessions in which open
//     (transient) groups, so that an open group's message goes to the
//     nodes hosting its members and its online count is cluster-wide;
//     Rejoins keeps the open group of a peer whose session ended, so that
//     it rejoins it when it opens again on any node.
//   - Forwarder is node-to-node request/reply (long-poll requests that
//     reach a node other than the session's owner).
//
// Local is the in-process implementation: every node of a Local lives in
// one process (a single node in production, several in tests). The NATS
// implementation lives in cluster/natsbus; cluster/clustertest is the
// conformance suite both pass.
//
// Concurrency: every method of every interface is safe for concurrent
// use. Handlers given to Subscribe, Watch and Serve may be called from any
// goroutine; a Presence calls its Watch handler for one peer's transitions
// one at a time, in transition order, and never with a lock of the caller
// held.
//
// Imports: the standard library only.
package cluster

// Package histindex answers history queries on a cluster: the history
// indexer and its client.
//
// An Indexer runs on the nodes given the history indexer role (one or
// two per cluster). It reads the history stream RT_HIST (storage/jetstream)
// with one durable pull consumer of its own, hist-idx-<node name>, and
// feeds every message into a storage/badger Store in its own directory,
// history only (no inboxes): the same code that keeps a single node's
// history, so that its pages are the same. It answers queries and deletes
// over NATS request/reply on <ns>.svc.hist in queue group "hist", so that
// each request reaches one indexer.
//
// Progress: messages are applied in stream order, a batch at a time, and
// the batch's last message is acknowledged (AckAll) once the Badger writes
// of the batch are durable; the consumer's ack floor is the indexer's
// progress. A restart resumes from it; a message applied again is the
// same write again. An empty (or missing) directory makes the indexer
// delete its consumer and read the stream again from its start: the index
// is rebuilt.
//
// Read-your-writes: before it answers, an indexer reads the stream's last
// sequence (or takes the one the request carries) and waits, at most
// Config.WaitTimeout, until it has applied that far; if it cannot, the
// request fails with ErrBehind rather than answer a page that misses an
// acknowledged message.
//
// Deletes: the indexer that gets a delete checks the message is in its
// index, then appends a delete record (header Rt-Op: delete, Nats-Msg-Id
// hdel.<app>.<id>.<time>) to RT_HIST under the conversation's subject and
// answers once it has applied it. Every indexer applies the record in
// stream order, so the message leaves every page on every node.
//
// Client is the storage.History of every cluster node's REST API: it
// sends each query to an indexer, and follows up (msgid paging) when a
// page is larger than one NATS message may be. Store wraps the cluster
// store for the REST API: history through a Client, and a delete then
// also takes the message out of every inbox it was persisted into (those
// its RT_HIST records name, read by jetstream.Store.Recipients; for
// records that do not name them, its recipients or its group's members
// but the sender).
//
// Concurrency: an Indexer runs one goroutine applying the stream and a
// fixed pool of query workers behind a bounded queue (a full queue answers
// ErrBusy); Close stops and waits for all of them. A Client is safe for
// concurrent use. Neither owns the NATS connection it is given.
//
// Imports: the standard library, nats.go, prometheus, rtgate/storage,
// storage/badger and storage/jetstream.
package histindex

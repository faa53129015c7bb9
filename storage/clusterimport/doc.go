// Package clusterimport moves a single node's data (a storage/badger
// directory) into a cluster's JetStream store (storage/jetstream): every
// app's groups with their members and app columns, its history, the
// pending messages of every inbox with their ids, and the send claims of
// the recent client sends (core's send de-duplication).
//
// Idempotence: the import of a given directory content is recorded in the
// KV bucket <NS>_IMPORT under a fingerprint of that content (every
// message's app, time and id and every group's id); a second run of the
// same content finds it done and imports nothing. Within a run, groups
// are created by compare-and-swap (an existing group is left as it is),
// and messages are written with the store's Nats-Msg-Ids, so an
// interrupted run started again within the streams' duplicate window (2
// minutes for inboxes) stores nothing twice.
//
// Concurrency: Run writes up to Config.Parallel messages at once; it is
// not safe to run two imports of the same data at the same time.
//
// Imports: the standard library, nats.go, rtgate/storage, storage/badger
// and storage/jetstream.
package clusterimport

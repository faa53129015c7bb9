// Package jetstream is the cluster store: storage.Store on NATS JetStream,
// replicated (three ways by default) by the NATS servers, so that every
// rtgate node of a cluster sees the same inboxes and groups.
//
// Assets (names for the default namespace "rt"; Open creates them, or
// checks that existing ones have exactly this configuration and refuses
// to start, saying what differs, if not; it never deletes one):
//
//   - stream RT_INBOX, subjects rt.inbox.<app>.<peer>: one message per
//     (message, recipient); Limits.InboxSize messages per subject, MaxAge
//     Limits.InboxTTL, discard old, 2 min Nats-Msg-Id window, direct gets
//     allowed (for other readers; this package reads through the leader),
//     atomic batches allowed (for group fan-out later);
//   - stream RT_HIST, subjects rt.hist.<app>.<conv>.<from>: every
//     persistent message once, the record the history indexer
//     (storage/histindex) reads, naming the inboxes it was persisted
//     into (Recipients), plus its delete records (header Rt-Op: delete,
//     no ClientID);
//   - KV bucket RT_GROUPS, keys g.<app>.<group>: one JSON value per group,
//     changed only by compare-and-swap on its revision;
//   - KV bucket RT_SENDS, keys s.<app>.<from>.<client id>: the send claims
//     (storage.SendClaims) that make a repeated send recognised on every
//     node, kept 15 minutes;
//   - KV bucket RT_WRITERS, keys w.<store id>: each running store's
//     recovery point for the inbox entries it holds in memory (lazy.go,
//     recover.go).
//
// The inbox entry of an online recipient is held in the writing store's
// memory for Config.InboxDelay and published only if still
// unacknowledged then; the RT_HIST record names it, so another store
// publishes it if this process dies (lazy.go).
//
// Subject tokens are unpadded base64url ("-" for an empty string): ids may
// hold '.', '*', '>' and spaces.
//
// Reads (Pending, Count, Remove's lookup, Group, GroupsOf, QueryGroups)
// go to the stream leader with $JS.API.STREAM.MSG.GET, never to direct
// gets, which a replica may serve stale. Writes return after the PubAck,
// that is after a quorum of servers has the message; Persist retries with
// the same Nats-Msg-Id, so a retry after a leader failover does not store
// a message twice.
//
// History queries and deletes answer storage.ErrNotSupported: JetStream
// cannot query newest-first at the latencies the REST API needs; the
// history indexer of a later issue will answer them from RT_HIST.
//
// Concurrency: a Store is safe for concurrent use. It does not own the
// NATS connection it is given.
//
// Imports: the standard library, nats.go and rtgate/storage.
package jetstream

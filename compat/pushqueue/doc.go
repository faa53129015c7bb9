// Package pushqueue carries the offline push webhook across a cluster:
// one webhook call per stored message for offline peers, cluster-wide,
// even when nodes die mid-delivery.
//
// Notify (core.OfflineNotifier) publishes the notice (pushhook.Notice,
// JSON) to the JetStream work-queue stream <NS>_PUSH, subject
// <ns>.push.<app>, with Nats-Msg-Id push.<app>.<msgId>: a notice published
// twice within the stream's duplicate window (2 minutes) is stored once.
// Every node pulls from one shared durable consumer, "push", so each
// notice goes to one node; that node sends it with pushhook.Hook.Send (the
// same retries, signature and Idempotency-Key <app>:<msgId>) and
// acknowledges it when the hook is done with it (sent, refused or given
// up), which removes it from the stream. A node that dies before its
// acknowledgement leaves the notice to be delivered again, after AckWait,
// by another node: the webhook then sees the same Idempotency-Key twice,
// the one duplicate an at-least-once queue cannot avoid (a crash between
// the webhook's answer and the acknowledgement).
//
// Notify never blocks on the network: it publishes asynchronously with a
// bounded number of publishes in flight; beyond that the notice is
// dropped and counted, as the single node's full queue does.
//
// Concurrency: Notify is safe for concurrent use. A Queue owns
// Workers goroutines, each fetching a notice when free and sending it;
// Close stops them,
// leaving unacknowledged notices to the other nodes. It does not own the
// NATS connection or the Hook.
//
// Imports: the standard library, nats.go, prometheus, core (App,
// OfflineNotifier), storage (Message) and compat/pushhook.
package pushqueue

// Package outq is the outbound queue every rtgate transport writes through:
// a byte-bounded queue of encoded frames with a per-class overflow policy,
// drop and disconnect counters, and the connection's close state machine.
//
// Shape (after centrifuge's writer and nats-server's outbound budget):
//
//	Push (any goroutine)   encodes a command into the pending buffer
//	Take (the writer)      takes everything pending in one batch
//	Done (the writer)      the batch was written: its bytes stop counting
//
// Bytes count from Push until Done, so a writer stuck in a socket write
// still holds its batch against Config.Limit. A frame that finds nothing
// else pending is accepted whatever its size (one frame larger than the
// limit still gets through; a queue holds at most Limit plus one frame
// beyond its writer's batch); otherwise, when a frame takes the queue over
// the limit (or Config.MaxFrames), its class decides:
//
//	core.ClassReply, core.ClassMessage, Control:
//	    presence frames still pending are dropped first (oldest first); if
//	    that is not enough, the queue closes with protocol.CloseSlowConsumer,
//	    drops what is pending and Push returns core.ErrSlowConsumer.
//	core.ClassPresence:
//	    a pending event for the same watcher and peer is replaced by the
//	    new one ("superseded"); then the oldest pending presence events are
//	    dropped ("oldest"); if only other frames are queued, the new event
//	    itself is dropped ("no_room"). Never a disconnect.
//
// Every drop and disconnect is counted by reason in Metrics (fields of the
// transport that owns the queues; its Collectors register them).
//
// Close state: open → closing (Close: the writer flushes what is pending,
// then sends the close; a slow consumer's pending frames are dropped) or
// aborted (Abort: everything is dropped, no close is owed). Take reports
// the state with each batch; once it has reported closing or aborted, the
// writer is finishing and Config.Wake is not called again.
//
// Writer: at most one writer runs per queue. Push and Close call
// Config.Wake (outside the lock) when a writer is needed and none is
// marked running; the writer calls Take until it returns an empty batch,
// which marks it no longer running.
//
// Concurrency: every method is safe for concurrent use; the queue's mutex
// is a leaf lock (Wake is called without it held).
//
// Imports: core, protocol, the prometheus client and the standard library.
package outq

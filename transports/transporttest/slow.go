package transporttest

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rtgate/rtgate/protocol"
)

// Slow-consumer scenarios: the outbound queue's per-class policy, seen
// from clients. A client that stops calling Recv stops reading (see
// ClientConn), so the kernel's and the transport's buffers fill and then
// the server's queue.

// queueCounter sums the samples of the transport's counter named
// *_queue_<suffix> whose label matches value (label "reason" for drops,
// "class" for slow consumers).
func queueCounter(reg *prometheus.Registry, suffix, label, value string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if !strings.HasSuffix(mf.GetName(), "_queue_"+suffix) {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && (value == "" || l.GetValue() == value) {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

// slowConsumerCounted: a paused reader flooded with messages past the
// bound is closed with 4201, and the transport counts it as a slow
// consumer whose message had no room.
func slowConsumerCounted(e *env) {
	slow, a := e.bobAndAlice("bob")
	before := queueCounter(e.opts.Registry, "slow_consumers_total", "class", "message")
	msg := strings.Repeat("m", 4000)
	const maxSent = 64 << 20
	for sent := 0; queueCounter(e.opts.Registry, "slow_consumers_total", "class", "message") == before; sent += len(msg) {
		if sent > maxSent {
			e.t.Fatalf("sent %d bytes to a client that never reads; no slow consumer counted", sent)
		}
		cmd := direct("alice", msg, 0, "bob")
		cmd.Transient = true
		a.Send(cmd)
	}
	slow.ExpectClose(protocol.CloseSlowConsumer)
	a.ExpectPresence("alice", protocol.StatusOff, "bob")
	a.Barrier()
}

// presenceFlood: a paused reader watching a peer that comes and goes
// without end is never disconnected: its queue coalesces and drops
// presence events (counted), and once it reads again it is fully alive.
func presenceFlood(e *env) {
	// Long ids and many watching sessions make each transition of p cost
	// the watcher's connection about 10 KB, so the buffers in front of the
	// queue fill within a few hundred transitions.
	const watchers = 48
	pid := "p" + strings.Repeat("x", protocol.MaxPeerIDLen-1)
	w := e.dial("watcher")
	for i := range watchers {
		w.Open(watcherID(i), pid)
	}
	p := e.dial("p")
	slowed := counter(e.hub.Metrics().SlowConsumers)
	dropped := func() float64 { return queueCounter(e.opts.Registry, "drops_total", "reason", "") }
	before := dropped()
	deadline := time.Now().Add(60 * time.Second)
	const maxCycles = 5000
	cycles := 0
	for ; dropped() == before; cycles++ {
		if cycles == maxCycles || time.Now().After(deadline) {
			e.t.Fatalf("%d on/off cycles to a watcher that never reads: no presence event dropped", cycles)
		}
		// A batch of open/close pairs, then p reads its own replies.
		const batch = 10
		for i := range batch {
			p.Send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: appID, PeerID: pid, SessionPeerIDs: []string{}, I: int64(2*i + 1)})
			p.Send(&protocol.Command{Kind: protocol.KindSessionClose, PeerID: pid, I: int64(2*i + 2)})
		}
		for range batch {
			p.Expect(protocol.KindSessionOpened)
			p.Expect(protocol.KindSessionClosed)
		}
	}
	if got := counter(e.hub.Metrics().SlowConsumers); got != slowed {
		e.t.Fatalf("presence flood disconnected %v slow consumers", got-slowed)
	}
	// The watcher reads again: everything queued, then its own reply.
	w.Send(&protocol.Command{Kind: protocol.KindKeepalive})
	for {
		f := w.Next()
		if f.Kind == protocol.KindKeepalive {
			break
		}
		if f.Kind != protocol.KindPresence {
			e.t.Fatalf("watcher got %v %+v during the flood, want presence only", f.Kind, *f)
		}
	}
	// A second round trip: the watcher has read (and, over long-poll,
	// acknowledged) everything, so its queue is empty again. p comes back:
	// every watching session learns it, in full.
	w.Barrier()
	p.Open(pid)
	on := map[string]bool{}
	for range watchers {
		f := w.Expect(protocol.KindPresence)
		if f.Status != protocol.StatusOn || len(f.SessionPeerIDs) != 1 || f.SessionPeerIDs[0] != pid || on[f.PeerID] {
			e.t.Fatalf("after the flood: presence %+v, want %s on once per watcher", *f, pid)
		}
		on[f.PeerID] = true
	}
	w.Barrier()
}

func watcherID(i int) string {
	return strings.Repeat("w", protocol.MaxPeerIDLen-3) + string(rune('A'+i/26)) + string(rune('a'+i%26)) + "!"
}

// largeFrame: one frame larger than the whole queue bound reaches a
// client whose queue is otherwise empty, and the connection stays open.
func largeFrame(e *env) {
	if e.opts.QueueBytes >= protocol.MaxMessageBytes {
		e.t.Fatalf("largeFrame runs with QueueBytes %d, want it below a full message", e.opts.QueueBytes)
	}
	b, a := e.bobAndAlice("bob")
	text := strings.Repeat("L", protocol.MaxMessageBytes)
	cmd := direct("alice", text, 0, "bob")
	cmd.Transient = true
	a.Send(cmd)
	got := b.Expect(protocol.KindDirect)
	if got.Msg != text {
		e.t.Fatalf("bob got %d bytes, want %d", len(got.Msg), len(text))
	}
	b.Barrier()
	a.Barrier()
}

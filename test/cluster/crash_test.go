package cluster_test

import (
	"testing"
	"time"

	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/protocol"
)

// Acceptance test 3, in process: the only node holding b loses its NATS
// connection at once (as in a crash: nothing is unregistered); watchers
// on the other nodes get `off` within the lease TTL plus a second. In the
// variant, b reconnects to another node before the lease runs out, and
// the watchers see no off/on pair at all. (The subprocess form, with
// SIGKILL, is still to do.)
func TestGatewayCrashPresence(t *testing.T) {
	for _, reconnect := range []bool{false, true} {
		name := "off after the lease"
		if reconnect {
			name = "back on another node before the lease"
		}
		t.Run(name, func(t *testing.T) {
			c := newCluster(t, 2)
			n2 := c.startWith(t, 2, c.nats.Connect(2), leaseTTL)
			w0 := openOn(t, c.nodes[0], "w0", "b")
			w1 := openOn(t, c.nodes[1], "w1", "b")
			openOn(t, n2, "b")
			for _, w := range []*coretest.MemConn{w0, w1} {
				if s := expectPresence(t, w, "b"); s != protocol.StatusOn {
					t.Fatalf("presence %s, want on", s)
				}
			}
			crash := time.Now()
			n2.bus.Conn().Close()
			if reconnect {
				openOn(t, c.nodes[1], "b")
				// Well past the lease: still no event.
				deadline := crash.Add(leaseTTL + 2*time.Second)
				for _, w := range []*coretest.MemConn{w0, w1} {
					for {
						f, err := w.Next(time.Until(deadline))
						if err != nil {
							break
						}
						if f.Kind == protocol.KindPresence {
							t.Fatalf("presence %s %v after b moved to another node", f.Status, f.SessionPeerIDs)
						}
					}
				}
				if !c.nodes[0].hub.Online(app, "b") {
					t.Fatal("b offline on node 0")
				}
				return
			}
			for _, w := range []*coretest.MemConn{w0, w1} {
				if s := expectPresence(t, w, "b"); s != protocol.StatusOff {
					t.Fatalf("presence %s, want off", s)
				}
			}
			took := time.Since(crash)
			t.Logf("off %s after the crash (lease %s)", took.Round(time.Millisecond), leaseTTL)
			if took > leaseTTL+time.Second {
				t.Fatalf("off came %s after the crash, over lease %s + 1 s", took, leaseTTL)
			}
		})
	}
}

// TestGracefulLeave: a node that drains before it closes lets its peers
// reconnect elsewhere without their watchers seeing off/on; a peer that
// did not come back goes off when the node closes.
func TestGracefulLeave(t *testing.T) {
	c := newCluster(t, 2)
	n2 := c.startWith(t, 2, c.nats.Connect(2), 0)
	w := openOn(t, c.nodes[0], "w", "b", "gone")
	b := openOn(t, n2, "b")
	gone := openOn(t, n2, "gone")
	for range 2 {
		if s := expectPresence(t, w, ""); s != protocol.StatusOn {
			t.Fatalf("presence %s, want on", s)
		}
	}
	n2.bus.Drain()
	b.Drop()
	gone.Drop()
	openOn(t, c.nodes[1], "b") // b reconnects elsewhere; gone does not
	n2.bus.Close()
	if s := expectPresence(t, w, "gone"); s != protocol.StatusOff {
		t.Fatalf("presence of gone %s, want off", s)
	}
	if !c.nodes[0].hub.Online(app, "b") {
		t.Fatal("b offline after moving")
	}
	w.ExpectNone(t, 300*time.Millisecond) // and nothing about b
}

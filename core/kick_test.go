package core_test

import (
	"testing"
	"time"

	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/protocol"
)

// TestKick: Kick closes every connection holding a session of the peer
// (two devices) with 1000 and the reason, and leaves other peers' alone.
func TestKick(t *testing.T) {
	h, _ := newHub(t, nil)
	a1, a2, b := coretest.Dial(h, false), coretest.Dial(h, false), coretest.Dial(h, false)
	a1.Open(t, "app", "alice")
	a2.Open(t, "app", "alice")
	b.Open(t, "app", "bob")
	if n := h.Kick("app", "alice", "bye"); n != 2 {
		t.Fatalf("Kick closed %d connections, want 2", n)
	}
	for _, c := range []*coretest.MemConn{a1, a2} {
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("kicked connection not closed")
		}
		if c.Closed() != protocol.CloseNormal {
			t.Fatalf("closed with %d, want 1000", c.Closed())
		}
	}
	if b.Closed() != 0 {
		t.Fatalf("bob's connection closed with %d", b.Closed())
	}
	if n := h.Kick("app", "nobody", "bye"); n != 0 {
		t.Fatalf("Kick of an unknown peer closed %d", n)
	}
}

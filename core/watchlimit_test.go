package core_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/protocol"
)

func peers(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

// TestWatchBoundPerConnection: the watch entries of one connection, over
// all its sessions, are bounded (issue 15, defect 2: 64 sessions × 10 000
// watches each). Past the bound the connection closes with 4110 in every
// dialect; another connection keeps watching and gets its presence.
func TestWatchBoundPerConnection(t *testing.T) {
	for _, modern := range []bool{false, true} {
		t.Run(fmt.Sprint("modern ", modern), func(t *testing.T) {
			h, _ := newHub(t, func(c *core.Config) { c.MaxWatchPerConn = 5 })
			other := coretest.Dial(h, modern)
			other.Open(t, app, "other", "p0")

			c := coretest.Dial(h, modern)
			c.Open(t, app, "a", peers("p", 3)...)
			c.Open(t, app, "b", "p0", "p1") // 5: at the bound
			err := c.Send(&protocol.Command{Kind: protocol.KindSessionAdd, PeerID: "b", SessionPeerIDs: []string{"p9"}, I: 2})
			if c.Closed() != protocol.CloseTooManyWatches || err == nil {
				t.Fatalf("close %d (%v), want 4110", c.Closed(), err)
			}
			if w := testutil.ToFloat64(h.Metrics().Watches); w != 1 {
				t.Fatalf("rtgate_watches = %v after the close, want 1 (other's)", w)
			}
			p0 := coretest.Dial(h, modern)
			p0.Open(t, app, "p0")
			if p := other.Expect(t, protocol.KindPresence); p.Status != protocol.StatusOn {
				t.Fatalf("other: %+v", *p)
			}
			if other.Closed() != 0 {
				t.Fatal("other connection closed")
			}
		})
	}
}

// TestWatchBoundPerApp: the watch entries of one app on the node are
// bounded; the connection that would pass the bound is closed with 4110
// and watches nothing; other connections of the app, and other apps, go on.
func TestWatchBoundPerApp(t *testing.T) {
	h, _ := newHub(t, func(c *core.Config) { c.MaxWatchPerApp = 10 })
	a := coretest.Dial(h, false)
	a.Open(t, app, "a", peers("p", 8)...)
	greedy := coretest.Dial(h, true)
	greedy.Send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: app, PeerID: "g", SessionPeerIDs: peers("q", 3), I: 1})
	if greedy.Closed() != protocol.CloseTooManyWatches {
		t.Fatalf("greedy: close %d, want 4110", greedy.Closed())
	}
	if n := testutil.ToFloat64(h.Metrics().WatchRefusals); n != 1 {
		t.Fatalf("rtgate_watch_app_limit_closes_total = %v", n)
	}
	other := coretest.Dial(h, false)
	other.Open(t, "app2", "x", peers("p", 10)...) // another app: its own bound
	b := coretest.Dial(h, false)
	b.Open(t, app, "b", "p0", "p1") // the 2 left
	if w := testutil.ToFloat64(h.Metrics().Watches); w != 20 {
		t.Fatalf("rtgate_watches = %v, want 20", w)
	}
	// Unwatching and closing give entries back.
	send(t, a, &protocol.Command{Kind: protocol.KindSessionRemove, PeerID: "a", SessionPeerIDs: []string{"p0", "p1", "nobody"}, I: 3})
	a.Expect(t, protocol.KindSessionRemoved)
	b.Drop()
	c := coretest.Dial(h, false)
	c.Open(t, app, "c", peers("r", 4)...)
	if w := testutil.ToFloat64(h.Metrics().Watches); w != 20 {
		t.Fatalf("rtgate_watches = %v, want 20", w)
	}
	c.ExpectNone(t, 10*time.Millisecond)
}

package cluster_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rtgate/rtgate/cluster"
	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/internal/natsembed/natstest"
	"github.com/rtgate/rtgate/protocol"
)

// Acceptance test 12: partition fencing. Node 2 reaches NATS only through
// a TCP proxy; when the proxy is cut, node 2 fences itself before its
// lease runs out (its clients are closed with 1001), watchers elsewhere
// get `off`, and /healthz would say unhealthy; when it heals, node 2 comes
// back as a new incarnation and serves again.
func TestPartitionFencing(t *testing.T) {
	c := newCluster(t, 2)
	p := natstest.NewProxy(t, strings.TrimPrefix(c.nats.Servers[2].ClientURL(), "nats://"))
	nc, err := nats.Connect(p.URL(), nats.IgnoreDiscoveredServers(), nats.ReconnectWait(50*time.Millisecond), nats.MaxReconnects(-1), nats.Timeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	n2 := c.startWith(t, 2, nc, leaseTTL)
	before := n2.bus.Self()

	w := openOn(t, c.nodes[0], "w", "b")
	b := openOn(t, n2, "b")
	if s := expectPresence(t, w, "b"); s != protocol.StatusOn {
		t.Fatalf("presence %s, want on", s)
	}

	cutAt := time.Now()
	p.Cut(true)
	select {
	case <-b.Done():
	case <-time.After(leaseTTL + 2*time.Second):
		t.Fatal("node 2 did not close its clients after losing NATS")
	}
	if code := b.Closed(); code != protocol.CloseGoingAway {
		t.Fatalf("close code %d, want 1001 (reconnect elsewhere)", code)
	}
	fencedAfter := time.Since(cutAt)
	if fencedAfter >= leaseTTL {
		t.Fatalf("fenced after %s, not before the %s lease ran out", fencedAfter, leaseTTL)
	}
	if err := n2.bus.Healthy(); !errors.Is(err, cluster.ErrUnavailable) {
		t.Fatalf("Healthy while cut off = %v", err)
	}
	if s := expectPresence(t, w, "b"); s != protocol.StatusOff {
		t.Fatalf("presence %s, want off", s)
	}
	t.Logf("fenced %s after the cut; lease %s", fencedAfter.Round(time.Millisecond), leaseTTL)
	// While fenced, an open is refused with a retryable close.
	late := coretest.Dial(n2.hub, false)
	if err := late.Send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: app, PeerID: "late", I: 1}); err == nil {
		t.Fatal("an open on a fenced node succeeded")
	}
	if code := late.Closed(); code != protocol.CloseGoingAway {
		t.Fatalf("open on a fenced node closed with %d, want 1001", code)
	}

	p.Cut(false)
	eventually(t, 15*time.Second, "node 2 to rejoin", func() bool { return n2.bus.Healthy() == nil })
	if after := n2.bus.Self(); after == before {
		t.Fatalf("node 2 rejoined as %s, its old incarnation", after)
	}
	b2 := openOn(t, n2, "b")
	defer b2.Drop()
	if s := expectPresence(t, w, "b"); s != protocol.StatusOn {
		t.Fatalf("presence %s, want on", s)
	}
	// And messages reach it again across nodes.
	if err := w.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: "w", ToPeerIDs: []string{"b"}, Msg: "back", Transient: true}); err != nil {
		t.Fatal(err)
	}
	if m := expectKind(t, b2, protocol.KindDirect); m.Msg != "back" {
		t.Fatalf("message = %+v", *m)
	}
}

// expectPresence returns the status of the next presence event about peer
// ("": about anyone).
func expectPresence(t *testing.T, conn *coretest.MemConn, peer string) protocol.Status {
	t.Helper()
	for {
		f, err := conn.Next(15 * time.Second)
		if err != nil {
			t.Fatalf("waiting for presence of %s: %v", peer, err)
		}
		if f.Kind == protocol.KindPresence && len(f.SessionPeerIDs) == 1 && (peer == "" || f.SessionPeerIDs[0] == peer) {
			return f.Status
		}
	}
}

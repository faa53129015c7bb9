package cluster_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/protocol"
)

// Acceptance test 1: cross-node direct messages.
func TestCrossNodeDirect(t *testing.T) {
	c := newCluster(t, 3)
	const a, b = "peer a.*>", "peer b with spaces" // awkward ids: subject tokens must survive them
	ca := coretest.Dial(c.nodes[0].hub, false)
	ca.Open(t, app, a, b)
	cb := coretest.Dial(c.nodes[2].hub, false)
	cb.Open(t, app, b)
	if p := ca.Expect(t, protocol.KindPresence); p.Status != protocol.StatusOn || p.SessionPeerIDs[0] != b {
		t.Fatalf("presence = %+v", *p)
	}

	send := func(cmd *protocol.Command) {
		t.Helper()
		if err := ca.Send(cmd); err != nil {
			t.Fatal(err)
		}
	}
	send(&protocol.Command{Kind: protocol.KindDirect, PeerID: a, ToPeerIDs: []string{b}, Msg: "transient", Transient: true})
	if got := cb.Expect(t, protocol.KindDirect); got.Msg != "transient" || !got.Transient || got.FromPeerID != a || got.PeerID != b {
		t.Fatalf("transient = %+v", *got)
	}

	// Persistent messages: acked with uid and t, delivered in order.
	n := 10000
	if testing.Short() {
		n = 1000
	}
	const batch = 500
	for start := 0; start < n; start += batch {
		uids := make([]string, 0, batch)
		for i := start; i < start+batch; i++ {
			send(&protocol.Command{Kind: protocol.KindDirect, PeerID: a, ToPeerIDs: []string{b}, Msg: fmt.Sprint(i), I: int64(i + 1)})
		}
		for i := start; i < start+batch; i++ {
			ack := ca.Expect(t, protocol.KindAck)
			if ack.UID == "" || ack.Time == 0 || ack.I != int64(i+1) {
				t.Fatalf("ack %d = %+v", i, *ack)
			}
			uids = append(uids, ack.UID)
		}
		for i := start; i < start+batch; i++ {
			got, err := cb.Next(10 * time.Second)
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			if got.Kind != protocol.KindDirect || got.Msg != fmt.Sprint(i) || got.ID != uids[i-start] || got.Offline {
				t.Fatalf("message %d = %+v, want id %s", i, *got, uids[i-start])
			}
		}
		if err := cb.Send(&protocol.Command{Kind: protocol.KindAck, PeerID: b}); err != nil { // bare: all delivered
			t.Fatal(err)
		}
	}

	// An unwatched recipient is acked and gets nothing, as on one node.
	cc := coretest.Dial(c.nodes[1].hub, false)
	cc.Open(t, app, "c")
	send(&protocol.Command{Kind: protocol.KindDirect, PeerID: a, ToPeerIDs: []string{"c"}, Msg: "no", I: 1})
	if ack := ca.Expect(t, protocol.KindAck); ack.UID == "" {
		t.Fatalf("ack = %+v", *ack)
	}
	cc.ExpectNone(t, 200*time.Millisecond)

	// Receipts travel back across nodes.
	send(&protocol.Command{Kind: protocol.KindDirect, PeerID: a, ToPeerIDs: []string{b}, Msg: "r", Receipt: true, I: 2})
	ack := ca.Expect(t, protocol.KindAck)
	got := cb.Expect(t, protocol.KindDirect)
	if err := cb.Send(&protocol.Command{Kind: protocol.KindAck, PeerID: b, IDs: []string{got.ID}, HasIDs: true}); err != nil {
		t.Fatal(err)
	}
	if r := ca.Expect(t, protocol.KindRcp); r.ID != ack.UID {
		t.Fatalf("rcp = %+v, want id %s", *r, ack.UID)
	}

	// Every ack, bare or explicit, on b's node emptied b's inbox, which a's
	// node wrote (b's node deletes by the sequences the live copies carried).
	eventually(t, 30*time.Second, "b's inbox empty", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ms, err := c.store.Pending(ctx, app, b)
		return err == nil && len(ms) == 0
	})
}

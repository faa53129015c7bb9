package cluster_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/protocol"
)

// Acceptance test 5: persistent sends from node 0 overlap the recipient's
// open on node 2, 200 times (10 pairs × 20). Every message reaches the new
// session (live, by the drain at open, or by the second drain a second
// later) and none twice.
func TestOpenVersusSend(t *testing.T) {
	const pairs, rounds = 10, 20
	c := newCluster(t, 3)
	var wg sync.WaitGroup
	var how arrivals
	for p := range pairs {
		a, b := fmt.Sprint("a", p), fmt.Sprint("b", p)
		ca := openOn(t, c.nodes[0], a, b)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				if err := racePair(c, ca, a, b, r, &how); err != nil {
					t.Errorf("%s round %d: %v", b, r, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("of %d messages: %d live, %d by a drain (offline)", pairs*rounds, how.live.Load(), how.offline.Load())
}

// arrivals counts how the messages of TestOpenVersusSend arrived.
type arrivals struct{ live, offline atomic.Int64 }

// racePair sends one persistent message from a while b opens on node 2,
// and checks b's session gets it exactly once.
func racePair(c *testCluster, ca *coretest.MemConn, a, b string, r int, how *arrivals) error {
	cb := coretest.Dial(c.nodes[2].hub, false)
	defer cb.Drop()
	sent := make(chan error, 1)
	go func() {
		sent <- ca.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: a, ToPeerIDs: []string{b}, Msg: fmt.Sprint(r), I: int64(r + 2)})
	}()
	if err := cb.Send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: app, PeerID: b, I: 1}); err != nil {
		return err
	}
	if err := <-sent; err != nil {
		return err
	}
	var uid string
	for uid == "" {
		f, err := ca.Next(10 * time.Second)
		if err != nil {
			return fmt.Errorf("no ack: %w", err)
		}
		if f.Kind == protocol.KindAck {
			uid = f.UID
		}
	}
	// Collect b's messages until a second drain has surely run.
	got, deadline := 0, time.Now().Add(3*time.Second)
	var ids []string
	for time.Now().Before(deadline) {
		f, err := cb.Next(time.Until(deadline))
		if err != nil {
			break
		}
		if f.Kind == protocol.KindDirect {
			ids = append(ids, f.ID)
			if f.ID == uid {
				got++
				if f.Offline {
					how.offline.Add(1)
				} else {
					how.live.Add(1)
				}
				if deadline.Sub(time.Now()) > 1500*time.Millisecond {
					deadline = time.Now().Add(1500 * time.Millisecond) // past the second drain
				}
			}
		}
	}
	if got != 1 {
		return fmt.Errorf("message %s delivered %d times to the session (ids %v)", uid, got, ids)
	}
	// Acknowledge everything, so the next round starts with an empty inbox.
	return cb.Send(&protocol.Command{Kind: protocol.KindAck, PeerID: b})
}

package natsbus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/rtgate/rtgate/cluster"
)

// The seen barrier. A peer's first registration on a node puts its key
// and then waits until every live node's watch applied that put, so that
// when the caller answers the open (`opened`, `joined`), a message sent
// to the peer from any node finds it online. Without it, a transient
// message sent from another node right after the open could be dropped
// there as sent to an offline peer (TestTransientRightAfterOpen in
// test/cluster: 16 to 36 of 150 on a loaded machine).
//
// The registering node asks each other live node (its lease present and
// not retired, in this node's view) on that node's subject
// rt.n.<node>.seen with the put's stream sequence; the node answers once
// its watch of the peers bucket applied that sequence (its map and its
// watchers' events are then up to date). The same round waits for this
// node's own watch. A node that does not answer within SeenTimeout is
// counted (Metrics.SeenMissed) and not waited for; one that is gone (no
// responder) is skipped at once. A node that missed a round is late: the
// next rounds do not wait for it (each is counted as a miss), but ask it
// on the side, one request at a time, until it answers one in time, so
// that one stalled node (its lease runs on for up to LeaseTTL) does not
// slow every open in the cluster.
//
// Rounds are shared: one is in flight at a time, and the registrations
// made meanwhile share the next one, which asks for the highest of their
// sequences (a node that applied it applied the lower ones). So a burst
// of opens costs a few rounds, not one each, and a registration that
// finds its sequence already confirmed does not wait at all.

// seenSubject is node n's subject for seen requests.
func seenSubject(n cluster.Node) string { return "rt.n." + string(n) + ".seen" }

// seenState is a Bus's barrier state (presence.seen).
type seenState struct {
	mu        sync.Mutex
	confirmed uint64     // every round up to this sequence has ended; guarded by mu
	busy      bool       // a round is in flight; guarded by mu
	next      *seenRound // the round after it, gathering; guarded by mu
	// late holds the nodes that missed a round; true while a request to
	// one is on its way. Guarded by mu.
	late map[cluster.Node]bool
}

// seenRound is one round of seen requests, shared by the registrations
// that joined it before it started.
type seenRound struct {
	done chan struct{} // closed when the round ended
	seq  uint64        // the highest sequence of its registrations
}

// awaitSeen waits until every live node applied the peers stream up to
// seq (bounded by SeenTimeout per round), or ctx ends.
func (b *Bus) awaitSeen(ctx context.Context, seq uint64) {
	s := &b.pres.seen
	s.mu.Lock()
	if s.confirmed >= seq || b.ctx.Err() != nil {
		s.mu.Unlock()
		return
	}
	r := s.next
	if r == nil {
		r = &seenRound{done: make(chan struct{})}
		s.next = r
	}
	r.seq = max(r.seq, seq)
	if !s.busy {
		s.busy, s.next = true, nil
		b.wg.Add(1)
		go b.seenRounds(r) // owned by the Bus (wg); ends when no round gathers
	}
	s.mu.Unlock()
	select {
	case <-r.done:
	case <-ctx.Done():
	}
}

// seenRounds runs r, then each round that gathered while the previous one
// was in flight.
func (b *Bus) seenRounds(r *seenRound) {
	defer b.wg.Done()
	s := &b.pres.seen
	for r != nil {
		b.seenRound(r.seq)
		s.mu.Lock()
		s.confirmed = max(s.confirmed, r.seq)
		close(r.done)
		r, s.next = s.next, nil
		s.busy = r != nil
		s.mu.Unlock()
	}
}

// seenRound asks every other live node to confirm seq, and waits for
// this node's own watch and the nodes that are not late, all within
// SeenTimeout.
func (b *Bus) seenRound(seq uint64) {
	b.m.SeenRounds.Inc()
	s := &b.pres.seen
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.SeenTimeout)
	defer cancel()
	req := binary.BigEndian.AppendUint64(nil, seq)
	live := b.liveOthers()
	var wg sync.WaitGroup
	s.mu.Lock()
	for n := range s.late {
		if !slices.Contains(live, n) {
			delete(s.late, n) // its lease is gone
		}
	}
	for _, n := range live {
		probing, late := s.late[n]
		if !late {
			wg.Add(1)
			go func() { // owned by seenRound (wg)
				defer wg.Done()
				if err := b.askSeen(ctx, n, req); err != nil {
					b.m.SeenMissed.Inc()
					b.log.Debug("a node did not confirm a presence write in time", "node", n, "seq", seq, "err", err)
					s.mu.Lock()
					if _, ok := s.late[n]; !ok {
						s.late[n] = false
					}
					s.mu.Unlock()
				}
			}()
			continue
		}
		b.m.SeenMissed.Inc() // answered without it
		if probing {
			continue
		}
		s.late[n] = true
		b.wg.Add(1)
		go func() { // owned by the Bus (wg)
			defer b.wg.Done()
			pctx, cancel := context.WithTimeout(b.ctx, b.cfg.SeenTimeout)
			err := b.askSeen(pctx, n, req)
			cancel()
			s.mu.Lock()
			if err == nil {
				delete(s.late, n)
			} else if _, ok := s.late[n]; ok {
				s.late[n] = false
			}
			s.mu.Unlock()
		}()
	}
	s.mu.Unlock()
	if err := b.waitApplied(ctx, [2]uint64{seq, 0}); err != nil && b.ctx.Err() == nil {
		b.m.SeenMissed.Inc()
		b.log.Debug("this node's watch did not apply its own presence write in time", "seq", seq, "err", err)
	}
	wg.Wait()
}

// askSeen asks node n to confirm req's sequence; nil when it did, or when
// it is gone (no responder) or this bus is closing.
func (b *Bus) askSeen(ctx context.Context, n cluster.Node, req []byte) error {
	_, err := request(ctx, b.nc, seenSubject(n), n, req)
	if err == nil || errors.Is(err, cluster.ErrNoNode) || b.ctx.Err() != nil {
		return nil
	}
	return err
}

// liveOthers returns the nodes other than this one whose lease is present
// and that are not retired, in this node's view.
func (b *Bus) liveOthers() []cluster.Node {
	self := b.Self()
	p := &b.pres
	p.mu.RLock()
	out := make([]cluster.Node, 0, len(p.leased))
	for n := range p.leased {
		if n != self && !p.retired[n] {
			out = append(out, n)
		}
	}
	p.mu.RUnlock()
	return out
}

// serveSeen answers a seen request once this node's watch applied the
// sequence it names, or fails after SeenTimeout.
func (b *Bus) serveSeen(m *nats.Msg) {
	b.serveOne(func(ctx context.Context, req []byte) ([]byte, error) {
		if len(req) != 8 {
			return nil, fmt.Errorf("natsbus: seen request of %d bytes, want 8", len(req))
		}
		ctx, cancel := context.WithTimeout(ctx, b.cfg.SeenTimeout)
		defer cancel()
		return nil, b.waitApplied(ctx, [2]uint64{binary.BigEndian.Uint64(req), 0})
	}, m)
}

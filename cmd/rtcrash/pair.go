package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/spec/conformance"
)

// pair is one sender and its receiver on one transport.
type pair struct {
	i                int
	transport        string
	modern           bool // the dialect dedupes client ids and answers `error`
	sender, receiver string
	// offline: the receiver stays offline until the finish (the second
	// pair of each transport, the fourth, ...).
	offline            bool
	sendSeed, recvSeed uint64
}

func (c *campaign) pairs() []*pair {
	var out []*pair
	for i := range c.o.pairs {
		t := c.o.transports[i%len(c.o.transports)]
		out = append(out, &pair{
			i:         i,
			transport: t,
			modern:    t != "ws-legacy" && t != "longpoll",
			sender:    fmt.Sprintf("s%d-%s", i, c.runID),
			receiver:  fmt.Sprintf("r%d-%s", i, c.runID),
			offline:   (i/len(c.o.transports))%2 == 1,
			sendSeed:  c.o.seed ^ uint64(2*i+1)<<32,
			recvSeed:  c.o.seed ^ uint64(2*i+2)<<32,
		})
	}
	return out
}

// conn is a dialled connection bound to the generation it was dialled on:
// the kill of that server closes it (as a client would find out, sooner).
type conn struct {
	conformance.Conn
	stop func() bool
}

func (c *campaign) dial(ctx context.Context, p *pair) (*conn, *generation, error) {
	g, err := c.current(ctx)
	if err != nil {
		return nil, nil, err
	}
	d, ok := g.dialers[p.transport]
	if !ok {
		return nil, nil, fmt.Errorf("no dialer for %s", p.transport)
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	cc, err := d.Dial(dctx)
	if err != nil {
		return nil, g, err
	}
	return &conn{Conn: cc, stop: context.AfterFunc(g.ctx, func() { cc.Close() })}, g, nil
}

func (cn *conn) close() {
	cn.stop()
	cn.Close()
}

// await reads until want returns true for a command, or the connection
// fails, or timeout passes (then the connection is closed). Every
// command read goes to seen first (nil: ignored).
func (cn *conn) await(timeout time.Duration, seen func(*protocol.Command), want func(*protocol.Command) bool) (*protocol.Command, error) {
	t := time.AfterFunc(timeout, func() { cn.Close() })
	defer t.Stop()
	for {
		cmd, err := cn.Recv()
		if err != nil {
			if errors.Is(err, protocol.ErrMalformed) || errors.Is(err, protocol.ErrUnknownCommand) {
				continue
			}
			return nil, err
		}
		if seen != nil {
			seen(cmd)
		}
		if want(cmd) {
			return cmd, nil
		}
	}
}

// open opens peer watching watch; seen gets every command read meanwhile.
func (cn *conn) open(peer string, watch []string, seen func(*protocol.Command)) error {
	if err := cn.Send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: app, PeerID: peer,
		SessionPeerIDs: watch, I: 1}); err != nil {
		return err
	}
	_, err := cn.await(replyTimeout, seen, func(cmd *protocol.Command) bool {
		return cmd.Kind == protocol.KindSessionOpened && cmd.PeerID == peer
	})
	return err
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}

// offlineCap bounds the messages sent to a receiver that stays offline
// until the finish: its inbox must be drained by one open, and a long-poll
// session holds at most 2048 frames (more closes it with 4201, and every
// open redelivers the whole inbox).
const offlineCap = 1500

// sender sends until sendCtx ends, then, until finishCtx ends, sends again
// what was sent with a client id and not yet acknowledged (modern
// dialects), so that the ledger knows its fate.
func (c *campaign) sender(sendCtx, finishCtx context.Context, p *pair) {
	rng := rand.New(rand.NewPCG(p.sendSeed, 1))
	var pending, repeats []*message
	seq := 0
	for {
		ctx := sendCtx
		if sendCtx.Err() != nil {
			if len(pending) == 0 {
				return
			}
			ctx = finishCtx
		}
		if ctx.Err() != nil {
			c.led.abandon(pending)
			return
		}
		cn, _, err := c.dial(ctx, p)
		if err != nil {
			sleep(ctx, 50*time.Millisecond)
			continue
		}
		if err := cn.open(p.sender, []string{p.receiver}, nil); err != nil {
			cn.close()
			sleep(ctx, 50*time.Millisecond)
			continue
		}
		ok := true
		for ok && len(pending) > 0 {
			if ok = c.send(cn, p, pending[0]); ok {
				pending = pending[1:]
			}
		}
		for ok && len(repeats) > 0 { // acknowledged already: the same uid, nothing new stored
			if ok = c.send(cn, p, repeats[0]); ok {
				repeats = repeats[1:]
			}
		}
		for ok && sendCtx.Err() == nil {
			if p.offline && seq >= offlineCap {
				sleep(sendCtx, time.Hour) // enough for a receiver that never reads
				break
			}
			seq++
			m := &message{pair: p, text: fmt.Sprintf("rtcrash %s n%d", p.sender, seq)}
			if rng.IntN(2) == 0 {
				m.clientID = fmt.Sprintf("c%d-%d", p.i, seq)
			}
			c.led.sent(m)
			if ok = c.send(cn, p, m); !ok {
				if m.clientID != "" && p.modern {
					pending = append(pending, m)
				} else {
					c.led.unknown(m)
				}
			} else if m.clientID != "" && p.modern && rng.IntN(8) == 0 {
				repeats = append(repeats, m)
			}
			sleep(sendCtx, time.Duration(5+rng.IntN(35))*time.Millisecond)
		}
		cn.close()
	}
}

// send sends m once and waits for its ack; it returns false when the
// connection failed first (the ack may or may not have been sent).
func (c *campaign) send(cn *conn, p *pair, m *message) bool {
	const i = 7
	if err := cn.Send(&protocol.Command{Kind: protocol.KindDirect, AppID: app, PeerID: p.sender, Msg: m.text,
		ToPeerIDs: []string{p.receiver}, ID: m.clientID, I: i}); err != nil {
		return false
	}
	reply, err := cn.await(replyTimeout, nil, func(cmd *protocol.Command) bool {
		return (cmd.Kind == protocol.KindAck && cmd.UID != "") || (cmd.Kind == protocol.KindError && cmd.I == i)
	})
	if err != nil {
		return false
	}
	if reply.Kind == protocol.KindError {
		c.led.refused(m, fmt.Sprintf("error %d %s", reply.Code, reply.Reason))
		return true
	}
	c.led.acked(m, reply.UID)
	return true
}

// receiver goes online and offline until ctx ends (unless the pair's
// receiver stays offline): each session reads for a random time and
// acknowledges what it read, except in one session in five.
func (c *campaign) receiver(ctx context.Context, p *pair) {
	if p.offline {
		return
	}
	rng := rand.New(rand.NewPCG(p.recvSeed, 2))
	for ctx.Err() == nil {
		sleep(ctx, time.Duration(100+rng.IntN(700))*time.Millisecond)
		if ctx.Err() != nil {
			return
		}
		cn, g, err := c.dial(ctx, p)
		if err != nil {
			continue
		}
		s := c.led.session(p, g)
		ack := rng.IntN(5) != 0
		read := func(cmd *protocol.Command) { s.read(cn, cmd, ack) }
		if err := cn.open(p.receiver, nil, read); err == nil {
			cn.await(time.Duration(200+rng.IntN(1300))*time.Millisecond, read,
				func(*protocol.Command) bool { return false })
		}
		cn.close()
	}
}

// session is one receiver session: what it was delivered, to find a
// message delivered twice.
type session struct {
	led  *ledger
	p    *pair
	seen map[string]bool // id -> whether it first came offline
}

// read handles one command read by a receiver session.
func (s *session) read(cn *conn, cmd *protocol.Command, ack bool) {
	if cmd.Kind != protocol.KindDirect {
		return
	}
	if first, ok := s.seen[cmd.ID]; ok {
		s.led.twice(s.p, cmd, first)
	} else {
		s.seen[cmd.ID] = cmd.Offline
	}
	s.led.delivered(s.p, cmd)
	if ack {
		cn.Send(&protocol.Command{Kind: protocol.KindAck, AppID: app, PeerID: s.p.receiver, IDs: []string{cmd.ID}, HasIDs: true})
	}
}

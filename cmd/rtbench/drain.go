package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/rtgate/rtgate/protocol"
)

// DrainResult is the drain workload's figure: how long a peer that
// opens with DrainMsgs persistent messages waiting takes to receive the
// last of them, from its session open command.
type DrainResult struct {
	Rounds    int     `json:"rounds"`    // rounds that completed
	Failed    int     `json:"failed"`    // rounds whose messages did not all arrive in time
	Msgs      int     `json:"messages"`  // waiting messages per round
	Placement string  `json:"placement"` // cross: the peer opens on another node than the sender's
	P50us     int64   `json:"p50_us"`    // open → last offline message
	P99us     int64   `json:"p99_us"`
	MaxUs     int64   `json:"max_us"`
	StoreP50  int64   `json:"store_p50_us"`   // first send → last server ack of a round's messages
	ServerCPU float64 `json:"server_cpu_pct"` // over the rounds, % of one core (a cluster's nodes summed)
	ClientCPU float64 `json:"client_cpu_pct"` // rtbench itself
	LastError string  `json:"last_error,omitempty"`
}

// drainWait bounds each wait of a round (acks, open, messages).
const drainWait = 15 * time.Second

// drainSenders is how many sender connections the drain workload takes
// turns with, and drainSenderRate the commands per second each may
// average: rtgate closes a WebSocket that sends more than 200 commands a
// second (its flood limit), and a round costs a sender DrainMsgs + 2.
const (
	drainSenders    = 8
	drainSenderRate = 100.0
)

// runDrain runs o.Rounds rounds, one after the other. In each, a sender
// (on node 0, taking turns and paced under the flood limit) watches a new peer, sends it o.DrainMsgs persistent messages
// and waits for the server's acks (they are stored); then the peer dials
// node 0 (placement same) or node 1 (cross), and the time from its
// `session open` to its last offline message is recorded. The peer acks
// every message as it arrives (as a client does) and hangs up.
func (b *bench) runDrain(ctx context.Context) (*DrainResult, error) {
	o := b.o
	res := &DrainResult{Msgs: o.DrainMsgs, Placement: o.Placement}
	if len(b.urls) == 1 {
		res.Placement = "" // one server: nothing to place
	}
	node := 0
	if len(b.urls) > 1 && o.Placement == placeCross {
		node = 1
	}
	var lat, store Hist
	free := make([]time.Time, len(b.senders)) // when each sender may start its next round
	text := make([]byte, o.Size)
	for i := range text {
		text[i] = 'x'
	}
	text[0] = 'D'
	srv0, srvErr := b.readServer()
	self0, _ := readProc("self")
	defer func() {
		if srv1, err := b.readServer(); err == nil && srvErr == nil {
			res.ServerCPU = cpuPercent(srv0, srv1)
		}
		if self1, err := readProc("self"); err == nil {
			res.ClientCPU = cpuPercent(self0, self1)
		}
	}()
	defer func() {
		res.P50us = int64(lat.Quantile(0.5) / time.Microsecond)
		res.P99us = int64(lat.Quantile(0.99) / time.Microsecond)
		res.MaxUs = int64(lat.Max() / time.Microsecond)
		res.StoreP50 = int64(store.Quantile(0.5) / time.Microsecond)
	}()
	for r := 0; r < o.Rounds && ctx.Err() == nil; r++ {
		k := r % len(b.senders)
		s := b.senders[k]
		sleepUntil(ctx, free[k])
		free[k] = time.Now().Add(time.Duration(float64(o.DrainMsgs+2) / drainSenderRate * float64(time.Second)))
		peer := b.run + "-d" + strconv.Itoa(r)
		if err := b.request(ctx, s, &protocol.Command{Kind: protocol.KindSessionAdd, PeerID: s.peer, SessionPeerIDs: []string{peer}, I: 2},
			protocol.KindSessionAdded); err != nil {
			return res, err
		}
		acks0 := b.acks.Load()
		t0 := time.Now()
		cmd := protocol.Command{Kind: protocol.KindDirect, PeerID: s.peer, ToPeerIDs: []string{peer}}
		for m := 0; m < o.DrainMsgs; m++ {
			cmd.Msg = string(text)
			if err := s.c.Send(&cmd); err != nil {
				return res, fmt.Errorf("rtbench: drain round %d: send: %w", r, err)
			}
		}
		if err := b.waitCount(ctx, s, func() bool { return b.acks.Load() >= acks0+int64(o.DrainMsgs) }); err != nil {
			return res, fmt.Errorf("rtbench: drain round %d: %d of %d messages acked: %w", r, b.acks.Load()-acks0, o.DrainMsgs, err)
		}
		store.Record(time.Since(t0))
		bc, err := b.dial(ctx, peer, node, int64(o.DrainMsgs))
		if err != nil {
			return res, err
		}
		open := time.Since(b.base)
		err = bc.c.Send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: o.AppID, PeerID: peer, I: 1})
		if err == nil {
			select {
			case <-bc.full:
				lat.Record(time.Duration(bc.fullAt.Load()) - open)
				res.Rounds++
			case <-time.After(drainWait):
				res.Failed++
				res.LastError = fmt.Sprintf("round %d: %d of %d offline messages after %v", r, bc.got.Load(), o.DrainMsgs, drainWait)
			case <-ctx.Done():
			}
		}
		bc.quit.Store(true)
		bc.c.Close()
		if err != nil {
			return res, fmt.Errorf("rtbench: drain round %d: open: %w", r, err)
		}
		if err := b.request(ctx, s, &protocol.Command{Kind: protocol.KindSessionRemove, PeerID: s.peer, SessionPeerIDs: []string{peer}, I: 3},
			protocol.KindSessionRemoved); err != nil {
			return res, err
		}
		if o.Progress != nil && (r+1)%10 == 0 {
			fmt.Fprintf(o.Progress, "\r%s drain round %d/%d p50=%v p99=%v failed=%d   ", b.t.name, r+1, o.Rounds,
				lat.Quantile(0.5).Round(10*time.Microsecond), lat.Quantile(0.99).Round(10*time.Microsecond), res.Failed)
		}
	}
	if o.Progress != nil {
		fmt.Fprintln(o.Progress)
	}
	if dead := b.connErrs.Load(); dead > 0 {
		return res, fmt.Errorf("rtbench: %d connections ended during the drain rounds", dead)
	}
	return res, ctx.Err()
}

// request sends cmd on bc and waits for a reply of kind k.
func (b *bench) request(ctx context.Context, bc *bconn, cmd *protocol.Command, k protocol.Kind) error {
	if err := bc.c.Send(cmd); err != nil {
		return err
	}
	_, err := b.await(ctx, bc, k)
	return err
}

// waitCount polls cond every millisecond until it holds, for at most
// drainWait, or until bc's connection ends.
func (b *bench) waitCount(ctx context.Context, bc *bconn, cond func() bool) error {
	deadline := time.Now().Add(drainWait)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v", drainWait)
		}
		if bc.dead.Load() {
			msg := "connection ended"
			if e := b.lastErr.Load(); e != nil {
				msg += ": " + *e
			}
			return errors.New(msg)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

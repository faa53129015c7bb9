package core

import (
	"slices"
	"time"

	"github.com/rtgate/rtgate/cluster"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/storage"
)

// The hub's side of the cluster seam. Every node registers its peers' 0→1
// and 1→0 transitions with the Presence, and writes presence events to its
// watchers only from the Presence's transition stream (one ordered source,
// on every node alike), outside the registry's shard locks. Frames for a
// peer go to this node's sessions directly and, in a cluster, as one
// Delivery per other node that holds some recipients.

// attach registers s; on the peer's first session on this node it tells
// the Presence, and undoes the registration when that fails.
func (h *Hub) attach(s *session) error {
	if !h.reg.attach(s) {
		return nil
	}
	ctx, cancel := h.storeCtx()
	err := h.pr.Register(ctx, s.app.ID, s.peer)
	cancel()
	if err != nil {
		h.metrics.ClusterErrors.Inc()
		h.log.Warn("presence register", "app", s.app.ID, "peer", s.peer, "err", err)
		if h.reg.detach(s) {
			h.unregister(s)
		}
		return err
	}
	return nil
}

// detach unregisters s; on the peer's last session on this node it tells
// the Presence.
func (h *Hub) detach(s *session) {
	if h.reg.detach(s) {
		h.unregister(s)
	}
}

func (h *Hub) unregister(s *session) {
	ctx, cancel := h.storeCtx()
	err := h.pr.Unregister(ctx, s.app.ID, s.peer)
	cancel()
	if err != nil {
		h.metrics.ClusterErrors.Inc()
		h.log.Warn("presence unregister", "app", s.app.ID, "peer", s.peer, "err", err)
	}
}

// syncPresence makes the Presence's memory current before an answer that
// lists online peers (opened, added, query-result) and before a message
// to an open group picks its nodes: a peer whose `opened` (or `joined`)
// was written on any node before this command arrived is counted, and a
// later transition cannot announce it again. It costs one round trip to
// the bucket's stream leader, shared by concurrent calls. On failure
// (NATS unavailable) the answer comes from memory as it is.
func (h *Hub) syncPresence() {
	if h.prSync == nil {
		return
	}
	ctx, cancel := h.storeCtx()
	err := h.prSync.Sync(ctx)
	cancel()
	if err != nil {
		h.metrics.ClusterErrors.Inc()
		h.log.Debug("presence sync", "err", err)
	}
}

// onTransition writes a presence event to every session on this node
// watching the peer. The Presence calls it for one peer at a time, in
// transition order.
func (h *Hub) onTransition(t cluster.Transition) {
	st := protocol.StatusOff
	if t.Online {
		st = protocol.StatusOn
	}
	var buf [16]*session
	ws := h.reg.transition(buf[:0], t.App, t.Peer, t.Online)
	cmd := protocol.Command{Kind: protocol.KindPresence, Status: st, SessionPeerIDs: []string{t.Peer}}
	for _, w := range ws {
		cmd.PeerID = w.peer
		if err := w.push(&cmd); err != nil {
			h.noteWrite(err)
		}
	}
	clear(ws)
}

// Online reports whether peer of app has an open session on any node,
// from this node's memory.
func (h *Hub) Online(app, peer string) bool { return h.pr.Online(app, peer) }

// Node is this node's incarnation in the cluster ("local" on a single
// node).
func (h *Hub) Node() cluster.Node { return h.dl.Self() }

// remoteBatch is the recipients of one frame on one other node.
type remoteBatch struct {
	node  cluster.Node
	peers []string
}

// remotes is the other nodes a frame goes to, collected while the local
// sessions are written. Its zero value is ready; it stays empty on a
// single node.
type remotes struct {
	batches []remoteBatch
}

// add notes the other nodes that hold peer.
func (h *Hub) addRemote(r *remotes, app, peer string) {
	if !h.remote {
		return
	}
	self := h.dl.Self()
	// A local buffer, not a field of r: one passed to the interface call
	// escapes, and would move every caller's remotes to the heap, in a
	// single node too.
	var nodes [4]cluster.Node
	for _, n := range h.pr.Nodes(nodes[:0], app, peer) {
		if n == self {
			continue
		}
		i := slices.IndexFunc(r.batches, func(b remoteBatch) bool { return b.node == n })
		if i < 0 {
			r.batches = append(r.batches, remoteBatch{node: n})
			i = len(r.batches) - 1
		}
		r.batches[i].peers = append(r.batches[i].peers, peer)
	}
}

// sendRemote sends cmd once to each other node collected in r, with that
// node's recipients.
func (h *Hub) sendRemote(app string, cmd *protocol.Command, r *remotes) {
	if len(r.batches) == 0 {
		return
	}
	saved := cmd.PeerID
	cmd.PeerID = ""
	frame := protocol.AppendMsgpack(nil, cmd)
	cmd.PeerID = saved
	ctx, cancel := h.storeCtx()
	defer cancel()
	ir, _ := h.store.(storage.InboxRefs)
	persistent := ir != nil && cmd.Kind == protocol.KindDirect && !cmd.Transient && cmd.ID != ""
	for _, b := range r.batches {
		d := cluster.Delivery{App: app, To: b.peers, Frame: frame}
		if persistent {
			d.Refs = inboxRefs(ir, app, cmd.ID, b.peers)
		}
		if err := h.dl.Deliver(ctx, b.node, &d); err != nil {
			h.metrics.ClusterErrors.Inc()
			h.log.Debug("deliver to node", "node", b.node, "err", err)
			continue
		}
		h.metrics.ClusterOut.Inc()
	}
}

// inboxRefs is the store's ref to message id in each peer's inbox (see
// storage.InboxRefs); nil when it has none at all.
func inboxRefs(ir storage.InboxRefs, app, id string, peers []string) [][]byte {
	var refs [][]byte
	for i, p := range peers {
		ref := ir.InboxRef(app, p, id)
		if ref == nil {
			continue
		}
		if refs == nil {
			refs = make([][]byte, len(peers))
		}
		refs[i] = ref
	}
	return refs
}

// onDelivery writes a frame that another node sent to the sessions of its
// recipients on this node.
func (h *Hub) onDelivery(d *cluster.Delivery) {
	var cmd protocol.Command
	if err := protocol.DecodeMsgpack(d.Frame, &cmd); err != nil {
		h.metrics.ClusterErrors.Inc()
		h.log.Warn("undecodable delivery from another node", "err", err)
		return
	}
	h.metrics.ClusterIn.Inc()
	if d.Group != "" {
		h.writeOpen(d.App, d.Group, &cmd, nil)
		return
	}
	kind := kindOf(&cmd)
	persistent := cmd.Kind == protocol.KindDirect && !cmd.Transient
	var buf [8]*session
	ir, _ := h.store.(storage.InboxRefs)
	for i, p := range d.To {
		sessions := h.reg.sessions(buf[:0], d.App, p)
		if persistent && ir != nil && len(sessions) > 0 && i < len(d.Refs) && d.Refs[i] != nil {
			// Before the push: the ack must find where the message is.
			ir.LearnInboxRef(p, &storage.Message{App: d.App, ID: cmd.ID, From: cmd.FromPeerID,
				Room: cmd.RoomID, Text: cmd.Msg, Time: cmd.Timestamp}, d.Refs[i])
		}
		for _, rs := range sessions {
			cmd.PeerID = p
			// Before the push: the recipient's ack may be handled before
			// it returns, and must find the id.
			if persistent && !rs.noteLive(cmd.ID, h.cfg.MaxDelivered) {
				continue // the inbox redelivery sent it to this session
			}
			if err := rs.push(&cmd); err != nil {
				h.noteWrite(err)
				continue
			}
			h.metrics.MessagesOut.WithLabelValues(kind).Inc()
		}
		clear(sessions)
	}
}

// kindOf names a frame for the messages_out metric.
func kindOf(cmd *protocol.Command) string {
	switch {
	case cmd.Kind == protocol.KindRcp:
		return "rcp"
	case cmd.Kind != protocol.KindDirect:
		return "group_event"
	case cmd.RoomID != "":
		return "group"
	}
	return "direct"
}

// startCluster connects the hub to its Presence and Deliverer.
func (h *Hub) startCluster() error {
	h.stopWatch = h.pr.Watch(h.onTransition)
	if !h.remote {
		return nil
	}
	stop, err := h.dl.Subscribe(h.onDelivery)
	if err != nil {
		h.stopWatch()
		return err
	}
	h.stopSub = stop
	if n, ok := h.store.(storage.InboxNotifier); ok {
		n.OnInboxAdded(h.onInboxAdded)
	}
	return nil
}

// onInboxAdded sends new inbox entries that the store added outside a
// Persist (a dead node's held entries, published by another node) to the
// open sessions of their peers on this node, in a goroutine of its own.
func (h *Hub) onInboxAdded(app string, peers []string) {
	go func() { // ends after one read of each peer's inbox
		var buf [8]*session
		for _, p := range peers {
			sessions := h.reg.sessions(buf[:0], app, p)
			for _, s := range sessions {
				if s.ended.Load() || s.client.closed.Load() {
					continue
				}
				h.metrics.Redrains.Inc()
				s.client.redeliver(s)
			}
			clear(sessions)
		}
	}()
}

// stopCluster disconnects the hub from its Presence and Deliverer.
func (h *Hub) stopCluster() {
	if h.stopWatch != nil {
		h.stopWatch()
	}
	if h.stopSub != nil {
		h.stopSub()
	}
}

// redrainLater reads the peer's inbox again Config.Redrain after s opened
// (scaleout.md section 3.1): a sender on another node whose presence map
// had not yet seen s's node stored its message after the first drain and
// sent the live copy nowhere. Ids already delivered to s are skipped, and
// so are messages stored more than Redrain/2 after the open: the senders'
// maps had seen the open by then (it spreads in about a millisecond), so
// those went live, and a live copy still on its way must not be overtaken
// by an offline one.
func (h *Hub) redrainLater(c *Client, s *session) {
	upTo := h.nowMs() + (h.cfg.Redrain / 2).Milliseconds()
	time.AfterFunc(h.cfg.Redrain, func() { // owned by the runtime timer; ends at once when s ended
		if s.ended.Load() || c.closed.Load() {
			return
		}
		h.metrics.Redrains.Inc()
		c.redeliverUpTo(s, upTo)
	})
}

// Redrain reads again the inbox of every session open on this node and
// sends what it has not been sent: call it after the node's link to the
// other nodes was broken (a NATS reconnect, a slow delivery
// subscription), during which live copies may have been lost. It runs in
// the caller's goroutine, one session after the other, and returns how
// many sessions it read.
func (h *Hub) Redrain() int {
	var all []*session
	for i := range h.reg.shards {
		sh := &h.reg.shards[i]
		sh.mu.Lock()
		for _, e := range sh.peers {
			all = append(all, e.sessions...)
		}
		sh.mu.Unlock()
	}
	n := 0
	for _, s := range all {
		if s.ended.Load() || s.client.closed.Load() {
			continue
		}
		h.metrics.Redrains.Inc()
		s.client.redeliver(s)
		n++
	}
	return n
}

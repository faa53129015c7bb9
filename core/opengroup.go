package core

import (
	"sync"
	"time"

	"github.com/rtgate/rtgate/cluster"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/storage"
)

// Open (transient, "tr") groups keep no member list in the store: their
// members are the sessions in openGroups, on each node. In a cluster the
// hub registers each session that enters or leaves an open group with
// cluster.OpenGroups (outside openGroups.mu), which tells every node the
// nodes hosting each group's members and how many peers it has: a
// message to the group goes to this node's member sessions and, as one
// Delivery per other node hosting members, to theirs; the online count
// is the cluster's.

// openGroups tracks the sessions in open (transient) groups on this node.
type openGroups struct {
	mu      sync.Mutex
	members map[peerKey]map[*session]struct{} // (app, group) -> sessions; guarded by mu
	of      map[*session]string               // session -> its open group; guarded by mu
	rejoin  map[peerKey]rejoinTicket          // (app, peer) -> group to rejoin; guarded by mu
}

type rejoinTicket struct {
	group string
	until time.Time
}

// enterOpenGroup puts s in the open group, leaving its previous one
// silently (protocol-v1 §8 q21). registered says the caller registered
// s's entry with the cluster already (openEntered).
func (h *Hub) enterOpenGroup(s *session, group string, registered bool) {
	og := &h.open
	og.mu.Lock()
	if og.members == nil {
		og.members = make(map[peerKey]map[*session]struct{})
		og.of = make(map[*session]string)
		og.rejoin = make(map[peerKey]rejoinTicket)
	}
	old, had := og.of[s]
	if had && old == group {
		og.mu.Unlock()
		if registered {
			h.openLeft(s, group) // in it already: undo the second registration
		}
		return
	}
	if had {
		h.dropOpenLocked(s, old)
	}
	k := peerKey{s.app.ID, group}
	if og.members[k] == nil {
		og.members[k] = make(map[*session]struct{})
	}
	og.members[k][s] = struct{}{}
	og.of[s] = group
	og.mu.Unlock()
	if had {
		h.openLeft(s, old)
	}
	if !registered {
		h.openEntered(s, group)
	}
}

func (h *Hub) dropOpenLocked(s *session, group string) {
	k := peerKey{s.app.ID, group}
	delete(h.open.members[k], s)
	if len(h.open.members[k]) == 0 {
		delete(h.open.members, k)
	}
	delete(h.open.of, s)
}

func (h *Hub) exitOpenGroup(s *session, group string) {
	h.open.mu.Lock()
	in := h.open.of[s] == group
	if in {
		h.dropOpenLocked(s, group)
	}
	delete(h.open.rejoin, peerKey{s.app.ID, s.peer})
	h.open.mu.Unlock()
	if in {
		h.openLeft(s, group)
	}
	if h.rj != nil {
		ctx, cancel := h.storeCtx()
		err := h.rj.DropRejoin(ctx, s.app.ID, s.peer)
		cancel()
		if err != nil {
			h.metrics.ClusterErrors.Inc()
			h.log.Warn("open group rejoin drop", "app", s.app.ID, "peer", s.peer, "err", err)
		}
	}
}

func (h *Hub) inOpenGroup(s *session, group string) bool {
	h.open.mu.Lock()
	defer h.open.mu.Unlock()
	return h.open.of[s] == group
}

// leaveRooms runs when a session ends: it leaves its open group, keeping a
// rejoin ticket for OpenGroupRejoin.
func (h *Hub) leaveRooms(s *session) {
	h.open.mu.Lock()
	g, ok := h.open.of[s]
	if ok {
		h.dropOpenLocked(s, g)
		h.open.rejoin[peerKey{s.app.ID, s.peer}] = rejoinTicket{group: g, until: h.cfg.Now().Add(h.cfg.OpenGroupRejoin)}
	}
	h.open.mu.Unlock()
	if !ok {
		return
	}
	h.openLeft(s, g)
	if h.rj != nil {
		ctx, cancel := h.storeCtx()
		err := h.rj.KeepRejoin(ctx, s.app.ID, s.peer, g, h.cfg.OpenGroupRejoin)
		cancel()
		if err != nil {
			h.metrics.ClusterErrors.Inc()
			h.log.Warn("open group rejoin keep", "app", s.app.ID, "peer", s.peer, "err", err)
		}
	}
}

// rejoinOpenGroup puts a newly opened session back in its open group when
// the peer left it less than OpenGroupRejoin ago: on this node, or, in a
// cluster, on any node.
func (h *Hub) rejoinOpenGroup(s *session) {
	h.open.mu.Lock()
	t, ok := h.open.rejoin[peerKey{s.app.ID, s.peer}]
	h.open.mu.Unlock()
	switch {
	case h.rj != nil: // the cluster's record, which an explicit leave on another node dropped
		if g := h.rj.Rejoin(s.app.ID, s.peer); g != "" {
			h.enterOpenGroup(s, g, false)
		}
	case ok && h.cfg.Now().Before(t.until):
		h.enterOpenGroup(s, t.group, false)
	}
}

// openEntered tells the cluster that s entered the open group.
func (h *Hub) openEntered(s *session, group string) { h.openRegister(s, group, true) }

// openLeft tells the cluster that s left the open group.
func (h *Hub) openLeft(s *session, group string) { h.openRegister(s, group, false) }

func (h *Hub) openRegister(s *session, group string, enter bool) {
	if h.og == nil {
		return
	}
	ctx, cancel := h.storeCtx()
	var err error
	if enter {
		err = h.og.EnterGroup(ctx, s.app.ID, group, s.peer)
	} else {
		err = h.og.LeaveGroup(ctx, s.app.ID, group, s.peer)
	}
	cancel()
	if err != nil { // the registry retries it; meanwhile members elsewhere may miss messages
		h.metrics.ClusterErrors.Inc()
		h.log.Warn("open group registration", "app", s.app.ID, "group", group, "peer", s.peer, "enter", enter, "err", err)
	}
}

// deliverOpen writes a transient group message to the open group's
// sessions on this node but origin, and sends it once to every other node
// hosting members.
func (h *Hub) deliverOpen(m *storage.Message, origin *session) {
	out := getCommand()
	defer putCommand(out)
	*out = protocol.Command{Kind: protocol.KindDirect, FromPeerID: m.From, Msg: m.Text, ID: m.ID,
		Timestamp: m.Time, RoomID: m.Room, Transient: true}
	h.writeOpen(m.App, m.Room, out, origin)
	if h.og == nil {
		return
	}
	// A member that joined on another node before this message was sent
	// must be in the view (as on one node): catch up with the bucket.
	h.syncPresence()
	var buf [4]cluster.Node
	nodes := h.og.GroupNodes(buf[:0], m.App, m.Room)
	self := h.dl.Self()
	var frame []byte
	for _, n := range nodes {
		if n == self {
			continue
		}
		if frame == nil {
			out.PeerID = ""
			frame = protocol.AppendMsgpack(nil, out)
		}
		ctx, cancel := h.storeCtx()
		err := h.dl.Deliver(ctx, n, &cluster.Delivery{App: m.App, Group: m.Room, Frame: frame})
		cancel()
		if err != nil {
			h.metrics.ClusterErrors.Inc()
			h.log.Debug("deliver open group message to node", "node", n, "err", err)
			continue
		}
		h.metrics.ClusterOut.Inc()
	}
}

// writeOpen writes out to the open group's sessions on this node but
// origin, setting PeerID to each one's peer.
func (h *Hub) writeOpen(app, group string, out *protocol.Command, origin *session) {
	h.open.mu.Lock()
	defer h.open.mu.Unlock()
	for rs := range h.open.members[peerKey{app, group}] {
		if rs == origin {
			continue
		}
		out.PeerID = rs.peer
		if err := rs.push(out); err != nil {
			h.noteWrite(err)
			continue
		}
		h.metrics.messageOut("group")
	}
}

// OpenGroupOnline returns how many distinct peers are in an open group
// (REST transient_group/onlines): on every node in a cluster (after
// catching up with the cluster's registry), on this node otherwise.
func (h *Hub) OpenGroupOnline(app, group string) int {
	if h.og != nil {
		h.syncPresence() // a member that joined on another node before the call counts
		return h.og.GroupSize(app, group)
	}
	h.open.mu.Lock()
	defer h.open.mu.Unlock()
	peers := map[string]struct{}{}
	for s := range h.open.members[peerKey{app, group}] {
		peers[s.peer] = struct{}{}
	}
	return len(peers)
}

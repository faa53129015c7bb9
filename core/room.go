package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"

	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/storage"
)

// Groups ("rooms") follow protocol-v1 §4.12 with the 2015 semantics: the
// actor gets the reply (joined/invited/kicked/left); invitees get `joined`
// and kicked peers `left`, each with byPeerId; `members-joined` goes to
// every member session including the new members, `members-left` to the
// remaining members. Membership of ordinary groups is durable (storage
// Groups); open groups (tr) keep no member list: their members are the
// sessions in openGroups, and a peer whose session ended rejoins
// automatically within OpenGroupRejoin.

func newGroupID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (c *Client) reject(s *session, cmd *protocol.Command, targets []string, why string, err error) error {
	c.hub.log.Info("room op rejected", "app", s.app.ID, "peer", s.peer, "op", cmd.Kind.Op(), "room", cmd.RoomID, "why", why, "err", err)
	if targets == nil {
		targets = []string{}
	}
	c.write(&protocol.Command{Kind: protocol.KindRoomReject, PeerID: s.peer, RoomID: cmd.RoomID, RoomPeerIDs: targets, I: cmd.I})
	return nil
}

// room handles room join/invite/kick/leave.
func (c *Client) room(s *session, cmd *protocol.Command) error {
	if e := checkPeerIDs("roomPeerIds", cmd.RoomPeerIDs...); e != nil {
		return c.fail(cmd.I, e.Code, protocol.ErrCodeBadCommand, e.Reason)
	}
	switch cmd.Kind {
	case protocol.KindRoomJoin:
		return c.join(s, cmd)
	case protocol.KindRoomInvite:
		return c.invite(s, cmd)
	case protocol.KindRoomKick:
		return c.kick(s, cmd)
	default:
		return c.leave(s, cmd)
	}
}

func (c *Client) loadGroup(s *session, id string) (*storage.Group, error) {
	if id == "" {
		return nil, storage.ErrNotFound
	}
	ctx, cancel := c.hub.storeCtx()
	defer cancel()
	return c.hub.store.Group(ctx, s.app.ID, id)
}

func (c *Client) join(s *session, cmd *protocol.Command) error {
	h := c.hub
	if err := h.authorizeRoom(s, cmd, cmd.RoomID, nil, "join"); err != nil {
		return c.reject(s, cmd, nil, "signature", err)
	}
	if cmd.RoomID == "" {
		now := h.cfg.Now().UTC()
		g := &storage.Group{App: s.app.ID, ID: newGroupID(), Transient: cmd.Transient, CreatedAt: now, UpdatedAt: now}
		if !g.Transient {
			g.Members = []string{s.peer}
		}
		ctx, cancel := h.storeCtx()
		err := h.store.CreateGroup(ctx, g)
		cancel()
		if err != nil {
			h.metrics.StoreErrors.Inc()
			return c.fail(cmd.I, protocol.CloseInternal, protocol.ErrCodeInternal, "group not created")
		}
		cmd.RoomID = g.ID
		return c.joined(s, cmd, g, []string{s.peer})
	}
	g, err := c.loadGroup(s, cmd.RoomID)
	if err != nil {
		return c.reject(s, cmd, nil, "no such group", err)
	}
	if g.Transient {
		return c.joined(s, cmd, g, nil)
	}
	ctx, cancel := h.storeCtx()
	added, err := h.store.AddMembers(ctx, s.app.ID, g.ID, []string{s.peer}, h.cfg.MaxGroupMembers)
	cancel()
	if err != nil {
		return c.reject(s, cmd, nil, "join failed", err)
	}
	return c.joined(s, cmd, g, added)
}

// joined replies to a successful join and tells the members.
func (c *Client) joined(s *session, cmd *protocol.Command, g *storage.Group, added []string) error {
	if g.Transient {
		// The cluster learns of the member before it gets `joined`: a
		// message sent to the group once it has is sent to its node. The
		// session itself is a member after the reply, as on one node.
		c.hub.openEntered(s, g.ID)
		c.write(&protocol.Command{Kind: protocol.KindRoomJoined, PeerID: s.peer, RoomID: g.ID, ByPeerID: s.peer, I: cmd.I})
		c.hub.enterOpenGroup(s, g.ID, true)
		return nil
	}
	c.write(&protocol.Command{Kind: protocol.KindRoomJoined, PeerID: s.peer, RoomID: g.ID, ByPeerID: s.peer, I: cmd.I})
	if len(added) > 0 {
		c.hub.groupEvent(s.app.ID, g.ID, &protocol.Command{Kind: protocol.KindRoomMembersJoined, RoomID: g.ID,
			RoomPeerIDs: added, ByPeerID: s.peer}, nil)
	}
	return nil
}

// memberChange is an invite or a kick: the store call that changes the
// members, and the frames that tell the actor, the targets and the members.
type memberChange struct {
	action    string // signed action: "invite" or "kick"
	apply     func(h *Hub, ctx context.Context, app, id string, peers []string) ([]string, error)
	reply     protocol.Kind // to the actor, with the peers changed
	toTarget  protocol.Kind // to each peer changed, byPeerId = actor
	toMembers protocol.Kind // to the members after the change
}

var (
	inviteChange = memberChange{"invite",
		func(h *Hub, ctx context.Context, app, id string, peers []string) ([]string, error) {
			return h.store.AddMembers(ctx, app, id, peers, h.cfg.MaxGroupMembers)
		}, protocol.KindRoomInvited, protocol.KindRoomJoined, protocol.KindRoomMembersJoined}
	kickChange = memberChange{"kick",
		func(h *Hub, ctx context.Context, app, id string, peers []string) ([]string, error) {
			return h.store.RemoveMembers(ctx, app, id, peers)
		}, protocol.KindRoomKicked, protocol.KindRoomLeft, protocol.KindRoomMembersLeft}
)

func (c *Client) invite(s *session, cmd *protocol.Command) error {
	return c.changeMembers(s, cmd, &inviteChange)
}
func (c *Client) kick(s *session, cmd *protocol.Command) error {
	return c.changeMembers(s, cmd, &kickChange)
}

// changeMembers runs an invite or a kick by a member of an ordinary group.
func (c *Client) changeMembers(s *session, cmd *protocol.Command, mc *memberChange) error {
	h := c.hub
	if err := h.authorizeRoom(s, cmd, cmd.RoomID, cmd.RoomPeerIDs, mc.action); err != nil {
		return c.reject(s, cmd, cmd.RoomPeerIDs, "signature", err)
	}
	g, err := c.loadGroup(s, cmd.RoomID)
	if err != nil || g.Transient || !slices.Contains(g.Members, s.peer) {
		return c.reject(s, cmd, cmd.RoomPeerIDs, "not a member of an ordinary group", err)
	}
	ctx, cancel := h.storeCtx()
	changed, err := mc.apply(h, ctx, s.app.ID, g.ID, cmd.RoomPeerIDs)
	cancel()
	if err != nil {
		if !errors.Is(err, storage.ErrGroupFull) {
			h.metrics.StoreErrors.Inc()
		}
		return c.reject(s, cmd, cmd.RoomPeerIDs, mc.action+" failed", err)
	}
	c.write(&protocol.Command{Kind: mc.reply, PeerID: s.peer, RoomID: g.ID, RoomPeerIDs: nonNil(changed), ByPeerID: s.peer, I: cmd.I})
	if len(changed) == 0 {
		return nil
	}
	var far remotes
	target := protocol.Command{Kind: mc.toTarget, RoomID: g.ID, ByPeerID: s.peer}
	for _, p := range changed {
		h.addRemote(&far, s.app.ID, p)
		h.toPeer(s.app.ID, p, &target, nil)
	}
	h.sendRemote(s.app.ID, &target, &far)
	h.groupEvent(s.app.ID, g.ID, &protocol.Command{Kind: mc.toMembers, RoomID: g.ID, RoomPeerIDs: changed, ByPeerID: s.peer}, nil)
	return nil
}

func (c *Client) leave(s *session, cmd *protocol.Command) error {
	h := c.hub
	g, err := c.loadGroup(s, cmd.RoomID)
	if err == nil && g.Transient {
		h.exitOpenGroup(s, g.ID)
	}
	var removed []string
	if err == nil && !g.Transient {
		ctx, cancel := h.storeCtx()
		removed, err = h.store.RemoveMembers(ctx, s.app.ID, g.ID, []string{s.peer})
		cancel()
		if err != nil {
			h.metrics.StoreErrors.Inc()
		}
	}
	c.write(&protocol.Command{Kind: protocol.KindRoomLeft, PeerID: s.peer, RoomID: cmd.RoomID, ByPeerID: s.peer, I: cmd.I})
	if len(removed) > 0 {
		h.groupEvent(s.app.ID, g.ID, &protocol.Command{Kind: protocol.KindRoomMembersLeft, RoomID: g.ID, RoomPeerIDs: removed, ByPeerID: s.peer}, nil)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// toPeer writes cmd to every open session of peer except skip, setting
// PeerID to the recipient; it reports whether any session got it.
func (h *Hub) toPeer(app, peer string, cmd *protocol.Command, skip *session) bool {
	var buf [8]*session
	sessions := h.reg.sessions(buf[:0], app, peer)
	got := false
	for _, rs := range sessions {
		if rs == skip {
			continue
		}
		cmd.PeerID = peer
		if err := rs.push(cmd); err != nil {
			h.noteWrite(err)
			continue
		}
		got = true
	}
	clear(sessions)
	return got
}

// groupEvent writes cmd to every session of every current member.
func (h *Hub) groupEvent(app, group string, cmd *protocol.Command, skip *session) {
	ctx, cancel := h.storeCtx()
	g, err := h.store.Group(ctx, app, group)
	cancel()
	if err != nil {
		h.log.Error("load group for event", "app", app, "group", group, "err", err)
		return
	}
	var far remotes
	for _, p := range g.Members {
		h.addRemote(&far, app, p)
		if h.toPeer(app, p, cmd, skip) {
			h.metrics.MessagesOut.WithLabelValues("group_event").Inc()
		}
	}
	h.sendRemote(app, cmd, &far)
}

// groupDirect handles a direct message to a group: fan-out to every member
// session except the originating one; persistent messages go to history and
// to the inboxes of members with no open session. Non-members are acked
// and not delivered.
func (c *Client) groupDirect(s *session, cmd *protocol.Command) error {
	h := c.hub
	g, err := c.loadGroup(s, cmd.RoomID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		h.metrics.StoreErrors.Inc()
		return c.fail(cmd.I, protocol.CloseInternal, protocol.ErrCodeInternal, "group not readable")
	}
	transient := cmd.Transient || (g != nil && g.Transient)
	kind := "group"
	if transient {
		kind = "group_transient"
	}
	h.metrics.messageIn(kind)
	sent, done, err := c.dedupe(s, cmd)
	if done {
		return err
	}
	m := storage.Message{App: s.app.ID, ID: h.newMessageID(), From: s.peer, Room: cmd.RoomID, ConvID: cmd.RoomID,
		Text: cmd.Msg, Time: h.nowMs(), FromIP: remoteIP(c.conn.Info().RemoteAddr)}
	switch {
	case g == nil:
		h.metrics.Undelivered.WithLabelValues("no_group").Inc()
	case g.Transient:
		if h.inOpenGroup(s, g.ID) {
			h.deliverOpen(&m, s)
		} else {
			h.metrics.Undelivered.WithLabelValues("not_member").Inc()
		}
	case !slices.Contains(g.Members, s.peer):
		h.metrics.Undelivered.WithLabelValues("not_member").Inc()
	default:
		if !transient {
			sent.tag(&m, cmd.ID)
			ctx, cancel := h.storeCtx()
			err := h.persist(ctx, s.app, &m, g.Members)
			cancel()
			if err != nil {
				h.log.Error("persist group message", "app", m.App, "group", m.Room, "err", err)
				h.finishSent(sent, false, "", 0)
				return c.fail(cmd.I, protocol.CloseInternal, protocol.ErrCodeInternal, "message not stored")
			}
		}
		h.deliver(&m, g.Members, transient, s)
	}
	h.finishSent(sent, true, m.ID, m.Time)
	if !cmd.Transient {
		c.ackSent(s, cmd, m.ID, m.Time)
	}
	return nil
}

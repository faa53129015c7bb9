package core

import (
	"fmt"

	"github.com/rtgate/rtgate/protocol"
)

// open handles `session open`: a new session, or a re-open of one already
// open on this connection (answered `opened` again). Pending inbox messages
// follow the `opened` reply, oldest first, with offline:true, before any
// push (the session is held until they are written).
func (c *Client) open(cmd *protocol.Command) error {
	if e := checkPeerIDs("peerId", cmd.PeerID); e != nil {
		return e
	}
	if e := checkPeerIDs("sessionPeerIds", cmd.SessionPeerIDs...); e != nil {
		return e
	}
	s := c.sessions[cmd.PeerID]
	if s == nil {
		app, ok := c.hub.cfg.Apps.App(cmd.AppID)
		if !ok {
			return protocol.Closef(protocol.CloseAppNotAvailable, "unknown app %q", cmd.AppID)
		}
		if len(c.sessions) >= c.hub.cfg.MaxPeersPerConn {
			return c.fail(cmd.I, protocol.ClosePolicyViolation, protocol.ErrCodeBadCommand,
				fmt.Sprintf("at most %d sessions per connection", c.hub.cfg.MaxPeersPerConn))
		}
		watch, superPeer, err := c.hub.authorizeOpen(app, cmd)
		if err != nil {
			// A refused open gets no reply and closes with 4108 (v1 docs).
			return protocol.Closef(protocol.CloseLoginTimeout, "session open refused: %v", err)
		}
		s = &session{client: c, app: app, peer: cmd.PeerID, super: superPeer, watch: make(map[string]struct{})}
		s.hold() // released after `opened`: no push precedes it
		cmd.SessionPeerIDs = watch
		c.sessions[s.peer] = s
		c.loggedIn.Store(true)
		if err := c.hub.attach(s); err != nil {
			delete(c.sessions, s.peer)
			return protocol.Closef(protocol.CloseGoingAway, "session open refused, try again: %v", err)
		}
		c.hub.metrics.Sessions.Inc()
		c.hub.rejoinOpenGroup(s)
	} else if watch, _, err := c.hub.authorizeOpen(s.app, cmd); err != nil {
		return protocol.Closef(protocol.CloseLoginTimeout, "session open refused: %v", err)
	} else {
		cmd.SessionPeerIDs = watch
		s.hold()
	}
	online, err := c.watchAll(s, cmd.SessionPeerIDs)
	if err != nil {
		err = c.failWatch(cmd.I, err)
		s.release(c.hub.noteWrite)
		return err
	}
	c.write(&protocol.Command{Kind: protocol.KindSessionOpened, PeerID: s.peer, AppID: s.app.ID,
		OnlineSessionPeerIDs: online, I: cmd.I})
	// The pending inbox follows `opened` before any push: a live message
	// sent once the client saw `opened` (its sender may be on another
	// node, faster than a cluster store's read) stays behind the older
	// offline ones.
	err = c.redeliver(s)
	s.release(c.hub.noteWrite)
	if c.hub.remote && c.hub.cfg.Redrain > 0 {
		c.hub.redrainLater(c, s)
	}
	return err
}

// watchAll adds peers to the session's watch set and returns those online.
// Over the session's bound it returns an error (answered by failWatch);
// over the connection's or the app's, a *protocol.CloseError.
func (c *Client) watchAll(s *session, peers []string) ([]string, error) {
	online := []string{}
	fresh := 0 // an upper bound: duplicates in peers are counted twice
	for _, p := range peers {
		if _, ok := s.watch[p]; !ok {
			fresh++
		}
	}
	if e := c.reserveWatches(s, fresh); e != nil {
		return online, e
	}
	if len(peers) > 0 {
		c.hub.syncPresence()
	}
	defer func() { c.giveWatches(s, fresh) }() // what was not used
	for _, p := range peers {
		if _, ok := s.watch[p]; !ok {
			if len(s.watch) >= c.hub.cfg.MaxWatch {
				return online, fmt.Errorf("at most %d watched peers per session", c.hub.cfg.MaxWatch)
			}
			s.watch[p] = struct{}{}
			fresh--
			c.hub.metrics.Watches.Inc()
			if c.hub.reg.watch(s, p, func() bool { return c.hub.pr.Online(s.app.ID, p) }) {
				online = append(online, p)
			}
			if c.hub.afterWatch != nil {
				c.hub.afterWatch(p)
			}
		} else if c.hub.pr.Online(s.app.ID, p) {
			online = append(online, p)
		}
	}
	return online, nil
}

func (c *Client) add(s *session, cmd *protocol.Command) error {
	if e := checkPeerIDs("sessionPeerIds", cmd.SessionPeerIDs...); e != nil {
		return e
	}
	peers, err := c.hub.authorizeAdd(s, cmd)
	if err != nil {
		// protocol-v1 §8 q4: a refused add answers `added` with nothing added.
		c.hub.log.Info("session add refused", "app", s.app.ID, "peer", s.peer, "err", err)
		peers = nil
	}
	s.hold()
	online, err := c.watchAll(s, peers)
	if err != nil {
		err = c.failWatch(cmd.I, err)
		s.release(c.hub.noteWrite)
		return err
	}
	c.write(&protocol.Command{Kind: protocol.KindSessionAdded, PeerID: s.peer, OnlineSessionPeerIDs: online, I: cmd.I})
	s.release(c.hub.noteWrite)
	return nil
}

func (c *Client) remove(s *session, cmd *protocol.Command) error {
	n := 0
	for _, p := range cmd.SessionPeerIDs {
		if _, ok := s.watch[p]; ok {
			delete(s.watch, p)
			c.hub.reg.unwatch(s, p)
			n++
		}
	}
	c.giveWatches(s, n)
	c.hub.metrics.Watches.Sub(float64(n))
	c.write(&protocol.Command{Kind: protocol.KindSessionRemoved, PeerID: s.peer, I: cmd.I})
	return nil
}

func (c *Client) query(s *session, cmd *protocol.Command) error {
	online := []string{}
	if len(cmd.SessionPeerIDs) > 0 {
		c.hub.syncPresence()
	}
	for _, p := range cmd.SessionPeerIDs {
		if c.hub.pr.Online(s.app.ID, p) {
			online = append(online, p)
		}
	}
	c.write(&protocol.Command{Kind: protocol.KindSessionQueryResult, PeerID: s.peer, OnlineSessionPeerIDs: online, I: cmd.I})
	return nil
}

// closeSession handles `session close`: the peer logs out on this
// connection, which stays open for its other sessions.
func (c *Client) closeSession(s *session, cmd *protocol.Command) error {
	c.endSession(s)
	delete(c.sessions, s.peer)
	c.write(&protocol.Command{Kind: protocol.KindSessionClosed, PeerID: s.peer, I: cmd.I})
	return nil
}

// endSession unregisters s: its watches, then the session itself (presence
// "off" if it was the peer's last one).
func (c *Client) endSession(s *session) {
	for p := range s.watch {
		c.hub.reg.unwatch(s, p)
	}
	c.giveWatches(s, len(s.watch))
	c.hub.metrics.Watches.Sub(float64(len(s.watch)))
	c.hub.leaveRooms(s)
	s.ended.Store(true)
	c.hub.detach(s)
	c.hub.metrics.Sessions.Dec()
}

// failWatch answers a watchAll error: a close error as it is, the
// session's bound as a recoverable failure.
func (c *Client) failWatch(i int64, err error) error {
	if ce, ok := err.(*protocol.CloseError); ok {
		return ce
	}
	return c.fail(i, protocol.ClosePolicyViolation, protocol.ErrCodeBadCommand, err.Error())
}

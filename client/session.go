package client

import (
	"context"
	"crypto/rand"
	"slices"
	"time"

	"github.com/rtgate/rtgate/protocol"
)

type sessionState uint8

const (
	stateOpening sessionState = iota // never opened yet
	stateOpen                        // open on the live connection
	statePaused                      // was open; waiting for the connection to come back
	stateClosed                      // closed (err says why)
)

// Session is one peer's session on a Client. Its methods are safe for
// concurrent use; each request waits for the session to be live (open on
// the current connection), sends, and waits for the reply, all bounded by
// Config.RequestTimeout and the context.
type Session struct {
	c    *Client
	peer string // immutable

	state    sessionState        // guarded by c.mu
	opening  bool                // a `session open` is in flight; guarded by c.mu
	watch    []string            // the watch list, in the order added; guarded by c.mu
	online   map[string]struct{} // watched peers known online; guarded by c.mu
	ready    chan struct{}       // closed while open; replaced when paused; guarded by c.mu
	closedCh chan struct{}       // closed at stateClosed
	err      error               // why it closed; guarded by c.mu, immutable after closedCh
}

// SendOptions are the options of a message.
type SendOptions struct {
	// Transient messages are delivered only to sessions open now: never
	// stored, never acknowledged; Send returns without waiting.
	Transient bool
	// Receipt asks for a delivery receipt (OnReceipt) when the recipient
	// acknowledges. Only for persistent messages to one peer.
	Receipt bool
	// ID is the message's client id, which makes sending it again safe:
	// the server acks a repeat within its dedupe window (10 min by
	// default) with the first message's id and stores and delivers it
	// once. Empty means a random one. Give your own to resend from an
	// outbox kept across restarts. Persistent messages in the modern
	// dialects (all but CodecLegacy) only.
	ID string
}

// Open opens a session for peerID watching the given peers and waits until
// the server confirmed it. The session is then kept open across
// reconnections until Session.Close or Client.Close. The online peers
// among watch are reported to Handler.OnOnline (and by Session.Online).
func (c *Client) Open(ctx context.Context, peerID string, watch ...string) (*Session, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	s := &Session{
		c: c, peer: peerID, online: make(map[string]struct{}),
		ready: make(chan struct{}), closedCh: make(chan struct{}),
	}
	for _, p := range watch {
		if !slices.Contains(s.watch, p) {
			s.watch = append(s.watch, p)
		}
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if c.sessions[peerID] != nil {
		c.mu.Unlock()
		return nil, ErrSessionExists
	}
	c.sessions[peerID] = s
	live := c.conn != nil // else the next connection opens it (see serve)
	c.mu.Unlock()
	if live {
		if err := c.sendOpen(ctx, s); err != nil {
			s.drop(err)
			return nil, err
		}
	}
	if err := s.waitLive(ctx); err != nil {
		s.drop(err)
		return nil, err
	}
	return s, nil
}

// drop forgets a session whose Open failed; if the server may have opened
// it, it is closed there too (without waiting).
func (s *Session) drop(err error) {
	c := s.c
	c.mu.Lock()
	if c.sessions[s.peer] == s {
		delete(c.sessions, s.peer)
	}
	wasOpen := s.state == stateOpen || s.opening
	conn := c.conn
	s.end(err)
	c.mu.Unlock()
	if wasOpen && conn != nil {
		c.sendMu.Lock()
		conn.Send(&protocol.Command{Kind: protocol.KindSessionClose, PeerID: s.peer, AppID: c.cfg.AppID})
		c.sendMu.Unlock()
	}
}

// end marks the session closed. c.mu must be held.
func (s *Session) end(err error) {
	if s.state == stateClosed {
		return
	}
	s.state, s.err = stateClosed, err
	close(s.closedCh)
}

func (s *Session) closedErr() error {
	if s.err != nil {
		return s.err
	}
	return ErrSessionClosed
}

// waitLive waits until the session is open on the live connection.
func (s *Session) waitLive(ctx context.Context) error {
	c := s.c
	c.mu.Lock()
	state, ready := s.state, s.ready
	err := s.err
	c.mu.Unlock()
	switch state {
	case stateOpen:
		return nil
	case stateClosed:
		if err != nil {
			return err
		}
		return ErrSessionClosed
	}
	select {
	case <-ready:
		return nil
	case <-s.closedCh:
		c.mu.Lock()
		defer c.mu.Unlock()
		return s.closedErr()
	case <-ctx.Done():
		return ctxErr(ctx)
	}
}

// setOnline replaces the online set by the watched peers in list and
// returns the changes. c.mu must be held.
func (s *Session) setOnline(list []string) (came, gone []string) {
	now := make(map[string]struct{}, len(list))
	for _, p := range list {
		now[p] = struct{}{}
		if _, ok := s.online[p]; !ok {
			came = append(came, p)
		}
	}
	for p := range s.online {
		if _, ok := now[p]; !ok {
			gone = append(gone, p)
		}
	}
	s.online = now
	return came, gone
}

// PeerID returns the session's peer id.
func (s *Session) PeerID() string { return s.peer }

// Watched returns the watch list.
func (s *Session) Watched() []string {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return slices.Clone(s.watch)
}

// Online returns the watched peers known to be online, sorted.
func (s *Session) Online() []string {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	list := make([]string, 0, len(s.online))
	for p := range s.online {
		list = append(list, p)
	}
	slices.Sort(list)
	return list
}

// Close closes the session: the peer logs out on this connection (the
// connection and the other sessions stay). It waits for the server's
// confirmation in the modern dialects.
func (s *Session) Close(ctx context.Context) error {
	c := s.c
	c.mu.Lock()
	if s.state == stateClosed {
		c.mu.Unlock()
		return nil
	}
	live := s.state == stateOpen
	modern := c.modern
	c.mu.Unlock()
	var err error
	if live {
		expect := protocol.KindUnknown
		if modern {
			expect = protocol.KindSessionClosed
		}
		_, err = c.request(ctx, s, expect, nil, true, func(context.Context) (*protocol.Command, error) {
			return &protocol.Command{Kind: protocol.KindSessionClose, PeerID: s.peer}, nil
		})
	}
	c.mu.Lock()
	if c.sessions[s.peer] == s {
		delete(c.sessions, s.peer)
	}
	s.end(ErrSessionClosed)
	c.mu.Unlock()
	return err
}

// Watch adds peers to the watch list (signed with ActionAdd) and returns
// those online now, which also go to Handler.OnOnline.
func (s *Session) Watch(ctx context.Context, peers ...string) ([]string, error) {
	c := s.c
	reply, err := c.request(ctx, s, protocol.KindSessionAdded, nil, true, func(ctx context.Context) (*protocol.Command, error) {
		cmd := &protocol.Command{Kind: protocol.KindSessionAdd, PeerID: s.peer, SessionPeerIDs: slices.Clone(peers)}
		return cmd, c.sign(ctx, cmd, SignRequest{Action: ActionAdd, PeerID: s.peer, Peers: peers}, &cmd.SessionPeerIDs)
	})
	if err != nil {
		return nil, err
	}
	var came []string
	c.mu.Lock()
	for _, p := range peers {
		if !slices.Contains(s.watch, p) {
			s.watch = append(s.watch, p)
		}
	}
	for _, p := range reply.OnlineSessionPeerIDs {
		if _, ok := s.online[p]; !ok {
			s.online[p] = struct{}{}
			came = append(came, p)
		}
	}
	c.mu.Unlock()
	if len(came) > 0 {
		c.emit(func() { c.h.OnOnline(s, came) })
	}
	return reply.OnlineSessionPeerIDs, nil
}

// Unwatch removes peers from the watch list. In the legacy dialect it does
// not wait for a reply (v1 servers send none).
func (s *Session) Unwatch(ctx context.Context, peers ...string) error {
	c := s.c
	c.mu.Lock()
	s.watch = slices.DeleteFunc(s.watch, func(p string) bool { return slices.Contains(peers, p) })
	for _, p := range peers {
		delete(s.online, p)
	}
	expect := protocol.KindUnknown
	if c.modern {
		expect = protocol.KindSessionRemoved
	}
	c.mu.Unlock()
	_, err := c.request(ctx, s, expect, nil, true, func(context.Context) (*protocol.Command, error) {
		return &protocol.Command{Kind: protocol.KindSessionRemove, PeerID: s.peer, SessionPeerIDs: slices.Clone(peers)}, nil
	})
	return err
}

// Query returns which of peers are online; they need not be watched.
func (s *Session) Query(ctx context.Context, peers ...string) ([]string, error) {
	reply, err := s.c.request(ctx, s, protocol.KindSessionQueryResult, nil, true, func(context.Context) (*protocol.Command, error) {
		return &protocol.Command{Kind: protocol.KindSessionQuery, PeerID: s.peer, SessionPeerIDs: slices.Clone(peers)}, nil
	})
	if err != nil {
		return nil, err
	}
	return reply.OnlineSessionPeerIDs, nil
}

// Send sends text to peers. A persistent message returns when the server
// has stored it, with its id and time (also reported to Handler.OnSent); a
// transient one returns once written. Unless the app allows otherwise,
// the server delivers only to peers the session watches.
func (s *Session) Send(ctx context.Context, to []string, text string, opts SendOptions) (Sent, error) {
	return s.send(ctx, &protocol.Command{Kind: protocol.KindDirect, PeerID: s.peer, ToPeerIDs: slices.Clone(to),
		Msg: text, Transient: opts.Transient, Receipt: opts.Receipt, ID: opts.ID},
		&Sent{To: slices.Clone(to), Text: text, Transient: opts.Transient, Receipt: opts.Receipt})
}

// SendToGroup sends text to the members of a group (the sending session
// gets no copy).
func (s *Session) SendToGroup(ctx context.Context, roomID, text string, opts SendOptions) (Sent, error) {
	return s.send(ctx, &protocol.Command{Kind: protocol.KindDirect, PeerID: s.peer, RoomID: roomID,
		Msg: text, Transient: opts.Transient, ID: opts.ID},
		&Sent{RoomID: roomID, Text: text, Transient: opts.Transient})
}

// send sends a message. A persistent one in a modern dialect carries a
// client id (SendOptions.ID), so that when the connection is lost before
// its ack it is sent again on the next connection, and the server's
// dedupe makes that safe: the message is neither lost nor duplicated
// (within RequestTimeout). In the legacy dialect the server does not
// dedupe, and the send fails with ErrConnLost instead.
func (s *Session) send(ctx context.Context, cmd *protocol.Command, m *Sent) (Sent, error) {
	expect := protocol.KindAck
	report := m
	if cmd.Transient {
		expect, report = protocol.KindUnknown, nil
	}
	s.c.mu.Lock()
	retry := !cmd.Transient && s.c.modern
	s.c.mu.Unlock()
	if !retry {
		cmd.ID = ""
	} else if cmd.ID == "" {
		cmd.ID = rand.Text()
	}
	_, err := s.c.request(ctx, s, expect, report, retry, func(context.Context) (*protocol.Command, error) {
		c := *cmd
		return &c, nil
	})
	if err != nil {
		f := &Failure{To: m.To, RoomID: m.RoomID, Text: m.Text, Err: err}
		s.c.emit(func() { s.c.h.OnFailure(s, f) })
		return Sent{}, err
	}
	if cmd.Transient {
		m.Time = time.Now()
	}
	return *m, nil
}

// CreateGroup creates a group with the session as its only member and
// returns its id.
func (s *Session) CreateGroup(ctx context.Context) (string, error) {
	reply, err := s.room(ctx, protocol.KindRoomJoin, "", nil, ActionJoin)
	if err != nil {
		return "", err
	}
	return reply.RoomID, nil
}

// JoinGroup joins an existing group.
func (s *Session) JoinGroup(ctx context.Context, roomID string) error {
	_, err := s.room(ctx, protocol.KindRoomJoin, roomID, nil, ActionJoin)
	return err
}

// InviteToGroup adds peers to a group the session belongs to and returns
// those added.
func (s *Session) InviteToGroup(ctx context.Context, roomID string, peers ...string) ([]string, error) {
	reply, err := s.room(ctx, protocol.KindRoomInvite, roomID, peers, ActionInvite)
	if err != nil {
		return nil, err
	}
	return reply.RoomPeerIDs, nil
}

// KickFromGroup removes peers from a group and returns those removed.
func (s *Session) KickFromGroup(ctx context.Context, roomID string, peers ...string) ([]string, error) {
	reply, err := s.room(ctx, protocol.KindRoomKick, roomID, peers, ActionKick)
	if err != nil {
		return nil, err
	}
	return reply.RoomPeerIDs, nil
}

// LeaveGroup leaves a group.
func (s *Session) LeaveGroup(ctx context.Context, roomID string) error {
	_, err := s.room(ctx, protocol.KindRoomLeave, roomID, nil, "")
	return err
}

var roomReplies = map[protocol.Kind]protocol.Kind{
	protocol.KindRoomJoin:   protocol.KindRoomJoined,
	protocol.KindRoomInvite: protocol.KindRoomInvited,
	protocol.KindRoomKick:   protocol.KindRoomKicked,
	protocol.KindRoomLeave:  protocol.KindRoomLeft,
}

// room runs a group operation; action "" means unsigned (leave).
func (s *Session) room(ctx context.Context, kind protocol.Kind, roomID string, peers []string, action string) (*protocol.Command, error) {
	c := s.c
	// Everything but creating a group is safe to repeat.
	retry := roomID != ""
	return c.request(ctx, s, roomReplies[kind], nil, retry, func(ctx context.Context) (*protocol.Command, error) {
		cmd := &protocol.Command{Kind: kind, PeerID: s.peer, RoomID: roomID, RoomPeerIDs: slices.Clone(peers)}
		if action == "" {
			return cmd, nil
		}
		return cmd, c.sign(ctx, cmd, SignRequest{Action: action, PeerID: s.peer, GroupID: roomID, Peers: peers}, &cmd.RoomPeerIDs)
	})
}

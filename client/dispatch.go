package client

import (
	"sync"
	"time"

	"github.com/rtgate/rtgate/protocol"
)

// handle routes one received frame: a reply completes its call; pushes
// become Handler events. Runs on the connection goroutine.
func (c *Client) handle(cmd *protocol.Command) {
	c.mu.Lock()
	cl := c.match(cmd)
	s := c.sessions[cmd.PeerID]
	c.mu.Unlock()
	if cl != nil {
		c.complete(cl, cmd, nil)
		if cl.session != nil {
			s = cl.session
		}
	}
	if c.draining.Load() {
		return // closing: unacked messages stay with the server
	}
	switch cmd.Kind {
	case protocol.KindDirect:
		if s != nil {
			c.message(s, cmd)
		}
	case protocol.KindPresence:
		if s != nil {
			c.presence(s, cmd)
		}
	case protocol.KindRcp:
		if s != nil {
			r := &Receipt{ID: cmd.ID, Time: time.UnixMilli(cmd.Time)}
			c.emit(func() { c.h.OnReceipt(s, r) })
		}
	case protocol.KindRoomJoined, protocol.KindRoomLeft, protocol.KindRoomMembersJoined,
		protocol.KindRoomMembersLeft, protocol.KindRoomInvited, protocol.KindRoomKicked, protocol.KindRoomReject:
		if s != nil {
			e := &GroupEvent{Kind: groupKinds[cmd.Kind], RoomID: cmd.RoomID, Peers: cmd.RoomPeerIDs, By: cmd.ByPeerID}
			c.emit(func() { c.h.OnGroupEvent(s, e) })
		}
	case protocol.KindError:
		if cl == nil {
			err := &ServerError{Code: cmd.Code, Reason: cmd.Reason}
			c.emit(func() { c.h.OnError(s, err) })
		}
	}
	// Keepalives, late replies (after a timeout) and ackreq need nothing.
}

var groupKinds = map[protocol.Kind]GroupEventKind{
	protocol.KindRoomJoined:        GroupJoined,
	protocol.KindRoomLeft:          GroupLeft,
	protocol.KindRoomMembersJoined: GroupMembersJoined,
	protocol.KindRoomMembersLeft:   GroupMembersLeft,
	protocol.KindRoomInvited:       GroupInvited,
	protocol.KindRoomKicked:        GroupKicked,
	protocol.KindRoomReject:        GroupRejected,
}

// message queues an inbound message. On the event goroutine, a persistent
// one is checked against the ids already handled, given to the Handler if
// new, and then acknowledged (also when it was a duplicate: the server
// redelivered it because the earlier ack was lost).
func (c *Client) message(s *Session, cmd *protocol.Command) {
	m := &Message{
		ID: cmd.ID, From: cmd.FromPeerID, To: s.peer, RoomID: cmd.RoomID, Text: cmd.Msg,
		Time: time.UnixMilli(cmd.Timestamp), Transient: cmd.Transient, Offline: cmd.Offline,
	}
	if m.Transient || m.ID == "" {
		c.emit(func() { c.h.OnMessage(s, m) })
		return
	}
	c.emit(func() {
		if c.seen.add(s.peer + "\x00" + m.ID) {
			c.h.OnMessage(s, m)
		} else {
			c.stats.duplicates.Add(1)
		}
		c.ack(s, m.ID)
	})
}

// ack acknowledges a message on the live connection. When there is none
// the server keeps the message and redelivers it; it is then a duplicate.
func (c *Client) ack(s *Session, id string) {
	cmd := &protocol.Command{Kind: protocol.KindAck, PeerID: s.peer, IDs: []string{id}, HasIDs: true}
	if _, err := c.start(s, cmd, protocol.KindUnknown, nil); err != nil {
		c.log.Debug("client: ack not sent", "peer", s.peer, "id", id, "err", err)
	}
}

// presence applies a presence push to the session's online set.
func (c *Client) presence(s *Session, cmd *protocol.Command) {
	var changed []string
	c.mu.Lock()
	for _, p := range cmd.SessionPeerIDs {
		_, on := s.online[p]
		switch {
		case cmd.Status == protocol.StatusOn && !on:
			s.online[p] = struct{}{}
			changed = append(changed, p)
		case cmd.Status == protocol.StatusOff && on:
			delete(s.online, p)
			changed = append(changed, p)
		}
	}
	c.mu.Unlock()
	if len(changed) == 0 {
		return
	}
	if cmd.Status == protocol.StatusOn {
		c.emit(func() { c.h.OnOnline(s, changed) })
	} else {
		c.emit(func() { c.h.OnOffline(s, changed) })
	}
}

// eventQueue runs queued functions in order on one goroutine. Its length
// is unbounded here; the connection goroutine enforces
// Config.MaxQueuedEvents by dropping the connection.
type eventQueue struct {
	mu     sync.Mutex
	q      []func() // guarded by mu
	closed bool     // guarded by mu
	wake   chan struct{}
	done   chan struct{} // closed when run returned
}

func (e *eventQueue) init() {
	e.wake = make(chan struct{}, 1)
	e.done = make(chan struct{})
}

func (e *eventQueue) push(f func()) {
	e.mu.Lock()
	e.q = append(e.q, f)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *eventQueue) len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.q)
}

// close makes run return once the queue is empty.
func (e *eventQueue) close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *eventQueue) wait() { <-e.done }

func (e *eventQueue) run() {
	defer close(e.done)
	for {
		e.mu.Lock()
		if len(e.q) == 0 {
			closed := e.closed
			e.q = e.q[:0]
			e.mu.Unlock()
			if closed {
				return
			}
			<-e.wake
			continue
		}
		f := e.q[0]
		e.q[0] = nil
		e.q = e.q[1:]
		e.mu.Unlock()
		f()
	}
}

// idSet remembers the last n ids added (first in, first out). Owned by the
// event goroutine.
type idSet struct {
	set  map[string]struct{}
	ring []string
	next int
}

func newIDSet(n int) *idSet {
	return &idSet{set: make(map[string]struct{}, n), ring: make([]string, n)}
}

// add records id and reports whether it is new.
func (s *idSet) add(id string) bool {
	if _, ok := s.set[id]; ok {
		return false
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.set, old)
	}
	s.ring[s.next] = id
	s.next = (s.next + 1) % len(s.ring)
	s.set[id] = struct{}{}
	return true
}

package core

import (
	"slices"
	"time"

	"github.com/rtgate/rtgate/protocol"
)

// maxHeld bounds the pushes a session queues while its reader builds a
// reply (see session.hold). Past it the connection is closed as a slow
// consumer: its persistent messages stay in the inbox.
const maxHeld = 4096

// hold makes pushes to s (presence, live messages, group events,
// receipts) queue instead of being written, until release. The reader
// holds a session while it builds a reply that reports state — `opened`,
// `added` — so that no push about a watched peer precedes the reply, and
// the reply reflects every push written before it (issue 15, defect 6).
// Called by the reader goroutine only, before the session's watches change.
func (s *session) hold() { s.held.Store(true) }

// release writes the pushes queued since hold, in order, and lets later
// pushes through. Called by the reader goroutine after it wrote the reply.
func (s *session) release(note func(error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.heldQ {
		if err := s.client.conn.Write(&s.heldQ[i]); err != nil {
			note(err)
		}
	}
	clear(s.heldQ)
	s.heldQ = nil
	// Cleared last, under mu: a push that sees it false (without mu) comes
	// after every queued one.
	s.held.Store(false)
}

// push writes cmd to the session's connection, or queues a copy while the
// session is held. Like Conn.Write it never blocks; the caller may reuse
// cmd when it returns.
func (s *session) push(cmd *protocol.Command) error {
	if s.held.Load() {
		s.mu.Lock()
		if s.held.Load() {
			defer s.mu.Unlock()
			if len(s.heldQ) >= maxHeld {
				s.client.conn.Close(protocol.CloseSlowConsumer, "too many pushes while opening")
				return ErrSlowConsumer
			}
			s.heldQ = append(s.heldQ, cmd.Clone())
			return nil
		}
		s.mu.Unlock()
	}
	return s.client.conn.Write(cmd)
}

// claimRedelivery decides whether the inbox redelivery writes message
// id, stored at t (ms), to s: false when s was sent it already (live, or
// by an earlier drain). Otherwise it records id as delivered and, for a
// recent message, remembers that the redelivery wrote it, so that the
// live path (noteLive) does not write it again in this session (issue 15,
// defect 5): a message stored while the session was opening is in the
// inbox read at open and is then delivered live. Check and record happen
// under one lock, as noteLive's do, so exactly one of the two paths
// writes a message (a check, then a record after the write, let a live
// copy slip in between: TestOpenVersusSend saw a message twice). Only
// recent messages can still be on their way live: the sender delivers
// within StoreTimeout of storing, so older ones are not remembered.
func (s *session) claimRedelivery(id string, t int64, h *Hub) bool {
	recent := h.cfg.Now().Sub(time.UnixMilli(t)) <= 2*h.cfg.StoreTimeout+time.Minute
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Contains(s.delivered, id) {
		return false
	}
	s.noteDeliveredLocked(id, h.cfg.MaxDelivered)
	if !recent {
		return true
	}
	if s.redelivered == nil {
		s.redelivered = make(map[string]struct{})
	}
	if _, ok := s.redelivered[id]; ok {
		return true
	}
	if len(s.redeliveredOrder) >= h.cfg.MaxDelivered {
		delete(s.redelivered, s.redeliveredOrder[0])
		s.redeliveredOrder = slices.Delete(s.redeliveredOrder, 0, 1)
	}
	s.redelivered[id] = struct{}{}
	s.redeliveredOrder = append(s.redeliveredOrder, id)
	return true
}

// noteLive is the live path's counterpart of noteDelivered: it reports
// false, and forgets id, when the redelivery already wrote the message to
// s; otherwise it records id as delivered and reports true.
func (s *session) noteLive(id string, max int) bool {
	s.mu.Lock()
	if _, ok := s.redelivered[id]; ok {
		delete(s.redelivered, id)
		if i := slices.Index(s.redeliveredOrder, id); i >= 0 {
			s.redeliveredOrder = slices.Delete(s.redeliveredOrder, i, i+1)
		}
		s.mu.Unlock()
		return false
	}
	s.noteDeliveredLocked(id, max)
	s.mu.Unlock()
	return true
}

package client

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/rtgate/rtgate/protocol"
)

// Request/reply matching.
//
// Every request carries a serial `i` (1, 2, ... wrapping below 2^31). The
// server echoes it on the reply; a reply with `i` completes the call with
// that serial. In the legacy v1 dialect a server may not echo `i` (the
// 2014 service did not), so a reply without `i` is matched like the v1 JS
// client does: against the oldest request in flight only, and only if its
// kind is the reply that request expects (`session open` → `opened`,
// `direct` → `ack`, `room join` → `joined` or `reject`, ...). A request
// that times out in the legacy dialect drops the connection, as the JS
// client did, since a missing reply would shift every later match.

// call is one request waiting for its reply.
type call struct {
	i       int64
	expect  protocol.Kind // the reply kind
	session *Session
	sent    *Sent // for a persistent message: reported with OnSent/OnFailure

	done  chan struct{} // closed at completion (synchronous callers)
	then  func(reply *protocol.Command, err error)
	reply *protocol.Command // valid after done
	err   error             // valid after done
}

// start registers a call expecting the reply kind expect (KindUnknown: no
// reply) and sends cmd on the live connection. A session request needs the
// session open on that connection; otherwise start returns errOffline.
func (c *Client) start(s *Session, cmd *protocol.Command, expect protocol.Kind, cl *call) (*call, error) {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	conn := c.conn
	switch {
	case s != nil && s.state == stateClosed:
		c.mu.Unlock()
		return nil, s.closedErr()
	case conn == nil, s != nil && s.state != stateOpen && cmd.Kind != protocol.KindSessionOpen:
		c.mu.Unlock()
		return nil, errOffline
	}
	cmd.AppID = c.cfg.AppID
	if expect != protocol.KindUnknown {
		if c.nextI >= math.MaxInt32 {
			c.nextI = 0
		}
		c.nextI++
		cmd.I = c.nextI
		if cl == nil {
			cl = &call{done: make(chan struct{})}
		}
		cl.i, cl.expect, cl.session = cmd.I, expect, s
		c.pending[cl.i] = cl
		c.fifo = append(c.fifo, cl)
	}
	c.mu.Unlock()
	if err := conn.Send(cmd); err != nil {
		if cl != nil {
			c.mu.Lock()
			c.forget(cl)
			c.mu.Unlock()
		}
		conn.Close() // a failed write leaves the stream unusable; the reader reconnects
		return nil, fmt.Errorf("%w: %v", ErrConnLost, err)
	}
	return cl, nil
}

// forget removes cl from the tables; it reports whether cl was there.
// c.mu must be held.
func (c *Client) forget(cl *call) bool {
	if c.pending[cl.i] != cl {
		return false
	}
	delete(c.pending, cl.i)
	if i := slices.Index(c.fifo, cl); i >= 0 {
		c.fifo = slices.Delete(c.fifo, i, i+1)
	}
	return true
}

// takeCalls empties the tables and returns the calls. c.mu must be held.
func (c *Client) takeCalls() []*call {
	calls := c.fifo
	c.fifo = nil
	clear(c.pending)
	return calls
}

// complete finishes a call removed from the tables: wakes its waiter or
// runs its continuation, and reports a message's fate to the Handler.
func (c *Client) complete(cl *call, reply *protocol.Command, err error) {
	if err == nil && reply != nil {
		switch reply.Kind {
		case protocol.KindError:
			err = &ServerError{Code: reply.Code, Reason: reply.Reason}
		case protocol.KindRoomReject:
			err = &RejectError{RoomID: reply.RoomID, Peers: reply.RoomPeerIDs}
		}
	}
	cl.reply, cl.err = reply, err
	if m := cl.sent; m != nil && err == nil {
		// Reported here, in the order of the frames; failures are
		// reported by Session.send.
		s := cl.session
		m.ID, m.Time = reply.UID, time.UnixMilli(reply.Time)
		sent := *m
		c.emit(func() { c.h.OnSent(s, &sent) })
	}
	if cl.then != nil {
		cl.then(reply, err)
	}
	if cl.done != nil {
		close(cl.done)
	}
}

// match finds the call a frame answers and removes it. c.mu must be held.
func (c *Client) match(cmd *protocol.Command) *call {
	if cmd.I != 0 {
		cl := c.pending[cmd.I]
		if cl == nil || !fits(cl, cmd) {
			return nil
		}
		c.forget(cl)
		return cl
	}
	if c.modern || len(c.fifo) == 0 || cmd.Kind == protocol.KindError {
		return nil
	}
	head := c.fifo[0]
	if head.session == nil || head.session.peer != cmd.PeerID || !fits(head, cmd) {
		return nil
	}
	switch cmd.Kind {
	case protocol.KindRoomJoined, protocol.KindRoomLeft:
		// Also sent when someone else invites or kicks us.
		if cmd.ByPeerID != "" && cmd.ByPeerID != cmd.PeerID {
			return nil
		}
	}
	c.forget(head)
	return head
}

// fits reports whether cmd can be the reply to cl.
func fits(cl *call, cmd *protocol.Command) bool {
	switch cmd.Kind {
	case cl.expect, protocol.KindError:
		return true
	case protocol.KindRoomReject:
		switch cl.expect {
		case protocol.KindRoomJoined, protocol.KindRoomInvited, protocol.KindRoomKicked, protocol.KindRoomLeft:
			return true
		}
	}
	return false
}

// await waits for a call's reply until ctx ends.
func (c *Client) await(ctx context.Context, cl *call) (*protocol.Command, error) {
	select {
	case <-cl.done:
		return cl.reply, cl.err
	case <-ctx.Done():
	}
	c.mu.Lock()
	mine := c.forget(cl)
	legacy := !c.modern
	conn := c.conn
	c.mu.Unlock()
	if !mine { // completed meanwhile
		<-cl.done
		return cl.reply, cl.err
	}
	if legacy && conn != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		c.log.Info("client: legacy request timed out, dropping the connection", "i", cl.i, "expect", cl.expect)
		conn.Close()
	}
	return nil, ctxErr(ctx)
}

func ctxErr(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ErrTimeout
	}
	return ctx.Err()
}

// request runs one request of session s: it waits for the session to be
// live, sends, and waits for the reply, all within RequestTimeout (and
// ctx). build is called for each attempt (it may sign). A request that is
// safe to repeat (retry) is sent again on the next connection when the
// connection is lost before its reply; others fail with ErrConnLost.
func (c *Client) request(ctx context.Context, s *Session, expect protocol.Kind, sent *Sent, retry bool,
	build func(ctx context.Context) (*protocol.Command, error)) (*protocol.Command, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	for {
		if err := s.waitLive(ctx); err != nil {
			return nil, err
		}
		cmd, err := build(ctx)
		if err != nil {
			return nil, err
		}
		var cl *call
		if expect != protocol.KindUnknown {
			cl = &call{done: make(chan struct{}), sent: sent}
		}
		cl, err = c.start(s, cmd, expect, cl)
		if errors.Is(err, errOffline) || retry && errors.Is(err, ErrConnLost) {
			continue // paused between waitLive and start, or the write failed: wait again
		}
		if err != nil {
			return nil, err
		}
		if cl == nil {
			return nil, nil
		}
		reply, err := c.await(ctx, cl)
		if retry && errors.Is(err, ErrConnLost) {
			continue
		}
		return reply, err
	}
}

// sendOpen sends `session open` for s with its full watch list and
// completes asynchronously on the reader goroutine.
func (c *Client) sendOpen(ctx context.Context, s *Session) error {
	c.mu.Lock()
	watch := slices.Clone(s.watch)
	c.mu.Unlock()
	cmd := &protocol.Command{Kind: protocol.KindSessionOpen, PeerID: s.peer, SessionPeerIDs: watch}
	if err := c.sign(ctx, cmd, SignRequest{Action: ActionOpen, PeerID: s.peer, Peers: watch}, &cmd.SessionPeerIDs); err != nil {
		return err
	}
	if cmd.SessionPeerIDs == nil {
		cmd.SessionPeerIDs = []string{}
	}
	c.mu.Lock()
	s.opening = true
	c.mu.Unlock()
	cl := &call{then: func(reply *protocol.Command, err error) { c.opened(s, reply, err) }}
	_, err := c.start(s, cmd, protocol.KindSessionOpened, cl)
	if err != nil {
		c.mu.Lock()
		s.opening = false
		c.mu.Unlock()
		if errors.Is(err, errOffline) {
			return nil // the next connection re-opens it
		}
	}
	return err
}

// opened completes a `session open`: the session is live; the Handler
// hears of it (resumed, online/offline changes). Runs on the reader
// goroutine, or in lost/Close with an error.
func (c *Client) opened(s *Session, reply *protocol.Command, err error) {
	c.mu.Lock()
	s.opening = false
	if s.state == stateClosed {
		c.mu.Unlock()
		if err == nil { // closed locally while the open was in flight
			c.start(nil, &protocol.Command{Kind: protocol.KindSessionClose, PeerID: s.peer}, protocol.KindUnknown, nil)
		}
		return
	}
	if err != nil {
		var se *ServerError
		if !errors.As(err, &se) {
			c.mu.Unlock()
			return // connection lost or client closed: handled there
		}
		delete(c.sessions, s.peer)
		s.end(fmt.Errorf("client: session open refused: %w", err))
		c.mu.Unlock()
		c.emit(func() { c.h.OnError(s, s.err) })
		return
	}
	wasPaused := s.state == statePaused
	if s.state != stateOpen { // a second open of the same session answers `opened` again
		s.state = stateOpen
		close(s.ready)
	}
	c.resumed = true
	came, gone := s.setOnline(reply.OnlineSessionPeerIDs)
	c.mu.Unlock()
	if wasPaused {
		c.emit(func() { c.h.OnResumed(s) })
	}
	if len(gone) > 0 {
		c.emit(func() { c.h.OnOffline(s, gone) })
	}
	if len(came) > 0 {
		c.emit(func() { c.h.OnOnline(s, came) })
	}
}

// sign asks the Signer for a signature and puts it on cmd; a non-nil
// SignedPeers replaces *peers.
func (c *Client) sign(ctx context.Context, cmd *protocol.Command, req SignRequest, peers *[]string) error {
	if c.cfg.Signer == nil {
		return nil
	}
	req.AppID = c.cfg.AppID
	sig, err := c.cfg.Signer(ctx, req)
	if err != nil {
		return fmt.Errorf("client: sign %s: %w", req.Action, err)
	}
	cmd.Sig, cmd.Nonce = sig.Sig, sig.Nonce
	if sig.Time != 0 {
		cmd.SigTime = fmt.Sprint(sig.Time)
	}
	if sig.SignedPeers != nil && peers != nil {
		*peers = sig.SignedPeers
	}
	return nil
}

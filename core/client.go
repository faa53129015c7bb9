package core

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtgate/rtgate/protocol"
)

// Client is one connection's state: its open sessions by peer id.
// Handle and Disconnect are called only by the transport's reader
// goroutine, which owns sessions; it holds own while it does, so that an
// operator's CloseSession (another goroutine) can end one session between
// two commands.
type Client struct {
	hub  *Hub
	conn Conn

	own      sync.Mutex          // held by Handle, Disconnect and endByServer: guards sessions, watches and each session's watch
	sessions map[string]*session // by peer id; guarded by own
	watches  int                 // watch entries over all sessions; guarded by own
	loggedIn atomic.Bool         // a session was opened or an Android login seen
	lastRead atomic.Int64        // unix ns of the last Handle call
	closed   atomic.Bool         // Disconnect ran, or the hub refused the conn

	timerMu sync.Mutex
	timer   *time.Timer // guarded by timerMu; nil after Disconnect
}

// session is one open (connection, peer).
type session struct {
	client *Client // immutable
	app    *App    // immutable
	peer   string  // immutable
	super  bool    // immutable: a super peer may send to anyone

	watch map[string]struct{} // guarded by client.own

	ended atomic.Bool // the session was closed; set by endSession

	held atomic.Bool // pushes queue in heldQ; set and cleared by the reader (see hold)

	mu               sync.Mutex
	delivered        []string            // persistent message ids delivered and not acked, oldest first; guarded by mu
	overflowed       bool                // delivered dropped ids at its bound; guarded by mu
	heldQ            []protocol.Command  // pushes queued while held; guarded by mu
	redelivered      map[string]struct{} // recent ids the inbox redelivery wrote to this session; guarded by mu
	redeliveredOrder []string            // keys of redelivered, oldest first; guarded by mu
}

// Info returns the connection's info.
func (c *Client) Info() ConnInfo { return c.conn.Info() }

func (c *Client) startTimer() {
	c.timerMu.Lock()
	c.timer = time.AfterFunc(c.hub.cfg.LoginTimeout, c.checkTimeouts)
	c.timerMu.Unlock()
}

// checkTimeouts runs on the timer: it closes a connection that never logged
// in or went silent, and re-arms itself otherwise.
func (c *Client) checkTimeouts() {
	cfg := &c.hub.cfg
	if !c.loggedIn.Load() {
		c.closeWith(protocol.Closef(protocol.CloseLoginTimeout, "no session opened within %s", cfg.LoginTimeout))
		return
	}
	idle := c.hub.since(c.lastRead.Load())
	if idle >= cfg.ReadTimeout {
		c.closeWith(protocol.Closef(protocol.CloseReadTimeout, "nothing read for %s", cfg.ReadTimeout))
		return
	}
	c.timerMu.Lock()
	if c.timer != nil {
		c.timer.Reset(cfg.ReadTimeout - idle)
	}
	c.timerMu.Unlock()
}

func (c *Client) closeWith(e *protocol.CloseError) {
	c.hub.metrics.Closes.WithLabelValues(fmt.Sprint(int(e.Code))).Inc()
	c.conn.Close(e.Code, e.Reason)
}

// Disconnect ends every session of the connection (presence "off" where it
// was a peer's last session). Persistent messages delivered but not acked
// stay in the inboxes and are redelivered at the next open.
func (c *Client) Disconnect() {
	if c.closed.Swap(true) {
		return
	}
	c.timerMu.Lock()
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.timerMu.Unlock()
	c.own.Lock()
	for _, s := range c.sessions {
		c.endSession(s)
	}
	c.own.Unlock()
	c.hub.forget(c)
}

// Handle processes one command. A non-nil error is a *protocol.CloseError:
// the transport must close the connection with its code. Replies are
// written before Handle returns, so they keep request order.
func (c *Client) Handle(cmd *protocol.Command) error {
	if c.closed.Load() {
		return ErrConnClosed
	}
	c.Touch()
	c.own.Lock()
	err := c.handle(cmd)
	c.own.Unlock()
	if err != nil {
		c.countClose(err)
	}
	return err
}

// countClose counts err if it is a *protocol.CloseError. It is out of
// Handle so that errors.As's target (which escapes) is allocated only for
// an error, not for every command.
func (c *Client) countClose(err error) {
	var ce *protocol.CloseError
	if errors.As(err, &ce) {
		c.hub.metrics.Closes.WithLabelValues(fmt.Sprint(int(ce.Code))).Inc()
	}
}

// BadFrame answers a frame the transport could not decode (malformed, or an
// unknown command): the legacy dialect closes with 1007; modern dialects
// get an `error` reply, echoing cmd.I when the decoder got that far, and
// the connection stays open. cmd may be nil.
func (c *Client) BadFrame(cmd *protocol.Command, err error) error {
	if c.closed.Load() {
		return ErrConnClosed
	}
	c.Touch()
	var i int64
	if cmd != nil {
		i = cmd.I
	}
	err = c.fail(i, protocol.CloseInvalidPayload, protocol.ErrCodeBadCommand, err.Error())
	if err != nil {
		c.countClose(err)
	}
	return err
}

// Touch records activity from the client that is not a command (a pong,
// an empty poll), deferring the read timeout.
func (c *Client) Touch() { c.lastRead.Store(c.hub.cfg.Now().UnixNano()) }

// fail answers a recoverable error: an `error` reply in modern dialects, a
// close in the legacy one.
func (c *Client) fail(i int64, close protocol.CloseCode, code int, reason string) error {
	if c.conn.Info().Modern {
		c.write(&protocol.Command{Kind: protocol.KindError, I: i, Code: code, Reason: reason})
		return nil
	}
	return &protocol.CloseError{Code: close, Reason: reason}
}

func (c *Client) write(cmd *protocol.Command) {
	if err := c.conn.Write(cmd); err != nil {
		c.hub.noteWrite(err)
	}
}

func (c *Client) handle(cmd *protocol.Command) error {
	switch cmd.Kind {
	case protocol.KindKeepalive:
		c.write(&protocol.Command{Kind: protocol.KindKeepalive})
		return nil
	case protocol.KindLogin:
		// Android push registration: keeps the socket from the login
		// timeout; push itself is not part of rtgate.
		c.loggedIn.Store(true)
		return nil
	case protocol.KindSessionOpen:
		return c.open(cmd)
	}
	if cmd.Kind == protocol.KindAck && cmd.PeerID == "" && cmd.InstallationID != "" {
		return nil // Android push ack
	}
	s := c.sessions[cmd.PeerID]
	if s == nil {
		switch cmd.Kind {
		case protocol.KindSessionAdd, protocol.KindSessionRemove, protocol.KindSessionQuery,
			protocol.KindSessionClose, protocol.KindDirect, protocol.KindAck,
			protocol.KindRoomJoin, protocol.KindRoomInvite, protocol.KindRoomKick, protocol.KindRoomLeave:
			return c.fail(cmd.I, protocol.CloseNoSession, protocol.ErrCodeNoSession,
				fmt.Sprintf("no open session for peer %q on this connection", cmd.PeerID))
		}
		return c.fail(cmd.I, protocol.CloseInvalidPayload, protocol.ErrCodeBadCommand,
			fmt.Sprintf("command %q is not accepted from clients", cmd.Kind))
	}
	switch cmd.Kind {
	case protocol.KindSessionAdd:
		return c.add(s, cmd)
	case protocol.KindSessionRemove:
		return c.remove(s, cmd)
	case protocol.KindSessionQuery:
		return c.query(s, cmd)
	case protocol.KindSessionClose:
		return c.closeSession(s, cmd)
	case protocol.KindDirect:
		return c.direct(s, cmd)
	case protocol.KindAck:
		return c.ack(s, cmd)
	case protocol.KindRoomJoin, protocol.KindRoomInvite, protocol.KindRoomKick, protocol.KindRoomLeave:
		return c.room(s, cmd)
	}
	return c.fail(cmd.I, protocol.CloseInvalidPayload, protocol.ErrCodeBadCommand,
		fmt.Sprintf("command %q is not accepted from clients", cmd.Kind))
}

// checkPeerIDs returns a close error with 4103 for the first id that
// protocol.CheckPeerID refuses; field names the command field.
func checkPeerIDs(field string, ids ...string) *protocol.CloseError {
	for _, p := range ids {
		if err := protocol.CheckPeerID(p); err != nil {
			return protocol.Closef(protocol.CloseMalformedPeerID, "%s: %v", field, err)
		}
	}
	return nil
}

package core

import "github.com/rtgate/rtgate/protocol"

// Kicked is one thing an operator's kick closed on this node.
type Kicked struct {
	Peer       string // whose session it was
	Transport  string // ConnInfo.Transport
	RemoteAddr string // ConnInfo.RemoteAddr: the client's address as this node saw it
	// Connection is true when the whole connection was closed (with
	// every session it held); false when only the peer's session ended
	// and the connection stays open for its other sessions.
	Connection bool
}

// Kick closes, with 1000 and reason, every connection on this node that
// holds a session of peer in app (only the one from client address addr
// when addr is not empty), and says what it closed. The operator's
// kick (cmd/rtgate, on the nodes of a cluster that hold the peer) calls
// it; a connection that multiplexes other peers' sessions closes for them
// too. CloseSession ends the sessions alone.
func (h *Hub) Kick(app, peer, addr, reason string) []Kicked {
	seen := map[*Client]bool{}
	var out []Kicked
	for _, s := range h.reg.sessions(nil, app, peer) {
		if s.ended.Load() || seen[s.client] || (addr != "" && s.client.conn.Info().RemoteAddr != addr) {
			continue
		}
		seen[s.client] = true
		s.client.conn.Close(protocol.CloseNormal, reason)
		out = append(out, kicked(s, true))
	}
	return out
}

// CloseSession ends peer's sessions in app on this node, or, when addr is
// not empty, only its session on the connection from that client address
// (ConnInfo.RemoteAddr), and says what it closed. The connections stay
// open for their other sessions: each ended session gets a `session
// closed` push (no `i`) with code protocol.ErrCodeKicked and reason, as
// the v2 protocol does for a server-side close, and the peer's presence
// goes `off` where that was its last session. The v1 legacy dialect has
// no server-side session close: a legacy connection is closed instead,
// with 1000 and reason (its other sessions reconnect).
//
// It may be called from any goroutine: it ends each session while holding
// its connection's reader state (Client.own), between two commands.
func (h *Hub) CloseSession(app, peer, addr, reason string) []Kicked {
	var out []Kicked
	for _, s := range h.reg.sessions(nil, app, peer) {
		c := s.client
		info := c.conn.Info()
		if s.ended.Load() || (addr != "" && info.RemoteAddr != addr) {
			continue
		}
		if !info.Modern {
			c.conn.Close(protocol.CloseNormal, reason)
			out = append(out, kicked(s, true))
			continue
		}
		if c.endByServer(s, reason) {
			out = append(out, kicked(s, false))
		}
	}
	return out
}

// endByServer ends s on its connection, unless the reader got there first
// (the client closed the session, or the connection ended), and pushes
// `session closed`.
func (c *Client) endByServer(s *session, reason string) bool {
	c.own.Lock()
	defer c.own.Unlock()
	if c.closed.Load() || s.ended.Load() || c.sessions[s.peer] != s {
		return false
	}
	c.endSession(s)
	delete(c.sessions, s.peer)
	c.write(&protocol.Command{Kind: protocol.KindSessionClosed, PeerID: s.peer, Code: protocol.ErrCodeKicked, Reason: reason})
	return true
}

func kicked(s *session, conn bool) Kicked {
	info := s.client.conn.Info()
	return Kicked{Peer: s.peer, Transport: info.Transport, RemoteAddr: info.RemoteAddr, Connection: conn}
}

// SessionInfo describes one open session, for the operator.
type SessionInfo struct {
	Peer       string
	Transport  string // ConnInfo.Transport
	RemoteAddr string // ConnInfo.RemoteAddr: what CloseSession's and Kick's addr match
	Modern     bool   // ConnInfo.Modern: CloseSession ends it alone (else it closes the connection)
}

// Sessions lists peer's open sessions in app on this node.
func (h *Hub) Sessions(app, peer string) []SessionInfo {
	var out []SessionInfo
	for _, s := range h.reg.sessions(nil, app, peer) {
		if s.ended.Load() || s.client.closed.Load() {
			continue
		}
		info := s.client.conn.Info()
		out = append(out, SessionInfo{Peer: s.peer, Transport: info.Transport, RemoteAddr: info.RemoteAddr, Modern: info.Modern})
	}
	return out
}

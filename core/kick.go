package core

import "github.com/rtgate/rtgate/protocol"

// Kick closes, with 1000 and reason, every connection on this node that
// holds a session of peer in app, and returns how many it closed. The
// operator's kick (cmd/rtgate, on every node of a cluster) calls it; a
// connection that multiplexes other peers' sessions closes for them too.
func (h *Hub) Kick(app, peer, reason string) int {
	seen := map[*Client]bool{}
	for _, s := range h.reg.sessions(nil, app, peer) {
		if s.ended.Load() || seen[s.client] {
			continue
		}
		seen[s.client] = true
		s.client.conn.Close(protocol.CloseNormal, reason)
	}
	return len(seen)
}

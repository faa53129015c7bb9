package core

import "github.com/rtgate/rtgate/protocol"

// room handles room join/invite/kick/leave.
func (c *Client) room(s *session, cmd *protocol.Command) error {
	c.write(&protocol.Command{Kind: protocol.KindRoomReject, PeerID: s.peer, RoomID: cmd.RoomID, RoomPeerIDs: cmd.RoomPeerIDs, I: cmd.I})
	return nil
}

// groupDirect handles a direct message to a group.
func (c *Client) groupDirect(s *session, cmd *protocol.Command) error {
	if !cmd.Transient {
		c.write(&protocol.Command{Kind: protocol.KindAck, PeerID: s.peer, I: cmd.I, ID: cmd.ID, UID: newMessageID(), Time: c.hub.nowMs()})
	}
	return nil
}

// leaveRooms forgets the session's open-group membership.
func (h *Hub) leaveRooms(s *session) {}

package protocol

import "slices"

// Kind names one command of the vocabulary: the v1 (cmd, op) pair decoded
// once at the edge. The comment on each kind lists the fields it uses; the
// long form is spec/protocol.md.
type Kind uint8

// The command kinds. C→S marks what clients send, S→C what the server sends.
const (
	KindUnknown Kind = iota

	// KindKeepalive is the v1 text frame `{}` (both directions). No fields.
	KindKeepalive

	// KindSessionOpen (C→S): PeerID, AppID, SessionPeerIDs (watch list),
	// Sig/SigTime/Nonce (signature), SuperPeer, I.
	KindSessionOpen
	// KindSessionOpened (S→C): PeerID, AppID, OnlineSessionPeerIDs (always
	// present), I.
	KindSessionOpened
	// KindSessionAdd (C→S): PeerID, SessionPeerIDs, Sig/SigTime/Nonce, I.
	KindSessionAdd
	// KindSessionAdded (S→C): PeerID, OnlineSessionPeerIDs, I.
	KindSessionAdded
	// KindSessionRemove (C→S): PeerID, SessionPeerIDs, I.
	KindSessionRemove
	// KindSessionRemoved (S→C): PeerID, I.
	KindSessionRemoved
	// KindSessionQuery (C→S): PeerID, SessionPeerIDs (need not be watched), I.
	KindSessionQuery
	// KindSessionQueryResult (S→C, op "query-result"): PeerID,
	// OnlineSessionPeerIDs, I.
	KindSessionQueryResult
	// KindSessionClose (C→S): PeerID, I.
	KindSessionClose
	// KindSessionClosed (S→C): PeerID, I.
	KindSessionClosed

	// KindPresence (S→C): PeerID (the watching session), Status,
	// SessionPeerIDs (peers whose state changed).
	KindPresence

	// KindDirect is a message. C→S: PeerID (sender), Msg, ToPeerIDs or
	// RoomID, Transient, Receipt (r), ID (client id, old Android), I.
	// S→C: PeerID (recipient session), FromPeerID, Msg, ID (server id),
	// Timestamp (ms), RoomID, Transient, Offline.
	KindDirect
	// KindAck is both the server's answer to a persistent direct and the
	// client's acknowledgement of received messages.
	// S→C: PeerID (sender), UID, Time (ms), ID (echo of client id), I.
	// C→S: PeerID, IDs (exact), or ID (cumulative), or neither (all
	// delivered); HasIDs tells `ids` was present. Without PeerID but with
	// InstallationID it is an Android push ack.
	KindAck
	// KindAckReq (S→C): PeerID, Count (c).
	KindAckReq
	// KindRcp (S→C): PeerID (original sender), ID (the message uid), Time
	// (delivery time, ms).
	KindRcp

	// KindRoomJoin (C→S): PeerID, RoomID (empty = create), Transient (open
	// group), Sig/SigTime/Nonce, I.
	KindRoomJoin
	// KindRoomJoined (S→C): PeerID, RoomID, ByPeerID, I.
	KindRoomJoined
	// KindRoomInvite (C→S): PeerID, RoomID, RoomPeerIDs, Sig/SigTime/Nonce, I.
	KindRoomInvite
	// KindRoomInvited (S→C): PeerID, RoomID, RoomPeerIDs, ByPeerID, I.
	KindRoomInvited
	// KindRoomKick (C→S): PeerID, RoomID, RoomPeerIDs, Sig/SigTime/Nonce, I.
	KindRoomKick
	// KindRoomKicked (S→C): PeerID, RoomID, RoomPeerIDs, ByPeerID, I.
	KindRoomKicked
	// KindRoomLeave (C→S): PeerID, RoomID, I.
	KindRoomLeave
	// KindRoomLeft (S→C): PeerID, RoomID, ByPeerID, I.
	KindRoomLeft
	// KindRoomMembersJoined (S→C, op "members-joined"): PeerID, RoomID,
	// RoomPeerIDs, ByPeerID.
	KindRoomMembersJoined
	// KindRoomMembersLeft (S→C, op "members-left"): PeerID, RoomID,
	// RoomPeerIDs, ByPeerID.
	KindRoomMembersLeft
	// KindRoomReject (S→C): PeerID, RoomID, RoomPeerIDs (targets of the
	// refused operation, may be empty), I.
	KindRoomReject

	// KindLogin (C→S, Android push channel): AppID, InstallationID. No reply.
	KindLogin

	// KindError (S→C, modern dialects only): Code, Reason, I.
	KindError

	kindCount
)

// String returns the v1 key of the kind: cmd followed by op, as the JS v1
// client builds it ("sessionopened", "ack", "{}").
func (k Kind) String() string {
	switch k {
	case KindKeepalive:
		return "{}"
	case KindUnknown:
		return "unknown"
	}
	if k < kindCount {
		n := kindNames[k]
		return n.cmd + n.op
	}
	return "unknown"
}

// Cmd returns the v1 `cmd` value of the kind.
func (k Kind) Cmd() string {
	if k < kindCount {
		return kindNames[k].cmd
	}
	return ""
}

// Op returns the v1 `op` value of the kind, or "" for kinds without one.
func (k Kind) Op() string {
	if k < kindCount {
		return kindNames[k].op
	}
	return ""
}

// KindOf maps a v1 (cmd, op) pair to its Kind; unknown pairs give
// KindUnknown. For cmds without an op any op is ignored.
func KindOf(cmd, op string) Kind {
	switch cmd {
	case "session", "room":
		return kindByKey[cmd+"\x00"+op]
	default:
		return kindByKey[cmd+"\x00"]
	}
}

type kindName struct{ cmd, op string }

var kindNames = [kindCount]kindName{
	KindUnknown:            {"", ""},
	KindKeepalive:          {"", ""},
	KindSessionOpen:        {"session", "open"},
	KindSessionOpened:      {"session", "opened"},
	KindSessionAdd:         {"session", "add"},
	KindSessionAdded:       {"session", "added"},
	KindSessionRemove:      {"session", "remove"},
	KindSessionRemoved:     {"session", "removed"},
	KindSessionQuery:       {"session", "query"},
	KindSessionQueryResult: {"session", "query-result"},
	KindSessionClose:       {"session", "close"},
	KindSessionClosed:      {"session", "closed"},
	KindPresence:           {"presence", ""},
	KindDirect:             {"direct", ""},
	KindAck:                {"ack", ""},
	KindAckReq:             {"ackreq", ""},
	KindRcp:                {"rcp", ""},
	KindRoomJoin:           {"room", "join"},
	KindRoomJoined:         {"room", "joined"},
	KindRoomInvite:         {"room", "invite"},
	KindRoomInvited:        {"room", "invited"},
	KindRoomKick:           {"room", "kick"},
	KindRoomKicked:         {"room", "kicked"},
	KindRoomLeave:          {"room", "leave"},
	KindRoomLeft:           {"room", "left"},
	KindRoomMembersJoined:  {"room", "members-joined"},
	KindRoomMembersLeft:    {"room", "members-left"},
	KindRoomReject:         {"room", "reject"},
	KindLogin:              {"login", ""},
	KindError:              {"error", ""},
}

var kindByKey = func() map[string]Kind {
	m := make(map[string]Kind, kindCount)
	for k := KindSessionOpen; k < kindCount; k++ {
		n := kindNames[k]
		m[n.cmd+"\x00"+n.op] = k
	}
	return m
}()

// Status is the presence state carried by KindPresence.
type Status string

// Presence states.
const (
	StatusOn  Status = "on"
	StatusOff Status = "off"
)

// Command is one decoded frame. Which fields a kind uses is documented on
// the Kind constants; unused fields are zero. The JSON and msgpack codecs
// use the v1 names given in the field comments.
//
// A Command passed to a transport's Write is encoded before Write returns,
// so the caller may reuse it.
type Command struct {
	Kind Kind

	PeerID         string // peerId: C→S the issuing session; S→C the session addressed
	AppID          string // appId
	I              int64  // i: request serial, echoed on replies; 0 = absent
	InstallationID string // installationId (Android)

	SessionPeerIDs       []string // sessionPeerIds
	OnlineSessionPeerIDs []string // onlineSessionPeerIds (always encoded on opened/added/query-result)

	Sig       string // s: hex HMAC-SHA1
	SigTime   string // t on open/add/room ops: signature time in seconds, the text as received
	Nonce     string // n
	SuperPeer bool   // sp

	Status Status // status (presence)

	Msg        string   // msg
	ToPeerIDs  []string // toPeerIds
	FromPeerID string   // fromPeerId
	RoomID     string   // roomId
	Transient  bool     // transient
	Receipt    bool     // r (JSON true or 1)
	Offline    bool     // offline
	Timestamp  int64    // timestamp (ms), inbound direct

	ID     string   // id: client message id, server message id, or cumulative ack id
	IDs    []string // ids (null entries dropped)
	HasIDs bool     // the `ids` field was present (even if empty)
	UID    string   // uid (ack)
	Time   int64    // t on ack/rcp: milliseconds

	RoomPeerIDs []string // roomPeerIds
	ByPeerID    string   // byPeerId

	Count int // c (ackreq)

	Code   int    // code (error)
	Reason string // reason (error)
}

// Clone returns a copy of c that shares no list with it, for a caller
// that keeps a command past a Write (which may reuse c).
func (c *Command) Clone() Command {
	cp := *c
	cp.SessionPeerIDs = slices.Clone(c.SessionPeerIDs)
	cp.OnlineSessionPeerIDs = slices.Clone(c.OnlineSessionPeerIDs)
	cp.ToPeerIDs = slices.Clone(c.ToPeerIDs)
	cp.RoomPeerIDs = slices.Clone(c.RoomPeerIDs)
	cp.IDs = slices.Clone(c.IDs)
	return cp
}

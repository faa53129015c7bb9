package client

import "time"

// Handler receives a Client's events. All methods run on the Client's one
// event goroutine, one at a time, in the order the events happened, so a
// Handler needs no locking of its own. A method may call Session methods
// (they wait for their reply while the connection goroutine keeps
// reading); it must not call Client.Close, which waits for the event
// goroutine (use `go c.Close()`). A slow Handler delays the events behind
// it; see Config.MaxQueuedEvents.
//
// Embed NopHandler to implement only the methods you need.
type Handler interface {
	// OnMessage delivers a received message. Persistent messages are
	// acknowledged to the server after OnMessage returns, and a message
	// id seen before (a redelivery) is dropped, so each message reaches
	// OnMessage once.
	OnMessage(s *Session, m *Message)
	// OnSent reports a persistent message the server stored (its ack).
	OnSent(s *Session, m *Sent)
	// OnFailure reports a message that was not sent: an error reply, a
	// timeout or a lost connection. It may or may not have been stored.
	OnFailure(s *Session, f *Failure)
	// OnOnline reports watched peers that came online (presence "on",
	// or the online ones among peers just watched or re-watched).
	OnOnline(s *Session, peers []string)
	// OnOffline reports watched peers that went offline.
	OnOffline(s *Session, peers []string)
	// OnPaused reports that the connection was lost: the session waits
	// for the reconnection.
	OnPaused(s *Session)
	// OnResumed reports that the session was re-opened on a new
	// connection, with its full watch list.
	OnResumed(s *Session)
	// OnGroupEvent reports every group frame addressed to the session:
	// the replies to its own operations and what others did.
	OnGroupEvent(s *Session, e *GroupEvent)
	// OnReceipt reports that a recipient acknowledged a message sent with
	// SendOptions.Receipt.
	OnReceipt(s *Session, r *Receipt)
	// OnError reports an error that belongs to no request: a failed
	// connection attempt, a close code from the server, an undecodable
	// frame, an `error` command without `i`. s is nil when no session is
	// concerned.
	OnError(s *Session, err error)
}

// NopHandler ignores every event. Embed it in a Handler to override only
// some methods.
type NopHandler struct{}

func (NopHandler) OnMessage(*Session, *Message)       {}
func (NopHandler) OnSent(*Session, *Sent)             {}
func (NopHandler) OnFailure(*Session, *Failure)       {}
func (NopHandler) OnOnline(*Session, []string)        {}
func (NopHandler) OnOffline(*Session, []string)       {}
func (NopHandler) OnPaused(*Session)                  {}
func (NopHandler) OnResumed(*Session)                 {}
func (NopHandler) OnGroupEvent(*Session, *GroupEvent) {}
func (NopHandler) OnReceipt(*Session, *Receipt)       {}
func (NopHandler) OnError(*Session, error)            {}

var _ Handler = NopHandler{}

// Message is a received message.
type Message struct {
	ID        string    // server message id (stable across redeliveries)
	From      string    // sender peer id
	To        string    // the local session's peer id
	RoomID    string    // the group, for group messages
	Text      string    // payload as sent
	Time      time.Time // server receive time (ms precision)
	Transient bool      // live only, never stored or acked
	Offline   bool      // delivered from the offline inbox
}

// Sent describes a message the client sent.
type Sent struct {
	ID        string    // server message id (uid); empty for transient messages
	Time      time.Time // server time of the message; local time for transient ones
	To        []string  // recipients of a peer message
	RoomID    string    // the group of a group message
	Text      string
	Transient bool
	Receipt   bool
}

// Failure describes a message that was not sent.
type Failure struct {
	To     []string
	RoomID string
	Text   string
	Err    error
}

// Receipt reports that a message was delivered and acknowledged.
type Receipt struct {
	ID   string    // the message id (Sent.ID)
	Time time.Time // delivery time
}

// GroupEventKind names a group event.
type GroupEventKind uint8

// Group event kinds: the v1 `room` ops the server sends.
const (
	// GroupJoined: the session joined RoomID (By itself after JoinGroup or
	// CreateGroup, or By the peer that invited it).
	GroupJoined GroupEventKind = iota + 1
	// GroupLeft: the session left RoomID (By itself, or By the peer that
	// kicked it).
	GroupLeft
	// GroupMembersJoined: Peers joined RoomID (By the inviter, if any).
	GroupMembersJoined
	// GroupMembersLeft: Peers left RoomID (By the kicker, if any).
	GroupMembersLeft
	// GroupInvited: the session's invite of Peers succeeded.
	GroupInvited
	// GroupKicked: the session's kick of Peers succeeded.
	GroupKicked
	// GroupRejected: the server refused the session's operation on RoomID
	// (bad signature, group full, not a member, ...); Peers are its
	// targets.
	GroupRejected
)

func (k GroupEventKind) String() string {
	switch k {
	case GroupJoined:
		return "joined"
	case GroupLeft:
		return "left"
	case GroupMembersJoined:
		return "members-joined"
	case GroupMembersLeft:
		return "members-left"
	case GroupInvited:
		return "invited"
	case GroupKicked:
		return "kicked"
	case GroupRejected:
		return "reject"
	}
	return "unknown"
}

// GroupEvent is a group frame addressed to a session.
type GroupEvent struct {
	Kind   GroupEventKind
	RoomID string
	Peers  []string // members joined/left, or targets
	By     string   // the peer that caused it, when known
}

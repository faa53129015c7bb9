package cluster

import (
	"context"
	"encoding/base64"
	"errors"
	"time"
)

// Node names one node incarnation: a node's name plus a boot id, so a node
// that restarts (or fences itself and comes back) is a new Node and never
// inherits the state of its previous life.
type Node string

// Delivery is a batch of one frame for some peers of one app, all of whose
// sessions the receiving node holds. Frame is opaque to this package (the
// core encodes it).
type Delivery struct {
	App string
	To  []string // recipient peer ids
	// Group, when set, makes this an open group's frame: the receiving
	// node writes it to its sessions in that open group (see OpenGroups),
	// and To is empty.
	Group string
	// Refs, when not empty, has one entry per peer of To: the sending
	// node's store's reference to the message in that peer's inbox
	// (storage.InboxRefs), nil where it has none. The receiving node's
	// store then removes the message on the peer's ack without reading
	// the inbox.
	Refs  [][]byte
	Frame []byte
}

// Deliverer carries deliveries between nodes.
type Deliverer interface {
	// Self is this node's current incarnation.
	Self() Node
	// Deliver sends d to node to. It does not wait for the node to handle
	// it; delivery is at most once (persistent messages are safe in the
	// inbox). It returns ErrNoNode when to is known to be gone.
	Deliver(ctx context.Context, to Node, d *Delivery) error
	// Subscribe sets the handler of deliveries addressed to this node,
	// replacing any earlier one. stop removes it.
	Subscribe(fn func(*Delivery)) (stop func(), err error)
}

// Transition is a peer's cluster-wide change: Online when its first
// session anywhere opened, !Online when its last one closed.
type Transition struct {
	App, Peer string
	Online    bool
}

// Presence is the cluster-wide registry of which nodes hold which peers.
type Presence interface {
	// Register records that this node holds a session of (app, peer).
	// Calls are counted: the node is removed from the peer's nodes when
	// Unregister was called as often as Register, whatever the order in
	// which concurrent calls arrive. When it returns nil, every live
	// node's Nodes and Online include this node for the peer (a message
	// sent to the peer from any node then finds it), unless a node did
	// not keep up within the implementation's bound.
	Register(ctx context.Context, app, peer string) error
	// Unregister undoes one Register.
	Unregister(ctx context.Context, app, peer string) error
	// Nodes appends to dst the nodes holding (app, peer), from local
	// memory.
	Nodes(dst []Node, app, peer string) []Node
	// Online reports from local memory whether any node holds (app, peer).
	Online(app, peer string) bool
	// Watch sets the handler of every peer's transitions, replacing any
	// earlier one. Each peer's transitions alternate on, off, on...
	Watch(fn func(Transition)) (stop func())
}

// OpenGroups is the cluster-wide registry of the members of open
// (transient, "tr") groups. Their membership is per session and never
// stored: a node registers each session that enters an open group and
// unregisters it when it leaves or ends, and every node learns from it
// which nodes to send the group's messages to and how many peers are in
// it. A node that dies takes its members with it.
type OpenGroups interface {
	// EnterGroup records that this node holds a session of peer in the
	// open group. Calls are counted, as Presence.Register's are. When it
	// returns, this node's GroupNodes and GroupSize include the change,
	// and so do every live node's, as after Register; after LeaveGroup,
	// this node's (other nodes' follow shortly).
	EnterGroup(ctx context.Context, app, group, peer string) error
	// LeaveGroup undoes one EnterGroup.
	LeaveGroup(ctx context.Context, app, group, peer string) error
	// GroupNodes appends to dst the nodes holding members of the open
	// group, from local memory.
	GroupNodes(dst []Node, app, group string) []Node
	// GroupSize reports from local memory how many distinct peers are in
	// the open group, on all nodes.
	GroupSize(app, group string) int
}

// Syncer is implemented by a Presence whose local memory follows the
// cluster's changes with a delay (cluster/natsbus: an ordered watch).
// Sync waits until the local memory holds every change the cluster had
// acknowledged when Sync was called: a peer whose first session opened
// anywhere before the call (its Register returned) is then Online here,
// and one whose last session closed is not. A Presence whose memory is
// always current (Local) does not implement it.
type Syncer interface {
	Sync(ctx context.Context) error
}

// Rejoins keeps, cluster-wide and for a while, the open group a peer was
// in when its session there ended: a session of that peer that opens
// within that time, on any node, rejoins the group (v1 put a reconnecting
// peer back in its open group).
type Rejoins interface {
	// KeepRejoin records that peer's session in the open group ended;
	// the record lasts ttl (rounded to a second), or until the next
	// KeepRejoin or DropRejoin of the peer. When it returns, this node's
	// Rejoin shows it (other nodes' follow shortly); DropRejoin likewise.
	KeepRejoin(ctx context.Context, app, peer, group string, ttl time.Duration) error
	// DropRejoin forgets the peer's record (it left its group).
	DropRejoin(ctx context.Context, app, peer string) error
	// Rejoin returns, from local memory, the open group the peer may
	// rejoin, or "".
	Rejoin(app, peer string) string
}

// Forwarder is request/reply to the owner node of a resource.
type Forwarder interface {
	// Self is this node's current incarnation.
	Self() Node
	// Request sends req to node to and waits for its reply, or ctx. It
	// returns ErrNoNode when no such node answers.
	Request(ctx context.Context, to Node, req []byte) ([]byte, error)
	// Serve sets the handler of requests addressed to this node,
	// replacing any earlier one. stop removes it.
	Serve(fn func(ctx context.Context, req []byte) ([]byte, error)) (stop func(), err error)
}

// ErrNoNode is returned when the addressed node does not exist (any more).
var ErrNoNode = errors.New("cluster: no such node")

// ErrUnavailable wraps failures to reach the cluster (NATS down, no
// JetStream quorum): the caller may retry later, elsewhere.
var ErrUnavailable = errors.New("cluster: unavailable")

// Token encodes an app or peer id as a subject or key token: unpadded
// base64url, so ids holding '.', '*', '>' or spaces stay one token.
func Token(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

// FromToken decodes a Token.
func FromToken(tok string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	return string(b), err
}

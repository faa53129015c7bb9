// Package storage defines the small interfaces rtgate keeps its durable state
// behind: the per-peer offline inbox and the message history. Implementations
// live in subpackages (badger is the embedded default, memory is for tests)
// and all of them pass the conformance suite in storagetest.
//
// Concurrency: every implementation is safe for concurrent use.
//
// Imports: the standard library only; nothing of rtgate.
package storage

import (
	"context"
	"errors"
	"slices"
	"time"
)

// Errors shared by every store.
var (
	// ErrClosed is returned by a store used after Close.
	ErrClosed = errors.New("storage: closed")
	// ErrInvalid is returned for an argument a store cannot accept, such as
	// a message without App or ID.
	ErrInvalid = errors.New("storage: invalid argument")
	// ErrNotSupported is returned by a store for a call it cannot answer
	// (history queries on a cluster store, until the history indexer);
	// the REST API answers it with 501.
	ErrNotSupported = errors.New("storage: not supported")
)

// Message is one persistent message as stored in inboxes and history.
type Message struct {
	App     string   // app id
	ID      string   // server message id (stable across redeliveries)
	From    string   // sender peer id
	To      []string // recipient peer ids (direct messages)
	Room    string   // group id (group messages); empty for direct ones
	Text    string   // the payload, as sent
	Time    int64    // server receive time, ms since the epoch
	Receipt bool     // the sender asked for a delivery receipt
	FromIP  string   // sender address, for history
	ConvID  string   // conversation id: md5 of sorted participants, or the group id
	// ClientID is the sender's own id for the message (the `id` of a
	// modern send) and ClientSum the checksum core tells a repeat of the
	// send by: kept with the message so that a restarted server still
	// recognises the client's repeat (see ClientSends). Empty and 0 for
	// most messages.
	ClientID  string
	ClientSum uint64
}

// Clone returns a copy of m that shares nothing with it.
func (m *Message) Clone() *Message {
	c := *m
	c.To = slices.Clone(m.To)
	return &c
}

// ClientSends is implemented by stores that can list the recent messages
// that carry a ClientID, so that core's send de-duplication outlives a
// restart.
type ClientSends interface {
	// ClientSends calls fn with each message persisted with a Time at or
	// after since (ms) that has a ClientID, in no particular order; an
	// error from fn stops it and is returned.
	ClientSends(ctx context.Context, since int64, fn func(*Message) error) error
}

// SendKey names one send of a modern client: its app, its sender and the
// client's own id for the message.
type SendKey struct{ App, From, ClientID string }

// SendClaim is the state of a send in a SendClaims store.
type SendClaim struct {
	Sum  uint64 // checksum of the message (core's messageSum)
	Done bool   // stored: a repeat is acknowledged with ID and Time
	ID   string // server message id, when Done
	Time int64  // server time (ms), when Done
}

// SendClaims is implemented by stores that several nodes share (the
// cluster store), so that a repeat of a client's send that reaches
// another node than the first is recognised there too: the node that
// handles a send claims it first, and records how it ended.
type SendClaims interface {
	// ClaimSend claims the send k of a message with checksum sum. It
	// returns owned true when the caller now handles the send: nobody
	// claimed it, or the claim there is of another message (another sum),
	// failed, or was left pending longer than a store-defined time (its
	// node died). Otherwise it returns the claim there: Done (acknowledge
	// the repeat with its ID and Time), or pending (the first send is
	// under way elsewhere: ask again a little later).
	ClaimSend(ctx context.Context, k SendKey, sum uint64) (c SendClaim, owned bool, err error)
	// FinishSend records how an owned send ended: stored as message id at
	// time t (ok), or not stored (!ok: the claim is given up, so that a
	// repeat is handled afresh).
	FinishSend(ctx context.Context, k SendKey, sum uint64, id string, t int64, ok bool) error
}

// Messages persists messages: one call writes the history record and every
// inbox entry, durably (fsync'd) before it returns. Implementations batch
// concurrent calls into one sync (group commit).
type Messages interface {
	// Persist stores m in the history and in the inbox of each peer in
	// inbox (which may be empty: history only; duplicates are ignored).
	// m.App and m.ID must be set (else ErrInvalid); IDs are unique per app
	// and persisting the same message (same ID and Time) again overwrites
	// it. Persist does not keep m. Once the call is under way it runs to
	// completion: ctx is checked only before the write starts.
	Persist(ctx context.Context, m *Message, inbox []string) error
}

// OfflineHinter is implemented by stores that treat the inbox entries of
// recipients known to be offline differently (the Badger store writes
// them at once instead of keeping them in memory for a while, since no
// acknowledgement will come soon). PersistOffline is Persist, with
// offline a subset of inbox; the result must be the same.
type OfflineHinter interface {
	PersistOffline(ctx context.Context, m *Message, inbox, offline []string) error
}

// InboxNotifier is implemented by stores that add inbox entries outside
// Persist: the cluster store publishes the entries a dead node held in
// memory (storage/jetstream). fn is called on every node with each app
// and the peers that got entries, so that the node sends them to those
// peers' open sessions; it must not block.
type InboxNotifier interface {
	OnInboxAdded(fn func(app string, peers []string))
}

// InboxRefs is implemented by stores whose Remove is cheaper when the
// node handling an ack is told where another node's store put the
// message (a JetStream stream sequence): without it, that node's store
// must read the peer's inbox to find it. The core carries a ref with the
// live copy it sends to another node (cluster.Delivery.Refs).
type InboxRefs interface {
	// InboxRef returns this store's opaque reference to the message id in
	// peer's inbox, when this store persisted (or read) it and knows where
	// it is; nil otherwise.
	InboxRef(app, peer, id string) []byte
	// LearnInboxRef tells the store that ref, from another node's
	// InboxRef, holds m in peer's inbox. m needs App, ID, From, Room, Text
	// and Time (as delivered); the store fills in what its ref carries
	// (Receipt) and keeps m. A later Remove of m.ID returns that m, if the
	// message was still pending. A ref the store cannot read is ignored.
	LearnInboxRef(peer string, m *Message, ref []byte)
}

// Inbox is the per-peer offline store: the unacknowledged persistent
// messages of a peer, oldest first, at most Limits.InboxSize of the newest,
// none older than Limits.InboxTTL.
//
// Age and order come from Message.Time: a message is pending while
// now - Time < InboxTTL (now from the store's clock), and pending messages
// are ordered by (Time, ID) ascending. A message deleted from the history
// (History.Delete) is no longer pending either.
type Inbox interface {
	// Pending returns the peer's unacknowledged messages, oldest first.
	Pending(ctx context.Context, app, peer string) ([]*Message, error)
	// Remove deletes the given ids from the peer's inbox and returns the
	// messages that were pending among them, oldest first (unknown ids are
	// ignored). Unlike Persist, Remove need not be durable when it returns:
	// after a machine crash or power failure a store may have forgotten
	// recent removals, so those messages are pending again and are
	// redelivered; clients de-duplicate them by ID. (A process crash
	// loses nothing that returned.) The messages returned may be shared
	// with the store: the caller must not modify them.
	Remove(ctx context.Context, app, peer string, ids []string) ([]*Message, error)
	// Count returns how many messages the peer has pending; when direct is
	// true only messages without a Room are counted.
	Count(ctx context.Context, app, peer string, direct bool) (int, error)
}

// History paging limits.
const (
	DefaultHistoryLimit = 100  // HistoryQuery.Limit <= 0
	MaxHistoryLimit     = 1000 // larger limits are clamped to this
)

// HistoryQuery selects history records, newest first: ordered by Time
// descending, then by ID descending (byte-wise) among equal times.
//
// Paging: a page continues after its last message L with Before = L.Time
// and BeforeID = L.ID; the next page then holds exactly the messages after
// L in that order (Time < L.Time, or Time == L.Time and ID < L.ID).
type HistoryQuery struct {
	App    string
	ConvID string // only this conversation (md5 id or group id); empty = any
	From   string // only messages sent by this peer; empty = any
	// Before is the exclusive upper bound on Time in ms (max_ts); 0 = none.
	Before int64
	// AtOrBefore is the inclusive upper bound on Time (timestamp); 0 = none.
	// With Before also set, both bounds apply.
	AtOrBefore int64
	// BeforeID breaks ties with Before (msgid paging): messages with
	// Time == Before and ID < BeforeID are returned too. Ignored when
	// Before is 0.
	BeforeID string
	// Limit is at most this many; <= 0 means DefaultHistoryLimit, and it is
	// clamped to MaxHistoryLimit.
	Limit int
}

// EffectiveLimit returns q.Limit with the default and the clamp applied.
func (q HistoryQuery) EffectiveLimit() int {
	switch {
	case q.Limit <= 0:
		return DefaultHistoryLimit
	case q.Limit > MaxHistoryLimit:
		return MaxHistoryLimit
	}
	return q.Limit
}

// Admits reports whether a message with time t and id id lies within the
// bounds of q (Before, BeforeID, AtOrBefore); filters are not checked.
func (q HistoryQuery) Admits(t int64, id string) bool {
	if q.AtOrBefore != 0 && t > q.AtOrBefore {
		return false
	}
	if q.Before != 0 && !(t < q.Before || t == q.Before && q.BeforeID != "" && id < q.BeforeID) {
		return false
	}
	return true
}

// History answers message-history queries.
type History interface {
	// Query returns the records q selects, newest first (see HistoryQuery).
	Query(ctx context.Context, q HistoryQuery) ([]*Message, error)
	// Delete removes one message from the history of a conversation; the
	// message is named by all of convID, msgID and its Time ts. A message
	// that is not there: ErrNotFound. The message stops being pending in
	// inboxes too.
	Delete(ctx context.Context, app, convID, msgID string, ts int64) error
}

// Limits bounds what a store keeps. The zero value means the defaults.
type Limits struct {
	InboxSize int           // newest messages kept per peer; 0 means 50
	InboxTTL  time.Duration // how long a message stays in an inbox; 0 means 7 days
}

// WithDefaults returns l with zero fields set to their defaults.
func (l Limits) WithDefaults() Limits {
	if l.InboxSize <= 0 {
		l.InboxSize = 50
	}
	if l.InboxTTL <= 0 {
		l.InboxTTL = 7 * 24 * time.Hour
	}
	return l
}

// Store is everything a node keeps durably.
type Store interface {
	Messages
	Inbox
	History
	Groups
	GroupAttrs
	Close() error
}

package core

import (
	"log/slog"
	"time"

	"github.com/rtgate/rtgate/cluster"
	"github.com/rtgate/rtgate/storage"
)

// App is one application: its keys and options.
type App struct {
	ID        string // appId
	Key       string // app key (REST)
	MasterKey string // master key: signs HMAC-SHA1 signatures, REST admin

	// Signatures requires a valid signature on session open/add and room
	// join/invite/kick (v1 "聊天服务签名认证").
	Signatures bool
	// AllowUnwatched lets peers send direct messages to peers they do not
	// watch. The v1 default (false) acks such messages without delivering.
	AllowUnwatched bool
}

// Apps finds apps by id.
type Apps interface {
	// App returns the app with that id, or false when it is unknown.
	App(id string) (*App, bool)
}

// DevApps accepts every app id, without keys or signatures: the embedded
// default when no app is configured.
type DevApps struct{}

// App returns a fresh dev-mode app for any non-empty id.
func (DevApps) App(id string) (*App, bool) {
	if id == "" {
		return nil, false
	}
	return &App{ID: id}, true
}

// StaticApps is a fixed set of apps keyed by id.
type StaticApps map[string]*App

// App implements Apps.
func (s StaticApps) App(id string) (*App, bool) {
	a, ok := s[id]
	return a, ok
}

// Config configures a Hub. The zero value of every field is its documented
// default; only Store is required.
type Config struct {
	// Apps resolves app ids. Nil means DevApps (any app id).
	Apps Apps
	// Store keeps inboxes, history and groups. Required.
	Store storage.Store
	// Logger receives the hub's logs. Nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time

	// Deliverer and Presence join the hub to a cluster (cluster/natsbus,
	// or a cluster.Local in tests); set both or neither. Nil means a
	// single node: presence is kept in process and every delivery is
	// local.
	Deliverer cluster.Deliverer
	Presence  cluster.Presence
	// OpenGroups, in a cluster, registers this node's sessions in open
	// (transient) groups, so that their messages reach members on every
	// node and their online counts are cluster-wide. Nil means Presence,
	// when it implements cluster.OpenGroups (cluster/natsbus and
	// cluster.Local do); otherwise open groups are this node's only.
	// When it also implements cluster.Rejoins, a peer whose session in an
	// open group ended rejoins it on whichever node it opens again within
	// OpenGroupRejoin. Unused on a single node.
	OpenGroups cluster.OpenGroups

	// Redrain, in a cluster, reads a peer's inbox once more this long
	// after its session opened, for messages stored while the other
	// nodes had not yet seen the open. Zero means 1 s; negative turns it
	// off. Unused on a single node.
	Redrain time.Duration

	// Offline, when set, is told about persistent messages stored for
	// peers with no open session (the offline push hook).
	Offline OfflineNotifier

	// LoginTimeout closes a connection with 4108 when no session was
	// opened (and no Android login was sent) this long after connecting.
	// Zero means 60 s.
	LoginTimeout time.Duration
	// ReadTimeout closes a connection with 4107 when nothing was read from
	// it for this long. Zero means 360 s.
	ReadTimeout time.Duration
	// StoreTimeout bounds one storage call. Zero means 10 s.
	StoreTimeout time.Duration

	// MaxPeersPerConn bounds the sessions on one connection. Zero means 64.
	MaxPeersPerConn int
	// MaxWatch bounds the watch set of one session. Zero means 10000.
	MaxWatch int
	// MaxWatchPerConn bounds the watch entries of one connection, over
	// all its sessions; past it the connection is closed with
	// protocol.CloseTooManyWatches. Zero means 20000.
	MaxWatchPerConn int
	// MaxWatchPerApp bounds the watch entries of one app on this node,
	// over all its connections (each costs about 350 bytes); a connection
	// that would pass it is closed with protocol.CloseTooManyWatches.
	// Zero means 1 000 000.
	MaxWatchPerApp int
	// MaxRecipients bounds toPeerIds of one direct message. Zero means 1000.
	MaxRecipients int
	// MaxDelivered bounds the unacknowledged message ids a session
	// remembers for cumulative and bare acks. Zero means 1024.
	MaxDelivered int
	// MaxGroupMembers bounds the members of a group; joins and invites
	// past it are rejected. Zero means 1000.
	MaxGroupMembers int
	// OpenGroupRejoin is how long a peer whose session ended stays in its
	// open group: opening again within it rejoins. Zero means 30 min.
	OpenGroupRejoin time.Duration

	// SignatureWindow is how far a signature's timestamp may be from now,
	// either way. Zero means 6 h.
	SignatureWindow time.Duration
	// NonceCacheSize, when positive, refuses a signature whose nonce the
	// app already used while that signature's timestamp is within the
	// window, remembering at most this many nonces per app (about 50 bytes
	// each, whatever the nonce's length). A full cache forgets the oldest
	// timestamp and then refuses signatures no newer than it; fresh ones
	// pass (see nonceCache). Zero (the default) keeps no cache: the v1
	// demos reuse one nonce.
	NonceCacheSize int

	// DedupeWindow is how long a modern client's send with a client id
	// (`id`) is remembered, so that a repeat (the client resending after
	// its connection dropped before the ack) is acked without being stored
	// or delivered again. Zero means 10 min; negative turns it off. A store
	// that implements storage.ClientSends (Badger) gives New the sends of
	// the last window, so a repeat after a restart is recognised too.
	DedupeWindow time.Duration
	// DedupeEntries bounds the sends remembered; the oldest go first.
	// Zero means 100 000.
	DedupeEntries int

	// CopyToSenderDevices also delivers a direct message to the sender's
	// other open sessions (protocol-v1 §8 q11). Default off.
	CopyToSenderDevices bool
}

func (c Config) withDefaults() Config {
	if c.Apps == nil {
		c.Apps = DevApps{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.LoginTimeout <= 0 {
		c.LoginTimeout = 60 * time.Second
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 360 * time.Second
	}
	if c.StoreTimeout <= 0 {
		c.StoreTimeout = 10 * time.Second
	}
	if c.MaxPeersPerConn <= 0 {
		c.MaxPeersPerConn = 64
	}
	if c.MaxWatch <= 0 {
		c.MaxWatch = 10000
	}
	if c.MaxWatchPerConn <= 0 {
		c.MaxWatchPerConn = 20000
	}
	if c.MaxWatchPerApp <= 0 {
		c.MaxWatchPerApp = 1_000_000
	}
	if c.MaxRecipients <= 0 {
		c.MaxRecipients = 1000
	}
	if c.MaxGroupMembers <= 0 {
		c.MaxGroupMembers = 1000
	}
	if c.DedupeWindow == 0 {
		c.DedupeWindow = 10 * time.Minute
	}
	if c.DedupeEntries <= 0 {
		c.DedupeEntries = 100_000
	}
	if c.OpenGroupRejoin <= 0 {
		c.OpenGroupRejoin = 30 * time.Minute
	}
	if c.SignatureWindow <= 0 {
		c.SignatureWindow = 6 * time.Hour
	}
	if c.Redrain == 0 {
		c.Redrain = time.Second
	}
	if c.MaxDelivered <= 0 {
		c.MaxDelivered = 1024
	}
	return c
}

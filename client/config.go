package client

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/rtgate/rtgate/client/wire"
)

// Config configures a Client. The zero value of every field is its
// documented default; URL and AppID are required.
type Config struct {
	// URL is the server: ws://host:port/ (or wss://), quic://host:port or
	// https://host:port/wt (or wt://host:port/wt). See package wire.
	URL string
	// AppID is the application id sent on every command. Required.
	AppID string
	// Transport holds the wire options: the WebSocket dialect (default
	// modern msgpack), TLS roots, a pinned certificate hash, timeouts. Nil
	// means wire defaults.
	Transport *wire.Options

	// Signer returns signatures for session open/add and group
	// join/invite/kick, for apps that require them. Nil sends none.
	Signer SignatureFactory
	// Handler receives the events, one at a time, in order, on the
	// Client's event goroutine. Nil means NopHandler.
	Handler Handler
	// Reconnect sets the backoff between reconnection attempts.
	Reconnect Backoff
	// Logger receives the client's logs. Nil means slog.Default().
	Logger *slog.Logger

	// RequestTimeout bounds every request that waits for a reply (open,
	// watch, query, persistent send, group operations), the time spent
	// waiting for a connection included. Zero means 10 s.
	RequestTimeout time.Duration
	// DialTimeout bounds one connection attempt. Zero means 10 s.
	DialTimeout time.Duration
	// KeepAlive is how often the client sends the `{}` keepalive, which
	// the server answers. A connection on which nothing arrived for three
	// periods is considered dead and replaced. Zero means 30 s; negative
	// disables both.
	KeepAlive time.Duration
	// DedupeSize is how many received message ids the client remembers to
	// drop redelivered duplicates. Zero means 4096.
	DedupeSize int
	// MaxQueuedEvents bounds the events waiting for the Handler. When the
	// Handler falls further behind, the client drops the connection
	// (persistent messages are not acked before the Handler has seen
	// them, so the server redelivers them after the reconnection) and
	// counts it in Stats.SlowHandler. Zero means 10000.
	MaxQueuedEvents int

	dial func(context.Context, string, *wire.Options) (wire.Conn, error) // nil: wire.Dial (tests wrap it)
}

// Backoff is the exponential reconnection backoff with jitter: attempt n
// (from 0) waits a random duration in [d/2, d] where d = min(Max,
// Initial·Multiplier^n). The attempt counter resets once a connection has
// re-opened its sessions.
type Backoff struct {
	// Initial is the first delay. Zero means 250 ms.
	Initial time.Duration
	// Max bounds every delay. Zero means 30 s.
	Max time.Duration
	// Multiplier grows the delay per attempt. Zero means 2.
	Multiplier float64
	// Disabled turns reconnection off: a lost connection pauses the
	// sessions and the client stays offline until Close.
	Disabled bool
}

// delay returns the wait before attempt n (n >= 0).
func (b Backoff) delay(n int, rnd float64) time.Duration {
	d := float64(b.Initial)
	for i := 0; i < n && d < float64(b.Max); i++ {
		d *= b.Multiplier
	}
	d = min(d, float64(b.Max))
	return time.Duration(d/2 + rnd*d/2)
}

func (c Config) withDefaults() Config {
	if c.Handler == nil {
		c.Handler = NopHandler{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = 30 * time.Second
	}
	if c.DedupeSize <= 0 {
		c.DedupeSize = 4096
	}
	if c.MaxQueuedEvents <= 0 {
		c.MaxQueuedEvents = 10000
	}
	if c.Reconnect.Initial <= 0 {
		c.Reconnect.Initial = 250 * time.Millisecond
	}
	if c.Reconnect.Max <= 0 {
		c.Reconnect.Max = 30 * time.Second
	}
	if c.Reconnect.Multiplier < 1 {
		c.Reconnect.Multiplier = 2
	}
	return c
}

// Sign actions, as they appear in SignRequest.Action and in the v1
// signature strings.
const (
	ActionOpen   = "open"   // session open: peer + watch list
	ActionAdd    = "add"    // session add: peer + peers to watch
	ActionJoin   = "join"   // room join (GroupID "" creates a group)
	ActionInvite = "invite" // room invite
	ActionKick   = "kick"   // room kick
)

// SignRequest describes what needs a signature.
type SignRequest struct {
	AppID  string
	PeerID string
	// Action is one of ActionOpen, ActionAdd, ActionJoin, ActionInvite,
	// ActionKick.
	Action string
	// GroupID is the group of a room action ("" when creating).
	GroupID string
	// Peers are the watch list (open/add) or the targets (invite/kick).
	Peers []string
}

// Signature is what a SignatureFactory returns: the v1 `s`, `t` and `n`.
type Signature struct {
	Sig   string // hex HMAC-SHA1
	Time  int64  // signature time, seconds since the epoch
	Nonce string
	// SignedPeers, when not nil, replaces the request's peer list on the
	// wire (the iOS SDK's signedPeerIds): the server checks the signature
	// over the list it receives.
	SignedPeers []string
}

// SignatureFactory signs session and group operations, usually by asking
// the app's own server (which holds the master key). It is called from the
// goroutine issuing the request, and from the connection goroutine when
// sessions are re-opened after a reconnection; ctx ends with the request or
// the connection.
type SignatureFactory func(ctx context.Context, req SignRequest) (Signature, error)

// HMACSigner returns a SignatureFactory that signs locally with the app's
// master key, exactly as the v1 server checks (protocol-v1.md §6). Only for
// trusted programs (bots, tests): an end-user app must never hold the
// master key.
func HMACSigner(masterKey string) SignatureFactory {
	return func(_ context.Context, r SignRequest) (Signature, error) {
		var b [8]byte
		rand.Read(b[:])
		sig := Signature{Time: time.Now().Unix(), Nonce: hex.EncodeToString(b[:])}
		t := strconv.FormatInt(sig.Time, 10)
		var fields []string
		switch r.Action {
		case ActionOpen, ActionAdd:
			fields = []string{r.AppID, r.PeerID, sortedJoin(r.Peers), t, sig.Nonce}
		default:
			fields = []string{r.AppID, r.PeerID, r.GroupID, sortedJoin(r.Peers), t, sig.Nonce, r.Action}
		}
		mac := hmac.New(sha1.New, []byte(masterKey))
		mac.Write([]byte(strings.Join(fields, ":")))
		sig.Sig = hex.EncodeToString(mac.Sum(nil))
		return sig, nil
	}
}

// sortedJoin joins ids sorted by UTF-16 code units (as the JS and Java
// signers of the era did) with ":".
func sortedJoin(ids []string) string {
	s := slices.Clone(ids)
	slices.SortFunc(s, func(a, b string) int {
		return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
	})
	return strings.Join(s, ":")
}

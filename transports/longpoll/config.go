package longpoll

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/rtgate/rtgate/cluster"
	"github.com/rtgate/rtgate/protocol"
)

// Config configures a Handler. The zero value of every field is its
// documented default.
type Config struct {
	// PollTimeout is how long a poll is held when there is nothing to
	// deliver; it then returns an empty batch with the ping marker. It is
	// also the pingInterval announced by /open. Keep it below the idle
	// timeouts of proxies and load balancers (often 30-60 s). Zero means
	// 25 s.
	PollTimeout time.Duration
	// PingTimeout is how long the server waits for the next poll after a
	// poll response: a session without a poll in flight for
	// PollTimeout+PingTimeout expires (its peers go offline). It is also
	// how long a closed session lingers so that a retried final poll gets
	// the same close again. Zero means 20 s.
	PingTimeout time.Duration
	// WriteTimeout bounds writing one response (after the hold, for
	// polls). Zero means 10 s.
	WriteTimeout time.Duration
	// ReadTimeout bounds reading one request body. Zero means 10 s.
	ReadTimeout time.Duration

	// MaxPayload bounds one request body (POST /send, /open) and, for
	// responses, the frames of one poll batch (a batch always carries at
	// least one frame). Zero means 1 MiB.
	MaxPayload int
	// MaxFrameBytes bounds one inbound command (the "d" of a send item): a
	// larger one closes the session with protocol.CloseTooLong (4109).
	// Zero means protocol.DefaultMaxFrameBytes (64 KiB).
	MaxFrameBytes int
	// MaxBatchFrames bounds the commands of one POST /send. Zero means 128.
	MaxBatchFrames int

	// BufferFrames and BufferBytes bound the frames a session keeps until
	// the client acknowledges them. A reply or message over either bound
	// ends the session with protocol.CloseSlowConsumer (4201); its
	// persistent messages stay in the inboxes. A presence event over it
	// replaces an older one about the same peer or drops the oldest. Zero
	// means 2048 frames and 1 MiB.
	BufferFrames int
	BufferBytes  int

	// MaxSessions bounds the open long-poll sessions of the handler; /open
	// past it answers 503. Zero means 100000.
	MaxSessions int
	// MaxSessionsPerIP bounds the sessions in the table opened from one
	// remote IP address; /open past it answers 429 (too_many_sessions).
	// Zero means 200; negative means no bound.
	MaxSessionsPerIP int
	// FirstPollTimeout is how long a new session waits for its first
	// poll before it expires, much shorter than the expiry of a session
	// that polled (PollTimeout+PingTimeout): a client opening sessions it
	// never polls holds each only this long. Zero means 10 s; it is never
	// longer than PollTimeout+PingTimeout.
	FirstPollTimeout time.Duration
	// Admit, when set, counts a session as a connection of its remote
	// address (r.RemoteAddr) for a limit shared with the other transports
	// (rtgate's limits.connectionsPerIP): ok false refuses the open with
	// 429; release is called once when the session leaves the table.
	Admit func(r *http.Request) (release func(), ok bool)
	// Forward, in a cluster, names this node in new session ids and
	// carries requests for other nodes' sessions to them, so any node
	// serves any session (no sticky load balancing). Nil: sessions are
	// this node's only, as on a single node.
	Forward cluster.Forwarder

	// AllowedOrigins lists the Origin header values allowed to use the
	// endpoints cross-origin ("https://chat.example.org", compared
	// case-insensitively; "*" allows any). Requests without Origin are
	// always allowed. Empty means any origin. CheckOrigin, when set,
	// decides instead.
	AllowedOrigins []string
	CheckOrigin    func(r *http.Request) bool

	// Logger receives the handler's logs. Nil means slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.PollTimeout <= 0 {
		c.PollTimeout = 25 * time.Second
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = 20 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 10 * time.Second
	}
	if c.MaxPayload <= 0 {
		c.MaxPayload = 1 << 20
	}
	if c.MaxFrameBytes <= 0 {
		c.MaxFrameBytes = protocol.DefaultMaxFrameBytes
	}
	if c.MaxBatchFrames <= 0 {
		c.MaxBatchFrames = 128
	}
	if c.BufferFrames <= 0 {
		c.BufferFrames = 2048
	}
	if c.BufferBytes <= 0 {
		c.BufferBytes = 1 << 20
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = 100000
	}
	if c.MaxSessionsPerIP == 0 {
		c.MaxSessionsPerIP = 200
	}
	if c.FirstPollTimeout <= 0 {
		c.FirstPollTimeout = 10 * time.Second
	}
	c.FirstPollTimeout = min(c.FirstPollTimeout, c.PollTimeout+c.PingTimeout)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

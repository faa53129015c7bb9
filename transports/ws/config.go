package ws

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/rtgate/rtgate/protocol"
)

// Config configures a Handler. The zero value of every field is its
// documented default.
type Config struct {
	// MaxFrameBytes bounds one inbound frame. A larger frame closes the
	// connection with protocol.CloseTooLong (4109) once MaxFrameBytes+1
	// bytes have been read: it is never buffered whole. Zero means
	// protocol.DefaultMaxFrameBytes (64 KiB).
	MaxFrameBytes int
	// QueueBytes bounds the encoded frames queued for one connection and not
	// yet written to the socket. A reply or message that takes the queue
	// over it closes the connection with protocol.CloseSlowConsumer (4201);
	// a presence event replaces an older one about the same peer or drops
	// the oldest (rtgate_ws_queue_drops_total). The reader of
	// a connection whose queue is over half of it waits for the writer
	// before it reads the next command (a client that pipelines requests
	// without reading replies is slowed down, not disconnected). Zero means
	// 1 MiB.
	QueueBytes int
	// WriteTimeout bounds every socket write (a batch of frames, a ping, a
	// close frame). A write that does not finish in time ends the
	// connection. The deadline is moved lazily, so a write has between
	// 3/4 of WriteTimeout and WriteTimeout. Zero means 10 s.
	WriteTimeout time.Duration
	// PingInterval is how often the server pings clients of the modern
	// dialects. A modern connection from which nothing (frame or pong) was
	// read for two intervals is dropped as dead. Legacy (v1) clients get no
	// server pings and no transport read deadline: the core's read timeout
	// (4107) applies; their pings are answered with pongs. Zero means 25 s;
	// negative disables server pings.
	PingInterval time.Duration
	// HandshakeTimeout bounds writing the upgrade response. Zero means 10 s.
	HandshakeTimeout time.Duration
	// CloseGrace is how long the server waits for the client's close frame
	// after sending its own, before it drops the socket. Zero means 2 s.
	CloseGrace time.Duration
	// IdleHandover is how long a connection's reader waits for the next
	// frame on its own goroutine (whose stack grew handling frames) before
	// it hands the wait over to a fresh goroutine with a small stack, so
	// that a busy connection does not pay a goroutine start and a stack
	// growth per frame, and an idle one costs about 2 KiB of stack. The
	// reader's read deadline carries it, moved at most every
	// IdleHandover/2, so the handover comes between 1/2 and 1 IdleHandover
	// after the last frame. Zero means 1 s; negative hands over after
	// every frame.
	IdleHandover time.Duration

	// CheckOrigin decides whether a browser page from the request's Origin
	// may connect. When nil, AllowedOrigins decides.
	CheckOrigin func(r *http.Request) bool
	// AllowedOrigins lists the Origin header values allowed to connect
	// ("https://chat.example.org", compared case-insensitively; "*" allows
	// any). Requests without an Origin header (native clients) are always
	// allowed. Empty means any origin: v1 pages are cross-origin by nature.
	AllowedOrigins []string

	// CommandsPerSecond is the sustained rate of inbound frames (commands
	// and pings) one connection may send; a connection over its token
	// bucket is closed with protocol.ClosePolicyViolation (1008) "flood".
	// Zero means 200; negative disables flood protection.
	CommandsPerSecond float64
	// Burst is the token bucket's size. Zero means 400.
	Burst int

	// Logger receives the handler's logs. Nil means slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.MaxFrameBytes <= 0 {
		c.MaxFrameBytes = protocol.DefaultMaxFrameBytes
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = 1 << 20
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.PingInterval == 0 {
		c.PingInterval = 25 * time.Second
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.CloseGrace <= 0 {
		c.CloseGrace = 2 * time.Second
	}
	if c.IdleHandover == 0 {
		c.IdleHandover = time.Second
	}
	if c.CommandsPerSecond == 0 {
		c.CommandsPerSecond = 200
	}
	if c.Burst <= 0 {
		c.Burst = 400
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

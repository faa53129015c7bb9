package webtransport

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/rtgate/rtgate/transports/quic/framed"
)

// Config configures a Handler. The zero value of every field is its
// documented default.
type Config struct {
	// Path is the URL path of WebTransport sessions. Zero means "/wt".
	Path string
	// HTTP serves the other HTTP/3 requests on the connection (the demo
	// page, /certinfo). Nil answers them 404.
	HTTP http.Handler

	// CheckOrigin decides whether a page from the request's Origin may
	// open a session. When nil, AllowedOrigins decides.
	CheckOrigin func(r *http.Request) bool
	// AllowedOrigins lists the Origin values allowed to open sessions
	// (compared case-insensitively; "*" allows any). Requests without an
	// Origin (native clients) are always allowed. Empty means any origin.
	AllowedOrigins []string

	// SessionTimeout bounds how long the server waits for a client's
	// HTTP/3 SETTINGS and reordered streams. Zero means 5 s.
	SessionTimeout time.Duration
	// MaxIncomingStreams, MaxIncomingUniStreams and MaxIncomingData are the
	// WebTransport flow-control limits of one session, offered to clients
	// that speak WT flow control (Safari requires them; Chrome sends none,
	// and then a QUIC connection carries one session). Zero means 16, 16
	// and 4 MiB.
	MaxIncomingStreams, MaxIncomingUniStreams, MaxIncomingData int64

	// MaxFrameBytes bounds one inbound frame body; a larger declared length
	// closes with 4109 before anything is buffered. Zero means
	// protocol.DefaultMaxFrameBytes (64 KiB).
	MaxFrameBytes int
	// QueueBytes bounds what is queued for one session and not yet
	// written; over it the session closes with 4201. The reader pauses
	// while its queue is over half full. Zero means 1 MiB.
	QueueBytes int
	// WriteTimeout bounds every stream write. Zero means 10 s.
	WriteTimeout time.Duration
	// ReadTimeout bounds the wait for each inbound frame (a backstop: the
	// core's read timeout, 4107, acts first). WT streams can hang after
	// WT_SESSION_GONE, so every read and write has a deadline and the
	// session's end aborts both. Zero means 10 min.
	ReadTimeout time.Duration
	// CloseGrace is how long a closing session waits for the client's FIN
	// after its own before it closes the session. Zero means 2 s.
	CloseGrace time.Duration
	// CommandsPerSecond is the sustained rate of inbound frames one
	// session may send (1008 "flood" over it). Zero means 200; negative
	// disables flood protection.
	CommandsPerSecond float64
	// Burst is the flood token bucket's size. Zero means 400.
	Burst int

	// DisableDatagrams keeps every message on the stream. By default a
	// session opened with the query parameter datagrams=1 receives
	// transient direct messages that fit in MaxDatagramBytes as
	// datagrams.
	DisableDatagrams bool
	// MaxDatagramBytes bounds a datagram's msgpack body. Zero means 1100
	// (Chrome reports maxDatagramSize 1215 on loopback).
	MaxDatagramBytes int

	// Logger receives the handler's logs. Nil means slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Path == "" {
		c.Path = "/wt"
	}
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = 5 * time.Second
	}
	if c.MaxIncomingStreams <= 0 {
		c.MaxIncomingStreams = 16
	}
	if c.MaxIncomingUniStreams <= 0 {
		c.MaxIncomingUniStreams = 16
	}
	if c.MaxIncomingData <= 0 {
		c.MaxIncomingData = 4 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (c Config) connOptions(m *framed.Metrics, pool *framed.BufPool) framed.Options {
	return framed.Options{
		MaxFrameBytes:     c.MaxFrameBytes,
		QueueBytes:        c.QueueBytes,
		WriteTimeout:      c.WriteTimeout,
		ReadTimeout:       c.ReadTimeout,
		CloseGrace:        c.CloseGrace,
		CommandsPerSecond: c.CommandsPerSecond,
		Burst:             c.Burst,
		MaxDatagramBytes:  c.MaxDatagramBytes,
		Metrics:           m,
		Logger:            c.Logger,
		Pool:              pool,
	}.WithDefaults()
}

package webtransport

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/rtgate/rtgate/transports/framed"
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

	// ConnLinger is how long a QUIC connection stays open once its last
	// WebTransport session has ended, for the client to open another on
	// it; then the server closes it (H3_NO_ERROR). Zero means 2 s; a
	// negative value leaves the connection to the client and the idle
	// timeout. Connections that never carried a session are left alone.
	ConnLinger time.Duration

	// Limits bound each session (frame size, queue, timeouts, flood,
	// datagrams); see framed.Limits.
	framed.Limits

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
	if c.ConnLinger == 0 {
		c.ConnLinger = 2 * time.Second
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
	return c.Limits.Options(m, c.Logger, pool)
}

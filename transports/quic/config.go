package quic

import (
	"log/slog"
	"net"
	"time"

	quicgo "github.com/quic-go/quic-go"

	"github.com/rtgate/rtgate/transports/framed"
)

// Config configures a Server. The zero value of every field is its
// documented default.
type Config struct {
	// H3 serves the connections that negotiate ALPN "h3" on the same UDP
	// port (HTTP/3 and WebTransport: a *webtransport.Handler). Nil refuses
	// them: only raw QUIC is served.
	H3 H3Server

	// MaxIdleTimeout closes a connection on which nothing was received for
	// this long (the client keeps it alive with QUIC pings; the server
	// sends none). quic-go clients honour no less than 5 s. Zero means
	// 60 s.
	MaxIdleTimeout time.Duration
	// HandshakeIdleTimeout bounds the QUIC handshake. Zero means 5 s.
	HandshakeIdleTimeout time.Duration
	// MaxIncomingStreams and MaxIncomingUniStreams bound the streams a
	// client may have open at once. A raw QUIC client uses one
	// bidirectional stream; HTTP/3 needs a few of each. Zero means 16.
	MaxIncomingStreams, MaxIncomingUniStreams int64
	// Receive windows bound what a client may have in flight toward the
	// server, per stream and per connection. Zero means 64 KiB initial /
	// 512 KiB max per stream, 128 KiB initial / 1 MiB max per connection.
	InitialStreamReceiveWindow, MaxStreamReceiveWindow         uint64
	InitialConnectionReceiveWindow, MaxConnectionReceiveWindow uint64

	// Limits bound each connection (frame size, queue, timeouts, flood,
	// datagrams); see framed.Limits.
	framed.Limits

	// Admit, if set, is asked about each new connection (by its remote
	// address) before it is served: false closes it with 1008, "too many
	// connections from this address"; release is called when it ends.
	// rtgate's per-IP limit (limits.connectionsPerIP) is such a hook.
	Admit func(remote net.Addr) (release func(), ok bool)

	// Logger receives the server's logs. Nil means slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.MaxIdleTimeout <= 0 {
		c.MaxIdleTimeout = 60 * time.Second
	}
	if c.HandshakeIdleTimeout <= 0 {
		c.HandshakeIdleTimeout = 5 * time.Second
	}
	if c.MaxIncomingStreams <= 0 {
		c.MaxIncomingStreams = 16
	}
	if c.MaxIncomingUniStreams <= 0 {
		c.MaxIncomingUniStreams = 16
	}
	if c.InitialStreamReceiveWindow == 0 {
		c.InitialStreamReceiveWindow = 64 << 10
	}
	if c.MaxStreamReceiveWindow == 0 {
		c.MaxStreamReceiveWindow = 512 << 10
	}
	if c.InitialConnectionReceiveWindow == 0 {
		c.InitialConnectionReceiveWindow = 128 << 10
	}
	if c.MaxConnectionReceiveWindow == 0 {
		c.MaxConnectionReceiveWindow = 1 << 20
	}
	// A maximum set below the default initial window lowers the initial.
	c.InitialStreamReceiveWindow = min(c.InitialStreamReceiveWindow, c.MaxStreamReceiveWindow)
	c.InitialConnectionReceiveWindow = min(c.InitialConnectionReceiveWindow, c.MaxConnectionReceiveWindow)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// QUICConfig returns the quic-go configuration of the shared listener. It
// enables datagrams and stream resets with partial delivery, which
// WebTransport requires, and leaves 0-RTT off and keep-alives to clients.
func (c Config) QUICConfig() *quicgo.Config {
	c = c.withDefaults()
	return &quicgo.Config{
		HandshakeIdleTimeout:             c.HandshakeIdleTimeout,
		MaxIdleTimeout:                   c.MaxIdleTimeout,
		KeepAlivePeriod:                  0,
		MaxIncomingStreams:               c.MaxIncomingStreams,
		MaxIncomingUniStreams:            c.MaxIncomingUniStreams,
		InitialStreamReceiveWindow:       c.InitialStreamReceiveWindow,
		MaxStreamReceiveWindow:           c.MaxStreamReceiveWindow,
		InitialConnectionReceiveWindow:   c.InitialConnectionReceiveWindow,
		MaxConnectionReceiveWindow:       c.MaxConnectionReceiveWindow,
		EnableDatagrams:                  true,
		EnableStreamResetPartialDelivery: true,
	}
}

func (c Config) connOptions(m *framed.Metrics, pool *framed.BufPool) framed.Options {
	return c.Limits.Options(m, c.Logger, pool)
}

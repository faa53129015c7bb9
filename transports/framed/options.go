package framed

import (
	"log/slog"
	"time"

	"github.com/rtgate/rtgate/protocol"
)

// Limits are the per-connection bounds of both QUIC transports; raw QUIC's
// and WebTransport's Configs embed them, so they are documented once.
type Limits struct {
	// MaxFrameBytes bounds one inbound frame body; a larger declared length
	// closes with protocol.CloseTooLong (4109) before anything is buffered.
	// Zero means protocol.DefaultMaxFrameBytes (64 KiB).
	MaxFrameBytes int
	// QueueBytes bounds the encoded frames and datagrams queued and not yet
	// written to the stream; a reply or message over it closes with
	// protocol.CloseSlowConsumer (4201), a presence event over it replaces
	// an older one about the same peer or drops the oldest. The reader
	// pauses while its queue is over half full. Zero means 1 MiB.
	QueueBytes int
	// WriteTimeout bounds every stream write. Zero means 10 s.
	WriteTimeout time.Duration
	// ReadTimeout bounds the wait for each inbound frame, a backstop for a
	// stream that stalls while its connection lives (the core's read
	// timeout, 4107, and the QUIC idle timeout normally act first;
	// WebTransport streams can hang after WT_SESSION_GONE, so every read
	// and write has a deadline). Zero means 10 min.
	ReadTimeout time.Duration
	// CloseGrace is how long a closing connection waits for the client's
	// FIN after its own before it closes the connection. Zero means 2 s.
	CloseGrace time.Duration
	// CommandsPerSecond is the sustained rate of inbound frames; a faster
	// client is closed with protocol.ClosePolicyViolation (1008) "flood".
	// Zero means 200; negative disables flood protection.
	CommandsPerSecond float64
	// Burst is the flood token bucket's size. Zero means 400.
	Burst int
	// DisableDatagrams keeps every message on the stream. By default a
	// client that asked for datagrams (raw QUIC: its max_datagram_frame_size
	// transport parameter; WebTransport: the query parameter datagrams=1)
	// receives transient direct messages that fit in MaxDatagramBytes as
	// datagrams.
	DisableDatagrams bool
	// MaxDatagramBytes bounds a datagram's msgpack body; larger transient
	// messages go on the stream. Zero means 1100 (Chrome reports
	// maxDatagramSize 1215 on loopback).
	MaxDatagramBytes int
}

// Options returns the Options of one connection under l.
func (l Limits) Options(m *Metrics, logger *slog.Logger, pool *BufPool) Options {
	return Options{Limits: l, Metrics: m, Logger: logger, Pool: pool}.WithDefaults()
}

// Options configures a Conn. The zero value of every field is its
// documented default; the transports' Configs document them to users.
type Options struct {
	Limits
	// Datagrams lets transient direct messages that fit in
	// MaxDatagramBytes leave as datagrams. The transport sets it when the
	// client asked for them.
	Datagrams bool
	// Metrics receives the counters; nil counts nothing.
	Metrics *Metrics
	// Logger receives debug logs. Nil means slog.Default().
	Logger *slog.Logger
	// Pool supplies queue buffers shared by a transport's connections; nil
	// allocates per connection.
	Pool *BufPool
}

// WithDefaults returns o with every zero field set to its default.
func (o Options) WithDefaults() Options {
	if o.MaxFrameBytes <= 0 {
		o.MaxFrameBytes = protocol.DefaultMaxFrameBytes
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = 1 << 20
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 10 * time.Minute
	}
	if o.CloseGrace <= 0 {
		o.CloseGrace = 2 * time.Second
	}
	if o.CommandsPerSecond == 0 {
		o.CommandsPerSecond = 200
	}
	if o.Burst <= 0 {
		o.Burst = 400
	}
	if o.MaxDatagramBytes <= 0 {
		o.MaxDatagramBytes = 1100
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Package wire is the low-level client side of the rtgate transports: it
// dials a server, and sends and receives *protocol.Command values over one
// connection. It knows framing, codecs and TLS; it knows nothing of
// sessions, replies or reconnection (package client does that). The Go SDK,
// the conformance runner (spec/) and the load tool (cmd/rtbench) share it.
//
// Dial picks the transport from the URL scheme:
//
//	ws://host:port/path, wss://…   WebSocket; Options.Codec picks the dialect:
//	                               modern msgpack (default, subprotocol
//	                               rtgate.msgpack.1), modern JSON
//	                               (rtgate.json.1) or v1 legacy JSON (none)
//	quic://host:port               raw QUIC, ALPN "rtgate/1", one
//	                               bidirectional stream
//	https://host:port/wt, wt://…   WebTransport over HTTP/3 (wt:// means
//	                               https:// with the same host and path)
//
// QUIC and WebTransport carry frames of a varint length and a msgpack body
// (protocol.AppendFrame) on one client-opened bidirectional stream; the
// server may also send a command as a datagram (one msgpack body, no
// prefix). Recv merges both: stream frames in order, a datagram as soon as
// it arrives.
//
// TLS: Options.RootCAs, Options.PinSHA256 (the hex SHA-256 of the server's
// leaf certificate, as published by the dev server at /certinfo; it skips
// chain verification and compares the hash instead, like a browser's
// serverCertificateHashes) or Options.InsecureSkipVerify (tests only).
//
// Concurrency: Send is safe for concurrent use (sends are serialised, each
// encoded into a reused buffer and written whole). Recv must be called by
// one goroutine at a time. Close is safe to call from any goroutine, more
// than once; it unblocks a pending Recv. A Conn starts no goroutine per
// message: a WebSocket conn none at all, a QUIC or WebTransport conn one
// that receives datagrams (Close waits for it).
//
// Imports: protocol, gorilla/websocket, quic-go, webtransport-go and the
// standard library. Never core, storage or transports.
package wire

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/rtgate/rtgate/protocol"
)

// Conn is one client connection to an rtgate server.
type Conn interface {
	// Send encodes c (the caller may reuse it afterwards) and writes it,
	// waiting at most Options.WriteTimeout.
	Send(c *protocol.Command) error
	// Recv returns the next command from the server: stream frames in
	// order, datagrams merged in as they arrive. A frame that does not
	// decode returns an error wrapping protocol.ErrMalformed or
	// protocol.ErrUnknownCommand and the Conn stays usable; any other
	// error is final. A close by the server with a code is returned as a
	// *protocol.CloseError (use errors.As); after Close, Recv returns
	// ErrClosed.
	Recv() (*protocol.Command, error)
	// Close ends the connection (a normal close frame; on QUIC and
	// WebTransport the end of the stream, then, once the server closed or
	// after at most a second, the connection) and waits for the conn's
	// own goroutine, if any. Commands sent before Close are not lost to
	// it.
	Close() error
	// Transport names the transport: "ws", "quic" or "webtransport".
	Transport() string
	// Modern reports whether the connection speaks a modern dialect
	// (replies echo `i`, failures come as `error` commands). Only a
	// WebSocket with CodecLegacy is not modern.
	Modern() bool
}

// Codec selects the WebSocket dialect. QUIC and WebTransport always speak
// modern msgpack.
type Codec uint8

// WebSocket dialects.
const (
	// CodecMsgpack is the modern msgpack dialect (subprotocol
	// rtgate.msgpack.1, binary frames). The default.
	CodecMsgpack Codec = iota
	// CodecJSON is the modern JSON dialect (subprotocol rtgate.json.1,
	// text frames).
	CodecJSON
	// CodecLegacy is the v1 dialect: JSON text frames, no subprotocol, no
	// `error` command (failures close the connection).
	CodecLegacy
)

// Subprotocol and ALPN names of the modern dialects.
const (
	SubprotocolJSON    = "rtgate.json.1"
	SubprotocolMsgpack = "rtgate.msgpack.1"
	ALPN               = "rtgate/1"
)

func (c Codec) String() string {
	switch c {
	case CodecMsgpack:
		return "msgpack"
	case CodecJSON:
		return "json"
	case CodecLegacy:
		return "legacy"
	}
	return fmt.Sprintf("Codec(%d)", uint8(c))
}

// ParseCodec parses "msgpack", "json" or "legacy" (as String spells them).
func ParseCodec(s string) (Codec, error) {
	for c := CodecMsgpack; c <= CodecLegacy; c++ {
		if strings.EqualFold(s, c.String()) {
			return c, nil
		}
	}
	return 0, fmt.Errorf("wire: unknown codec %q (want msgpack, json or legacy)", s)
}

// Options configures Dial. The zero value of every field is its documented
// default; a nil *Options means all defaults.
type Options struct {
	// Codec is the WebSocket dialect. Zero means CodecMsgpack. Ignored by
	// QUIC and WebTransport.
	Codec Codec

	// TLS is the base TLS configuration (cloned, never modified). Nil
	// means an empty one. RootCAs, PinSHA256 and InsecureSkipVerify below
	// are applied on top of it.
	TLS *tls.Config
	// RootCAs verifies the server's chain. Nil means the system pool.
	RootCAs *x509.CertPool
	// PinSHA256 is the lowercase or uppercase hex SHA-256 of the server's
	// leaf certificate (DER). When set, the chain is not verified; the
	// handshake fails unless the leaf has this hash. Empty means no pin.
	PinSHA256 string
	// InsecureSkipVerify accepts any server certificate. For tests only.
	InsecureSkipVerify bool

	// Header holds extra HTTP headers for the WebSocket or WebTransport
	// handshake (Origin, User-Agent, ...). Nil means none.
	Header http.Header

	// MaxFrameBytes bounds one inbound frame; a larger one ends the
	// connection. Zero means protocol.DefaultMaxFrameBytes.
	MaxFrameBytes int
	// WriteTimeout bounds every Send. Zero means 10 s.
	WriteTimeout time.Duration
	// KeepAlivePeriod is the QUIC keep-alive (PING) period of QUIC and
	// WebTransport connections, which keeps NAT bindings open. Zero means
	// 15 s; negative disables it.
	KeepAlivePeriod time.Duration
	// MaxIdleTimeout closes a QUIC or WebTransport connection that heard
	// nothing from the server this long. Zero means 60 s.
	MaxIdleTimeout time.Duration
	// NoDatagrams dials raw QUIC without datagram support, so the server
	// sends transient messages on the stream too. Datagrams spare a lost
	// transient message its retransmission, but each one is a packet of
	// its own and costs this client a hand-off from its datagram
	// goroutine to Recv; a client that receives many transient messages
	// spends less CPU without them (see docs/performance.md).
	// WebTransport datagrams are asked for by the URL (/wt?datagrams=1).
	NoDatagrams bool
	// DatagramQueue bounds the received datagrams waiting for Recv; when
	// it is full the oldest is dropped (datagrams are lossy by nature).
	// Zero means 256.
	DatagramQueue int

	// QUICTransport, when set, carries every QUIC and WebTransport
	// connection dialled with these Options on its one UDP socket
	// (tr.Dial / tr.DialEarly) instead of opening a new socket, with its
	// own receive goroutine, per connection. The caller creates it (e.g.
	// &quic.Transport{Conn: udpConn} on net.ListenUDP("udp", nil)) and
	// closes it after the last connection; closing it ends them all. A
	// process with many connections (a load generator, a gateway) should
	// use one: see docs/performance.md. Nil means a new socket per
	// connection, which is what a single app connection wants.
	QUICTransport *quic.Transport
}

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.MaxFrameBytes <= 0 {
		c.MaxFrameBytes = protocol.DefaultMaxFrameBytes
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.KeepAlivePeriod == 0 {
		c.KeepAlivePeriod = 15 * time.Second
	} else if c.KeepAlivePeriod < 0 {
		c.KeepAlivePeriod = 0
	}
	if c.MaxIdleTimeout <= 0 {
		c.MaxIdleTimeout = 60 * time.Second
	}
	if c.DatagramQueue <= 0 {
		c.DatagramQueue = 256
	}
	return c
}

// Errors of the package.
var (
	// ErrClosed is returned by Send and Recv after Close.
	ErrClosed = errors.New("wire: connection closed")
	// ErrScheme reports a URL whose scheme names no transport.
	ErrScheme = errors.New("wire: unsupported URL scheme")
	// ErrSubprotocol reports a WebSocket server that did not accept the
	// requested modern subprotocol (a v1-only server).
	ErrSubprotocol = errors.New("wire: server did not accept the subprotocol")
	// ErrPinMismatch reports a server certificate whose hash is not
	// Options.PinSHA256.
	ErrPinMismatch = errors.New("wire: server certificate does not match the pinned hash")
)

// Dial connects to rawURL, choosing the transport by its scheme (see the
// package doc). ctx bounds the handshake only.
func Dial(ctx context.Context, rawURL string, opts *Options) (Conn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("wire: %w", err)
	}
	o := opts.withDefaults()
	switch strings.ToLower(u.Scheme) {
	case "ws", "wss":
		return dialWS(ctx, u, &o)
	case "quic":
		return dialQUIC(ctx, u, &o)
	case "https", "wt":
		u.Scheme = "https"
		return dialWT(ctx, u, &o)
	}
	return nil, fmt.Errorf("%w %q (want ws, wss, quic, https or wt)", ErrScheme, u.Scheme)
}

// tlsConfig builds the client TLS configuration for host with the given
// ALPN protocols (nil keeps the base config's).
func (o *Options) tlsConfig(host string, alpn []string) (*tls.Config, error) {
	var c *tls.Config
	if o.TLS != nil {
		c = o.TLS.Clone()
	} else {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		c.ServerName = host
	}
	if alpn != nil {
		c.NextProtos = alpn
	}
	if o.RootCAs != nil {
		c.RootCAs = o.RootCAs
	}
	if o.InsecureSkipVerify {
		c.InsecureSkipVerify = true
	}
	if o.PinSHA256 != "" {
		want, err := hex.DecodeString(strings.TrimSpace(o.PinSHA256))
		if err != nil || len(want) != sha256.Size {
			return nil, fmt.Errorf("wire: PinSHA256 %q is not a hex SHA-256", o.PinSHA256)
		}
		c.InsecureSkipVerify = true
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return fmt.Errorf("%w: no certificate", ErrPinMismatch)
			}
			got := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if string(got[:]) != string(want) {
				return fmt.Errorf("%w: got %x", ErrPinMismatch, got)
			}
			return nil
		}
	}
	return c, nil
}

// decodeBody decodes one frame body in the given codec into a new Command.
func decodeBody(body []byte, msgpack bool) (*protocol.Command, error) {
	c := new(protocol.Command)
	var err error
	if msgpack {
		err = protocol.DecodeMsgpack(body, c)
	} else {
		err = protocol.DecodeJSON(body, c)
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

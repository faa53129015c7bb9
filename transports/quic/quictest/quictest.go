// Package quictest holds what the tests of raw QUIC (transports/quic) and
// of WebTransport (transports/webtransport, served on the same QUIC
// listener) share: the dev certificate, a loopback server, and a raw QUIC
// client (a framedtest.Client on its own UDP socket).
//
// Imports: core, protocol, internal/devcert, transports/quic,
// transports/framed/framedtest, quic-go, the standard library.
package quictest

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	quicgo "github.com/quic-go/quic-go"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/internal/devcert"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/transports/framed/framedtest"
	"github.com/rtgate/rtgate/transports/quic"
)

var certs = sync.OnceValue(func() *devcert.Source {
	s, err := devcert.Dev(nil)
	if err != nil {
		panic(err)
	}
	return s
})

// Certs returns the dev certificate every test server uses (made once).
func Certs() *devcert.Source { return certs() }

// Serve starts a server for hub on a loopback UDP port (with a silent
// logger unless cfg has one) and stops it when t ends, failing t unless
// Serve returned quic.ErrServerClosed. It returns the server and its
// address.
func Serve(t testing.TB, hub *core.Hub, cfg quic.Config) (*quic.Server, string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	srv := quic.New(hub, cfg)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(pc, Certs().TLSConfig()) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, quic.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
		pc.Close()
	})
	return srv, srv.Addr().String()
}

// ClientTLS is a client TLS config pinned to Certs, offering alpn.
func ClientTLS(alpn string) *tls.Config {
	tc := devcert.PinnedClientConfig(Certs().Current().SHA256)
	tc.NextProtos = []string{alpn}
	return tc
}

// ClientConfig is the QUIC config of test clients: small flow-control
// windows (so that a client that stops reading soon stalls the server),
// datagrams as asked.
func ClientConfig(datagrams bool) *quicgo.Config {
	return &quicgo.Config{
		MaxIdleTimeout:                 30 * time.Second,
		KeepAlivePeriod:                10 * time.Second,
		InitialStreamReceiveWindow:     32 << 10,
		MaxStreamReceiveWindow:         64 << 10,
		InitialConnectionReceiveWindow: 64 << 10,
		MaxConnectionReceiveWindow:     128 << 10,
		EnableDatagrams:                datagrams,
	}
}

// DialOptions are the raw client's settings.
type DialOptions struct {
	Datagrams bool   // offer QUIC datagrams
	ALPN      string // "": quic.ALPN
}

// Client is a raw QUIC test client on its own UDP socket.
type Client struct {
	*framedtest.Client
	QC  *quicgo.Conn
	Str *quicgo.Stream
	Tr  *quicgo.Transport // closing it loses the connection silently
}

// Dial connects a raw QUIC client to addr and opens its stream.
func Dial(addr string, o DialOptions) (*Client, error) {
	if o.ALPN == "" {
		o.ALPN = quic.ALPN
	}
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	tr := &quicgo.Transport{Conn: udp}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	qc, err := tr.Dial(ctx, raddr, ClientTLS(o.ALPN), ClientConfig(o.Datagrams))
	if err != nil {
		tr.Close()
		udp.Close()
		return nil, err
	}
	str, err := qc.OpenStream()
	if err != nil {
		qc.CloseWithError(0, "")
		tr.Close()
		udp.Close()
		return nil, err
	}
	c := &Client{QC: qc, Str: str, Tr: tr}
	c.Client = framedtest.New(str, framedtest.Ends{
		Done:   qc.Context().Done(),
		Err:    func() error { return context.Cause(qc.Context()) },
		MapErr: MapErr,
		Abort:  func() { qc.CloseWithError(0x1006, "abort") },
		Release: func() {
			qc.CloseWithError(0, "")
			tr.Close()
			udp.Close()
		},
	})
	return c, nil
}

// MapErr turns the server's connection close into a CloseError.
func MapErr(err error) error {
	var ae *quicgo.ApplicationError
	if errors.As(err, &ae) && ae.Remote {
		return &protocol.CloseError{Code: protocol.CloseCode(ae.ErrorCode), Reason: ae.ErrorMessage}
	}
	return err
}

// Datagram waits up to 5 s for the next datagram of r (a QUIC connection
// or a WebTransport session) and decodes it, failing t on a timeout or an
// undecodable datagram.
func Datagram(t testing.TB, r interface {
	ReceiveDatagram(context.Context) ([]byte, error)
}) *protocol.Command {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := r.ReceiveDatagram(ctx)
	if err != nil {
		t.Fatalf("no datagram: %v", err)
	}
	var got protocol.Command
	if err := protocol.DecodeMsgpack(d, &got); err != nil {
		t.Fatalf("datagram %x: %v", d, err)
	}
	return &got
}

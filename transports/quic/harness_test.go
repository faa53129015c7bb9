package quic_test

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
	"github.com/rtgate/rtgate/transports/quic"
	"github.com/rtgate/rtgate/transports/quic/framed"
	"github.com/rtgate/rtgate/transports/quic/framed/framedtest"
	"github.com/rtgate/rtgate/transports/transporttest"
)

// certs is the dev certificate every test server uses.
var certs = sync.OnceValue(func() *devcert.Source {
	s, err := devcert.Dev(nil)
	if err != nil {
		panic(err)
	}
	return s
})

// serve starts a server for hub on a loopback UDP port and stops it when
// t ends.
func serve(t testing.TB, hub *core.Hub, cfg quic.Config) (*quic.Server, string) {
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
	go func() { done <- srv.Serve(pc, certs().TLSConfig()) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, quic.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
		pc.Close()
	})
	return srv, srv.Addr().String()
}

// harness runs the conformance suite over raw QUIC.
type harness struct{}

func (harness) Modern() bool { return true }

func (harness) Serve(t testing.TB, hub *core.Hub, opts transporttest.Options) string {
	_, addr := serve(t, hub, quic.Config{
		Limits: framed.Limits{MaxFrameBytes: opts.MaxFrameBytes, QueueBytes: opts.QueueBytes, CommandsPerSecond: -1},
	})
	return addr
}

func (harness) Dial(t testing.TB, addr string) (transporttest.ClientConn, error) {
	c, err := dialRaw(addr, dialOpts{})
	if err != nil {
		return nil, err
	}
	return c, nil
}

type dialOpts struct {
	datagrams bool
	alpn      string
}

// rawClient is a raw QUIC test client on its own UDP socket.
type rawClient struct {
	*framedtest.Client
	qc  *quicgo.Conn
	str *quicgo.Stream
	tr  *quicgo.Transport
}

func clientTLS(alpn string) *tls.Config {
	tc := devcert.PinnedClientConfig(certs().Current().SHA256)
	tc.NextProtos = []string{alpn}
	return tc
}

func dialRaw(addr string, o dialOpts) (*rawClient, error) {
	if o.alpn == "" {
		o.alpn = quic.ALPN
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
	qc, err := tr.Dial(ctx, raddr, clientTLS(o.alpn), &quicgo.Config{
		MaxIdleTimeout:                 30 * time.Second,
		KeepAlivePeriod:                10 * time.Second,
		InitialStreamReceiveWindow:     32 << 10,
		MaxStreamReceiveWindow:         64 << 10,
		InitialConnectionReceiveWindow: 64 << 10,
		MaxConnectionReceiveWindow:     128 << 10,
		EnableDatagrams:                o.datagrams,
	})
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
	c := &rawClient{qc: qc, str: str, tr: tr}
	c.Client = framedtest.New(str, framedtest.Ends{
		Done:   qc.Context().Done(),
		Err:    func() error { return context.Cause(qc.Context()) },
		MapErr: mapQUICErr,
		Abort:  func() { qc.CloseWithError(0x1006, "abort") },
		Release: func() {
			qc.CloseWithError(0, "")
			tr.Close()
			udp.Close()
		},
	})
	return c, nil
}

// mapQUICErr turns the server's connection close into a CloseError.
func mapQUICErr(err error) error {
	var ae *quicgo.ApplicationError
	if errors.As(err, &ae) && ae.Remote {
		return &protocol.CloseError{Code: protocol.CloseCode(ae.ErrorCode), Reason: ae.ErrorMessage}
	}
	return err
}

func TestConformance(t *testing.T) {
	transporttest.Run(t, harness{})
}

package webtransport_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	quicgo "github.com/quic-go/quic-go"
	wtgo "github.com/quic-go/webtransport-go"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/internal/devcert"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/transports/quic"
	"github.com/rtgate/rtgate/transports/quic/framed"
	"github.com/rtgate/rtgate/transports/quic/framed/framedtest"
	"github.com/rtgate/rtgate/transports/transporttest"
	"github.com/rtgate/rtgate/transports/webtransport"
)

var _ quic.H3Server = (*webtransport.Handler)(nil)

var certs = sync.OnceValue(func() *devcert.Source {
	s, err := devcert.Dev(nil)
	if err != nil {
		panic(err)
	}
	return s
})

// serve starts a shared QUIC listener whose h3 side is a Handler for hub,
// and stops both when t ends. It returns the UDP address.
func serve(t testing.TB, hub *core.Hub, cfg webtransport.Config) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	discard := slog.New(slog.DiscardHandler)
	if cfg.Logger == nil {
		cfg.Logger = discard
	}
	wt := webtransport.New(hub, cfg)
	srv := quic.New(hub, quic.Config{H3: wt, Logger: discard})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(pc, certs().TLSConfig()) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, quic.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
		pc.Close()
	})
	return srv.Addr().String()
}

type harness struct{}

func (harness) Modern() bool { return true }

func (harness) Serve(t testing.TB, hub *core.Hub, opts transporttest.Options) string {
	return serve(t, hub, webtransport.Config{
		Limits: framed.Limits{MaxFrameBytes: opts.MaxFrameBytes, QueueBytes: opts.QueueBytes, CommandsPerSecond: -1},
	})
}

func (harness) Dial(t testing.TB, addr string) (transporttest.ClientConn, error) {
	c, err := dialWT(addr, "/wt", nil)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// wtClient is a WebTransport test client on its own QUIC connection.
type wtClient struct {
	*framedtest.Client
	sess *wtgo.Session
	str  *wtgo.Stream
}

// dialError carries the HTTP status of a refused session.
type dialError struct {
	status int
	err    error
}

func (e *dialError) Error() string { return e.err.Error() }

func dialWT(addr, path string, hdr http.Header) (*wtClient, error) {
	tc := devcert.PinnedClientConfig(certs().Current().SHA256)
	tc.NextProtos = []string{"h3"}
	d := &wtgo.Transport{
		TLSClientConfig: tc,
		QUICConfig: &quicgo.Config{
			MaxIdleTimeout:                   30 * time.Second,
			KeepAlivePeriod:                  10 * time.Second,
			InitialStreamReceiveWindow:       32 << 10,
			MaxStreamReceiveWindow:           64 << 10,
			InitialConnectionReceiveWindow:   64 << 10,
			MaxConnectionReceiveWindow:       128 << 10,
			EnableDatagrams:                  true,
			EnableStreamResetPartialDelivery: true,
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rsp, sess, err := d.Dial(ctx, "https://"+addr+path, hdr)
	if err != nil {
		d.Close()
		if rsp != nil {
			return nil, &dialError{status: rsp.StatusCode, err: err}
		}
		return nil, err
	}
	str, err := sess.OpenStream()
	if err != nil {
		sess.CloseWithError(0, "")
		d.Close()
		return nil, err
	}
	c := &wtClient{sess: sess, str: str}
	c.Client = framedtest.New(str, framedtest.Ends{
		Done: sess.Context().Done(),
		Err: func() error {
			_, err := sess.AcceptStream(context.Background())
			return err
		},
		MapErr: mapWTErr,
		Abort: func() {
			// Drop the QUIC connection under the session: no FIN, no
			// WT_CLOSE_SESSION.
			str.CancelRead(1)
			str.CancelWrite(1)
			sess.CloseWithError(0x1006, "abort")
		},
		Release: func() {
			sess.CloseWithError(0, "")
			d.Close()
		},
	})
	return c, nil
}

// mapWTErr turns the server's session close into a CloseError.
func mapWTErr(err error) error {
	var se *wtgo.SessionError
	if errors.As(err, &se) && se.Remote {
		return &protocol.CloseError{Code: protocol.CloseCode(se.ErrorCode), Reason: se.Message}
	}
	return err
}

func TestConformance(t *testing.T) {
	transporttest.Run(t, harness{})
}

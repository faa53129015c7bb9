package webtransport_test

import (
	"context"
	"errors"
	"github.com/prometheus/client_golang/prometheus"
	"log/slog"
	"net/http"
	"testing"
	"time"

	wtgo "github.com/quic-go/webtransport-go"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/transports/framed"
	"github.com/rtgate/rtgate/transports/framed/framedtest"
	"github.com/rtgate/rtgate/transports/quic"
	"github.com/rtgate/rtgate/transports/quic/quictest"
	"github.com/rtgate/rtgate/transports/transporttest"
	"github.com/rtgate/rtgate/transports/webtransport"
)

var _ quic.H3Server = (*webtransport.Handler)(nil)

// serve starts a shared QUIC listener whose h3 side is a Handler for hub,
// and stops both when t ends. It returns the UDP address.
func serve(t testing.TB, hub *core.Hub, cfg webtransport.Config) string {
	return serveWith(t, hub, cfg, nil)
}

// serveWith is serve, registering the handler's collectors with reg (when
// not nil).
func serveWith(t testing.TB, hub *core.Hub, cfg webtransport.Config, reg *prometheus.Registry) string {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := webtransport.New(hub, cfg)
	if reg != nil {
		reg.MustRegister(h.Collectors()...)
	}
	_, addr := quictest.Serve(t, hub, quic.Config{H3: h})
	return addr
}

type harness struct{}

func (harness) Modern() bool { return true }

func (harness) Serve(t testing.TB, hub *core.Hub, opts transporttest.Options) string {
	return serveWith(t, hub, webtransport.Config{
		Limits: framed.Limits{MaxFrameBytes: opts.MaxFrameBytes, QueueBytes: opts.QueueBytes, CommandsPerSecond: -1},
	}, opts.Registry)
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
	qc := quictest.ClientConfig(true)
	qc.EnableStreamResetPartialDelivery = true
	d := &wtgo.Transport{TLSClientConfig: quictest.ClientTLS("h3"), QUICConfig: qc}
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

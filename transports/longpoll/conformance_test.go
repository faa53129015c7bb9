package longpoll_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/transports/longpoll"
	"github.com/rtgate/rtgate/transports/transporttest"
)

// harness runs the conformance suite over loopback HTTP with the Go
// long-poll client. A client polls only inside Recv (through a Puller), so
// a client the suite stops reading is a slow consumer, and Abort (which
// cancels the requests in flight and never polls again) is noticed by
// session expiry: the harness expiry is short (PollTimeout+PingTimeout)
// and below the suite's wait for presence "off".
type harness struct {
	dialect string
}

// Harness timings: expiry = 2.5 s.
const (
	harnessPoll = time.Second
	harnessPing = 1500 * time.Millisecond
)

func (h harness) Modern() bool { return h.dialect == longpoll.DialectModern }

func (h harness) Serve(t testing.TB, hub *core.Hub, opts transporttest.Options) string {
	handler := longpoll.New(hub, longpoll.Config{
		PollTimeout:   harnessPoll,
		PingTimeout:   harnessPing,
		MaxFrameBytes: opts.MaxFrameBytes,
		BufferBytes:   opts.QueueBytes,
		Logger:        slog.New(slog.DiscardHandler),
	})
	if opts.Registry != nil {
		opts.Registry.MustRegister(handler.Collectors()...)
	}
	srv := serve(handler)
	t.Cleanup(func() {
		srv.Close()
		waitHandler(t, handler)
	})
	return srv.URL + "/lp/"
}

// serve mounts h at /lp/ on a loopback test server.
func serve(h *longpoll.Handler) *httptest.Server {
	mux := http.NewServeMux()
	mux.Handle("/lp/", h)
	return httptest.NewServer(mux)
}

// waitHandler fails t if the handler's goroutines do not end.
func waitHandler(t testing.TB, h *longpoll.Handler) {
	done := make(chan struct{})
	go func() { h.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Errorf("long-poll handler goroutines still running 10 s after shutdown")
	}
}

func (h harness) Dial(t testing.TB, addr string) (transporttest.ClientConn, error) {
	c, err := openLP(addr, nil, h.dialect, 0)
	if err != nil {
		return nil, err
	}
	return &harnessConn{lpClient: c, Puller: transporttest.NewPuller(c.read)}, nil
}

// harnessConn adapts lpClient to transporttest.ClientConn.
type harnessConn struct {
	*lpClient
	*transporttest.Puller
}

func (c *harnessConn) Send(cmd *protocol.Command) error { return c.lpClient.Send(cmd) }
func (c *harnessConn) SendRaw(b []byte) error           { return c.lpClient.SendRaw(b) }

func (c *harnessConn) Close() error {
	err := c.closeSession()
	c.Stop()
	return err
}

// Abort loses the network: requests in flight fail, nothing more is sent.
func (c *harnessConn) Abort() error {
	c.cancel()
	c.Stop()
	return nil
}

func TestConformanceV1(t *testing.T) {
	transporttest.Run(t, harness{dialect: longpoll.DialectV1})
}

func TestConformanceModern(t *testing.T) {
	transporttest.Run(t, harness{dialect: longpoll.DialectModern})
}

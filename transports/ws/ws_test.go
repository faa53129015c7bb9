package ws_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/storage/memory"
	"github.com/rtgate/rtgate/transports/transporttest"
	"github.com/rtgate/rtgate/transports/ws"
)

// server is a hub behind a ws.Handler on a loopback httptest server.
type server struct {
	hub     *core.Hub
	handler *ws.Handler
	url     string
}

func newServer(t testing.TB, cfg ws.Config) *server {
	t.Helper()
	hub, err := core.New(core.Config{Store: memory.New(memory.Config{}), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := ws.New(hub, cfg)
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hub.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		srv.Close()
		waitHandler(t, h)
	})
	return &server{hub: hub, handler: h, url: "ws" + strings.TrimPrefix(srv.URL, "http")}
}

func (s *server) dial(t testing.TB, subprotocol string) *wsClient {
	t.Helper()
	c, err := dialClient(s.url, subprotocol, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func keepalive(t testing.TB, c *wsClient) {
	t.Helper()
	if err := c.Send(&protocol.Command{Kind: protocol.KindKeepalive}); err != nil {
		t.Fatal(err)
	}
	f, err := c.Recv(5 * time.Second)
	if err != nil || f.Kind != protocol.KindKeepalive {
		t.Fatalf("keepalive reply: %v %v", f, err)
	}
}

// expectClose reads until the server's close and checks its code.
func expectClose(t testing.TB, c *wsClient, code protocol.CloseCode) {
	t.Helper()
	for {
		_, err := c.Recv(5 * time.Second)
		if err == nil {
			continue
		}
		var ce *protocol.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("waiting for close %d: %v", code, err)
		}
		if ce.Code != code {
			t.Fatalf("closed with %d %q, want %d", ce.Code, ce.Reason, code)
		}
		return
	}
}

func TestClientPingsAnswered(t *testing.T) {
	s := newServer(t, ws.Config{})
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			c := s.dial(t, d.subprotocol)
			pongs := make(chan string, 1)
			c.ws.SetPongHandler(func(data string) error { pongs <- data; return nil })
			if err := c.ws.WriteControl(websocket.PingMessage, []byte("p-1"), time.Now().Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			keepalive(t, c) // the pong precedes the keepalive reply
			select {
			case p := <-pongs:
				if p != "p-1" {
					t.Fatalf("pong %q", p)
				}
			default:
				t.Fatal("no pong before the keepalive reply")
			}
		})
	}
}

func TestServerPingsModernOnly(t *testing.T) {
	s := newServer(t, ws.Config{PingInterval: 100 * time.Millisecond})
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			c := s.dial(t, d.subprotocol)
			pings := make(chan struct{}, 100)
			c.ws.SetPingHandler(func(data string) error {
				pings <- struct{}{}
				return c.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
			})
			_, err := c.Recv(350 * time.Millisecond) // reading runs the ping handler
			if !errors.Is(err, transporttest.ErrTimeout) {
				t.Fatalf("recv: %v", err)
			}
			if got, want := len(pings) > 0, d.subprotocol != ""; got != want {
				t.Fatalf("server pings seen: %v, want %v", got, want)
			}
		})
	}
}

func TestSubprotocolNegotiation(t *testing.T) {
	s := newServer(t, ws.Config{})
	for _, tc := range []struct {
		name    string
		offered []string
		want    string // "" legacy
		status  int    // refused with this status
	}{
		{"none is legacy", nil, "", 0},
		{"json", []string{ws.SubprotocolJSON}, ws.SubprotocolJSON, 0},
		{"msgpack", []string{ws.SubprotocolMsgpack}, ws.SubprotocolMsgpack, 0},
		{"client preference msgpack first", []string{ws.SubprotocolMsgpack, ws.SubprotocolJSON}, ws.SubprotocolMsgpack, 0},
		{"client preference json first", []string{ws.SubprotocolJSON, ws.SubprotocolMsgpack}, ws.SubprotocolJSON, 0},
		{"unknown then ours", []string{"lc.protobuf.3", ws.SubprotocolJSON}, ws.SubprotocolJSON, 0},
		{"only unknown", []string{"lc.protobuf.3"}, "", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := websocket.Dialer{Subprotocols: tc.offered}
			conn, resp, err := d.Dial(s.url, nil)
			if tc.status != 0 {
				if err == nil || resp == nil || resp.StatusCode != tc.status {
					t.Fatalf("dial: err %v resp %v, want status %d", err, resp, tc.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if conn.Subprotocol() != tc.want {
				t.Fatalf("subprotocol %q, want %q", conn.Subprotocol(), tc.want)
			}
		})
	}
}

func TestOrigins(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    ws.Config
		origin string
		ok     bool
	}{
		{"empty list allows any", ws.Config{}, "https://anywhere.example", true},
		{"listed", ws.Config{AllowedOrigins: []string{"https://chat.example"}}, "https://CHAT.example", true},
		{"not listed", ws.Config{AllowedOrigins: []string{"https://chat.example"}}, "https://evil.example", false},
		{"no origin header (native client)", ws.Config{AllowedOrigins: []string{"https://chat.example"}}, "", true},
		{"wildcard", ws.Config{AllowedOrigins: []string{"*"}}, "https://evil.example", true},
		{"CheckOrigin wins", ws.Config{AllowedOrigins: []string{"*"}, CheckOrigin: func(*http.Request) bool { return false }}, "https://a.example", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, tc.cfg)
			hdr := http.Header{}
			if tc.origin != "" {
				hdr.Set("Origin", tc.origin)
			}
			c, err := dialClient(s.url, "", hdr)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				keepalive(t, c)
				return
			}
			var de *dialError
			if !errors.As(err, &de) || de.status != http.StatusForbidden {
				t.Fatalf("dial: %v, want 403", err)
			}
		})
	}
}

// TestFrameLimitWithoutBuffering sends the header of a 1 GiB frame and only
// MaxFrameBytes+1 bytes of it: the server must close with 4109 at once.
func TestFrameLimitWithoutBuffering(t *testing.T) {
	const limit = 1024
	s := newServer(t, ws.Config{MaxFrameBytes: limit})
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			bystander := s.dial(t, d.subprotocol)
			c := s.dial(t, d.subprotocol)
			keepalive(t, c)
			op := byte(websocket.TextMessage)
			if d.subprotocol == ws.SubprotocolMsgpack {
				op = websocket.BinaryMessage
			}
			frame := []byte{0x80 | op, 0x80 | 127}
			frame = binary.BigEndian.AppendUint64(frame, 1<<30)
			frame = append(frame, 0, 0, 0, 0) // mask key 0: payload as is
			frame = append(frame, bytes.Repeat([]byte("x"), limit+1)...)
			if _, err := c.ws.UnderlyingConn().Write(frame); err != nil {
				t.Fatal(err)
			}
			expectClose(t, c, protocol.CloseTooLong)
			keepalive(t, bystander)
		})
	}
}

func TestFrameAtLimitAccepted(t *testing.T) {
	const limit = 1024
	s := newServer(t, ws.Config{MaxFrameBytes: limit})
	c := s.dial(t, "")
	// A keepalive with whitespace padding is exactly limit bytes.
	frame := "{" + strings.Repeat(" ", limit-2) + "}"
	if err := c.SendRaw([]byte(frame)); err != nil {
		t.Fatal(err)
	}
	f, err := c.Recv(5 * time.Second)
	if err != nil || f.Kind != protocol.KindKeepalive {
		t.Fatalf("reply to a frame at the limit: %v %v", f, err)
	}
}

func TestWrongFrameType(t *testing.T) {
	s := newServer(t, ws.Config{})
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			c := s.dial(t, d.subprotocol)
			other := websocket.BinaryMessage
			if d.subprotocol == ws.SubprotocolMsgpack {
				other = websocket.TextMessage
			}
			if err := c.ws.WriteMessage(other, []byte("{}")); err != nil {
				t.Fatal(err)
			}
			expectClose(t, c, protocol.CloseUnsupportedData)
		})
	}
}

// TestTextFrameNotUTF8: a text frame that is not UTF-8 closes with 1007
// (RFC 6455 §8.1) in the JSON dialects, before it is decoded; the same
// bytes in a msgpack peer id close with 4103 (issue 15, defect 7).
func TestTextFrameNotUTF8(t *testing.T) {
	s := newServer(t, ws.Config{})
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			c := s.dial(t, d.subprotocol)
			open := &protocol.Command{Kind: protocol.KindSessionOpen, AppID: "app", PeerID: "u\xff", I: 1}
			if d.subprotocol == ws.SubprotocolMsgpack {
				if err := c.Send(open); err != nil {
					t.Fatal(err)
				}
				expectClose(t, c, protocol.CloseMalformedPeerID)
				return
			}
			if err := c.SendRaw([]byte("{\"cmd\":\"session\",\"op\":\"open\",\"appId\":\"app\",\"peerId\":\"u\xff\",\"i\":1}")); err != nil {
				t.Fatal(err)
			}
			expectClose(t, c, protocol.CloseInvalidPayload)
		})
	}
}

func TestFloodClosesWith1008(t *testing.T) {
	s := newServer(t, ws.Config{CommandsPerSecond: 10, Burst: 20})
	for _, tc := range []struct {
		name string
		send func(c *wsClient) error
	}{
		{"commands", func(c *wsClient) error { return c.Send(&protocol.Command{Kind: protocol.KindKeepalive}) }},
		{"pings", func(c *wsClient) error {
			return c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := s.dial(t, "")
			for range 100 {
				if err := tc.send(c); err != nil {
					break // the server may already have closed
				}
			}
			expectClose(t, c, protocol.ClosePolicyViolation)
		})
	}
	// A client within its budget is never closed.
	c := s.dial(t, ws.SubprotocolJSON)
	for range 15 {
		keepalive(t, c)
	}
}

func TestShutdownEndsAllGoroutines(t *testing.T) {
	s := newServer(t, ws.Config{})
	for _, d := range dialects {
		c := s.dial(t, d.subprotocol)
		keepalive(t, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.hub.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	waitHandler(t, s.handler)
}

func counterSum(t *testing.T, cs []prometheus.Collector, name string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(cs...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += metricValue(m)
		}
	}
	return sum
}

func metricValue(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return m.GetGauge().GetValue()
}

func TestMetrics(t *testing.T) {
	s := newServer(t, ws.Config{})
	c := s.dial(t, "")
	for range 3 {
		keepalive(t, c)
	}
	c.SendRaw([]byte("nope"))
	expectClose(t, c, protocol.CloseInvalidPayload)
	c.Close()
	s.handler.Wait() // the close is counted by the conn's goroutines, which may outlive the client's read
	cs := s.handler.Collectors()
	if n := counterSum(t, cs, "rtgate_ws_frames_in_total"); n != 4 {
		t.Errorf("frames in = %v, want 4", n)
	}
	if n := counterSum(t, cs, "rtgate_ws_frames_out_total"); n != 3 {
		t.Errorf("frames out = %v, want 3", n)
	}
	if n := counterSum(t, cs, "rtgate_ws_closes_total"); n != 1 {
		t.Errorf("closes = %v, want 1", n)
	}
}

// TestIdleHandover: frames that come within IdleHandover (read on the
// reader's own goroutine) and after it (read by the small idle goroutine)
// are all served, the temporary deadline of the warm wait never drops a
// legacy client (which has no transport deadline), and a modern client
// that stops answering pings is still dropped by its own deadline.
func TestIdleHandover(t *testing.T) {
	// Modern clients' deadline is 2×PingInterval = 500 ms: room for a
	// loaded machine's scheduling delays around the 80 ms pauses.
	s := newServer(t, ws.Config{IdleHandover: 30 * time.Millisecond, PingInterval: 250 * time.Millisecond})
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			c := s.dial(t, d.subprotocol)
			// First (well within the modern client's 500 ms deadline): a
			// frame that arrives in pieces, each pause longer than the
			// handover deadline, reads whole (frameReader cannot resume
			// after a timeout, so none may reach it mid-frame).
			body := protocol.AppendJSON(nil, &protocol.Command{Kind: protocol.KindKeepalive})
			if d.subprotocol == ws.SubprotocolMsgpack {
				body = protocol.AppendMsgpack(nil, &protocol.Command{Kind: protocol.KindKeepalive})
			}
			op := byte(0x81)
			if d.subprotocol == ws.SubprotocolMsgpack {
				op = 0x82
			}
			frame := append([]byte{op, 0x80 | byte(len(body)), 0, 0, 0, 0}, body...)
			keepalive(t, c) // the reader is on its working goroutine, handover deadline 30 ms ahead
			for i, part := range [][]byte{frame[:1], frame[1:7], frame[7:]} {
				if i > 0 {
					time.Sleep(40 * time.Millisecond)
				}
				if _, err := c.ws.UnderlyingConn().Write(part); err != nil {
					t.Fatal(err)
				}
			}
			if f, err := c.Recv(5 * time.Second); err != nil || f.Kind != protocol.KindKeepalive {
				t.Fatalf("keepalive sent in pieces: %v %v", f, err)
			}
			for _, pause := range []time.Duration{0, 5 * time.Millisecond, 80 * time.Millisecond, 10 * time.Millisecond, 700 * time.Millisecond} {
				if d.subprotocol != "" && pause > 250*time.Millisecond {
					// Reading answers the server's pings: keep doing so.
					if _, err := c.Recv(pause); !errors.Is(err, transporttest.ErrTimeout) {
						t.Fatalf("recv while pausing: %v", err)
					}
				} else {
					time.Sleep(pause)
				}
				keepalive(t, c)
			}
			if d.subprotocol == "" {
				return
			}
			c.ws.SetPingHandler(func(string) error { return nil }) // no pongs from now on
			time.Sleep(1200 * time.Millisecond)                    // dead after 2 intervals
			expectClose(t, c, protocol.CloseReadTimeout)
		})
	}
}

// TestClientFrameErrorsClose1002: frames that break RFC 6455 fail the
// connection with 1002 (1007 for a close reason that is not UTF-8), and a
// fragmented message (with a ping between its fragments) is one command.
func TestClientFrameErrorsClose1002(t *testing.T) {
	s := newServer(t, ws.Config{})
	masked := func(b0 byte, payload string) []byte {
		b := []byte{b0, 0x80 | byte(len(payload)), 1, 2, 3, 4}
		for i := range len(payload) {
			b = append(b, payload[i]^byte(i%4+1))
		}
		return b
	}
	for _, tc := range []struct {
		name  string
		frame []byte
		code  protocol.CloseCode
	}{
		{"unmasked", []byte{0x81, 0x02, '{', '}'}, 1002},
		{"reserved bit", masked(0xc1, "{}"), 1002},
		{"reserved opcode", masked(0x83, "{}"), 1002},
		{"continuation first", masked(0x80, "{}"), 1002},
		{"close reason not UTF-8", masked(0x88, "\x03\xe8\xff"), 1007},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := s.dial(t, "")
			if _, err := c.ws.UnderlyingConn().Write(tc.frame); err != nil {
				t.Fatal(err)
			}
			expectClose(t, c, tc.code)
		})
	}
	t.Run("fragmented message", func(t *testing.T) {
		c := s.dial(t, "")
		frames := append(masked(0x01, `{"cmd":"session","op":"open",`), masked(0x89, "p")...)
		frames = append(frames, masked(0x80, `"appId":"app","peerId":"frag","i":7}`)...)
		if _, err := c.ws.UnderlyingConn().Write(frames); err != nil {
			t.Fatal(err)
		}
		got, err := c.Recv(5 * time.Second)
		if err != nil || got.Kind != protocol.KindSessionOpened || got.I != 7 {
			t.Fatalf("got %+v, %v; want opened i=7", got, err)
		}
	})
}

// TestWriterOrderWhenSocketFills: a receiver that stops reading fills its
// socket, so the writer's non-blocking writes on the pushing goroutine
// stop part-way and a writer goroutine takes over the rest of the batch
// (conn.wake): once the receiver reads again, every message arrives once,
// whole and in order.
func TestWriterOrderWhenSocketFills(t *testing.T) {
	const n, size = 3000, 4000 // ~12 MB: more than loopback's socket buffers
	// The writer blocks while bob does not read: give it time on a loaded
	// machine (the default 10 s would drop bob as a dead client).
	s := newServer(t, ws.Config{CommandsPerSecond: -1, QueueBytes: 64 << 20, WriteTimeout: 5 * time.Minute})
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			bob, alice := s.dial(t, d.subprotocol), s.dial(t, d.subprotocol)
			open := func(c *wsClient, peer string, watch ...string) {
				if watch == nil {
					watch = []string{}
				}
				if err := c.Send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: "fill", PeerID: peer, SessionPeerIDs: watch}); err != nil {
					t.Fatal(err)
				}
				if f, err := c.Recv(5 * time.Second); err != nil || f.Kind != protocol.KindSessionOpened {
					t.Fatalf("open %s: %v %v", peer, f, err)
				}
			}
			open(bob, "bob-"+d.name)
			open(alice, "alice-"+d.name, "bob-"+d.name)
			pad := strings.Repeat("x", size)
			for i := range n {
				msg := fmt.Sprintf("%06d%s", i, pad)
				if err := alice.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: "alice-" + d.name, ToPeerIDs: []string{"bob-" + d.name}, Msg: msg, Transient: true}); err != nil {
					t.Fatal(err)
				}
			}
			keepalive(t, alice) // every message was handled (and queued or written)
			for i := range n {
				f, err := bob.Recv(10 * time.Second)
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if want := fmt.Sprintf("%06d%s", i, pad); f.Kind != protocol.KindDirect || f.Msg != want {
					t.Fatalf("message %d: got %v %.20q, want %.20q", i, f.Kind, f.Msg, want)
				}
			}
		})
	}
}

// TestTLSHandover: over TLS (no RawConn: every batch goes through a
// writer goroutine) the reader's handover deadline works the same: a
// connection served after idle pauses longer than IdleHandover, and a
// frame that arrives in pieces (separate TLS records) across the handover
// deadline, both read whole.
func TestTLSHandover(t *testing.T) {
	hub, err := core.New(core.Config{Store: memory.New(memory.Config{}), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	h := ws.New(hub, ws.Config{IdleHandover: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewTLSServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hub.Shutdown(ctx)
		srv.Close()
		waitHandler(t, h)
	})
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, TLSClientConfig: srv.Client().Transport.(*http.Transport).TLSClientConfig}
	wc, _, err := d.Dial("wss"+strings.TrimPrefix(srv.URL, "https"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	c := &wsClient{ws: wc, text: websocket.TextMessage}
	c.Puller = transporttest.NewPuller(c.read)
	defer c.Stop()
	for _, pause := range []time.Duration{0, 60 * time.Millisecond, 5 * time.Millisecond, 100 * time.Millisecond} {
		time.Sleep(pause)
		keepalive(t, c)
	}
	body := protocol.AppendJSON(nil, &protocol.Command{Kind: protocol.KindKeepalive})
	frame := append([]byte{0x81, 0x80 | byte(len(body)), 0, 0, 0, 0}, body...)
	for i, part := range [][]byte{frame[:1], frame[1:7], frame[7:]} {
		if i > 0 {
			time.Sleep(40 * time.Millisecond)
		}
		if _, err := wc.NetConn().Write(part); err != nil {
			t.Fatal(err)
		}
	}
	if f, err := c.Recv(5 * time.Second); err != nil || f.Kind != protocol.KindKeepalive {
		t.Fatalf("keepalive sent in pieces over TLS: %v %v", f, err)
	}
}

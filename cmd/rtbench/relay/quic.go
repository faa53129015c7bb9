package relay

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	quic "github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	wtgo "github.com/quic-go/webtransport-go"

	"github.com/rtgate/rtgate/protocol"
)

// The ALPNs ServeQUIC accepts: rtgate's raw QUIC, and HTTP/3 for
// WebTransport sessions at WebTransportPath.
const (
	ALPN             = "rtgate/1"
	ALPNH3           = "h3"
	WebTransportPath = "/wt"
)

// ServeQUIC accepts QUIC connections from ln until ln is closed. A
// connection that negotiated ALPN is relayed on its first bidirectional
// stream as rtgate's raw QUIC transport frames it; one that negotiated
// ALPNH3 serves WebTransport sessions at WebTransportPath, each relayed
// on its first stream with the same framing (rtgate's WebTransport
// transport). ln's TLS configuration offers the ALPNs to relay; its
// quic.Config must enable datagrams and stream resets with partial
// delivery, as WebTransport requires (transports/quic's QUICConfig does).
// It blocks; it returns nil once ln is closed. Every connection's
// goroutines are owned by s (Close waits for them).
func (s *Server) ServeQUIC(ln *quic.Listener) error {
	for {
		qc, err := ln.Accept(context.Background())
		if err != nil {
			if errors.Is(err, quic.ErrServerClosed) {
				return nil
			}
			return err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			qc.CloseWithError(0, "closed")
			continue
		}
		s.wg.Add(1)
		s.mu.Unlock()
		if qc.ConnectionState().TLS.NegotiatedProtocol == ALPNH3 {
			go func() { // owned by s.wg
				defer s.wg.Done()
				s.wt.ServeQUICConn(qc)
			}()
			continue
		}
		go func() { // owned by s.wg
			defer s.wg.Done()
			ctx, cancel := context.WithTimeout(qc.Context(), 10*time.Second)
			str, err := qc.AcceptStream(ctx)
			cancel()
			if err != nil {
				qc.CloseWithError(0, "no stream")
				return
			}
			s.start(s.streamLink(str, func() { qc.CloseWithError(0, "") }))
		}()
	}
}

// newWebTransport returns the relay's WebTransport server (HTTP/3 on
// connections ServeQUIC hands it).
func (s *Server) newWebTransport() *wtgo.Server {
	wt := &wtgo.Server{CheckOrigin: func(*http.Request) bool { return true }}
	wt.H3 = &http3.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != WebTransportPath || r.Method != http.MethodConnect {
			http.NotFound(w, r)
			return
		}
		sess, err := wt.Upgrade(w, r)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(sess.Context(), 10*time.Second)
		str, err := sess.AcceptStream(ctx)
		cancel()
		if err != nil {
			sess.CloseWithError(0, "no stream")
			return
		}
		s.start(s.streamLink(str, func() { sess.CloseWithError(0, "") }))
	})}
	return wt
}

// stream is what a QUIC or WebTransport stream offers the relay.
type stream interface {
	io.ReadWriter
	SetWriteDeadline(time.Time) error
}

func (s *Server) streamLink(str stream, close func()) *quicLink {
	return &quicLink{str: str, fr: protocol.NewFrameReader(str, s.cfg.MaxFrameBytes), timeout: s.cfg.WriteTimeout, closeFn: close}
}

// quicLink is one raw QUIC connection or WebTransport session, and its
// stream.
type quicLink struct {
	str     stream
	fr      *protocol.FrameReader // owned by the reader
	timeout time.Duration         // per write
	closeFn func()                // closes the connection or session
}

func (l *quicLink) readFrame() ([]byte, error) { return l.fr.ReadFrame() }

func (l *quicLink) encode(cmd *protocol.Command) []byte { return protocol.AppendMsgpackFrame(nil, cmd) }

// maxBatch bounds the bytes one stream write gathers.
const maxBatch = 64 << 10

// writeLoop writes every frame queued at the time in one stream write.
func (l *quicLink) writeLoop(out <-chan []byte, done <-chan struct{}) error {
	var buf []byte
	for {
		select {
		case b := <-out:
			buf = append(buf[:0], b...)
		gather:
			for len(buf) < maxBatch {
				select {
				case b := <-out:
					buf = append(buf, b...)
				default:
					break gather
				}
			}
			l.str.SetWriteDeadline(time.Now().Add(l.timeout))
			if _, err := l.str.Write(buf); err != nil {
				return err
			}
		case <-done:
			return nil
		}
	}
}

func (l *quicLink) close() { l.closeFn() }

package relay

import (
	"context"
	"errors"
	"time"

	quic "github.com/quic-go/quic-go"

	"github.com/rtgate/rtgate/protocol"
)

// ALPN is the protocol the QUIC relay accepts: rtgate's raw QUIC ALPN.
const ALPN = "rtgate/1"

// ServeQUIC accepts QUIC connections from ln (whose TLS configuration
// offers ALPN) until ln is closed, and relays each one's first
// bidirectional stream as rtgate's raw QUIC transport frames it. It
// blocks; it returns nil once ln is closed. Every connection's goroutines
// are owned by s (Close waits for them).
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
		go func() { // owned by s.wg
			defer s.wg.Done()
			ctx, cancel := context.WithTimeout(qc.Context(), 10*time.Second)
			str, err := qc.AcceptStream(ctx)
			cancel()
			if err != nil {
				qc.CloseWithError(0, "no stream")
				return
			}
			s.start(&quicLink{qc: qc, str: str, fr: protocol.NewFrameReader(str, s.cfg.MaxFrameBytes), timeout: s.cfg.WriteTimeout})
		}()
	}
}

// quicLink is one raw QUIC connection and its stream.
type quicLink struct {
	qc      *quic.Conn
	str     *quic.Stream
	fr      *protocol.FrameReader // owned by the reader
	timeout time.Duration         // per write
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

func (l *quicLink) close() { l.qc.CloseWithError(0, "") }

package quic

import (
	"context"

	quicgo "github.com/quic-go/quic-go"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/transports/framed"
)

// ServeQUICConn serves one raw QUIC connection (ALPN rtgate/1); the
// Server's own listener calls it for rtgate/1, and another listener may
// too. The connection joins the hub at once, so the hub's login timeout
// (4108) bounds a client that never opens its stream. It blocks until the
// connection ends.
func (s *Server) ServeQUICConn(qc *quicgo.Conn) {
	// An application close before the handshake completes travels as a
	// bare APPLICATION_ERROR transport error (RFC 9000 §10.2.3) and loses
	// its code; wait (bounded by HandshakeIdleTimeout) before anything may
	// close the connection with one.
	select {
	case <-qc.HandshakeComplete():
	case <-qc.Context().Done():
		return
	}
	opts := s.opts
	opts.Datagrams = !s.cfg.DisableDatagrams && qc.ConnectionState().SupportsDatagrams.Remote
	info := core.ConnInfo{Transport: "quic", Modern: true, RemoteAddr: qc.RemoteAddr().String()}
	framed.New(rawSession{qc}, info, opts).Serve(qc.Context(), s.hub, func(ctx context.Context) (framed.Stream, error) {
		str, err := qc.AcceptStream(ctx)
		if err != nil {
			return nil, err
		}
		return str, nil
	})
}

// rawSession adapts a QUIC connection to framed.Session.
type rawSession struct{ qc *quicgo.Conn }

func (r rawSession) SendDatagram(b []byte) error { return r.qc.SendDatagram(b) }

// CloseWithCode closes the connection with the close code as its QUIC
// application error code.
func (r rawSession) CloseWithCode(code protocol.CloseCode, reason string) {
	r.qc.CloseWithError(quicgo.ApplicationErrorCode(code), reason)
}

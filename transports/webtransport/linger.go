package webtransport

import (
	"context"
	"sync"
	"time"

	quicgo "github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// connKey is the request context key of the request's QUIC connection
// (set by the HTTP/3 server's ConnContext).
type connKey struct{}

// withConn is the HTTP/3 server's ConnContext: it makes each request's
// QUIC connection known to route.
func withConn(ctx context.Context, qc *quicgo.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, qc)
}

// lingerConn is the part of a QUIC connection the lingerer uses;
// *quicgo.Conn implements it (tests use a fake, under testing/synctest).
type lingerConn interface {
	Context() context.Context
	CloseWithError(code quicgo.ApplicationErrorCode, reason string) error
}

var _ lingerConn = (*quicgo.Conn)(nil)

// lingerer closes a QUIC connection a while after its last WebTransport
// session ended (Config.ConnLinger): a page or client that closed its
// session, or whose session the server closed, does not keep the
// connection's state (~130 KiB) until the idle timeout, which keep-alives
// may never reach. A new session on the connection within the linger
// keeps it. Safe for concurrent use.
type lingerer struct {
	linger time.Duration // > 0

	mu    sync.Mutex
	conns map[lingerConn]*connSessions // guarded by mu; entries leave when their connection ends
}

// connSessions counts one connection's sessions; guarded by lingerer.mu.
type connSessions struct {
	n     int
	gen   uint64      // bumped on every change, so a stale timer does nothing
	timer *time.Timer // the pending close while n == 0
}

func newLingerer(linger time.Duration) *lingerer {
	return &lingerer{linger: linger, conns: map[lingerConn]*connSessions{}}
}

// add records a new session on qc.
func (l *lingerer) add(qc lingerConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cs := l.conns[qc]
	if cs == nil {
		cs = &connSessions{}
		l.conns[qc] = cs
		context.AfterFunc(qc.Context(), func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if cs.timer != nil {
				cs.timer.Stop()
			}
			delete(l.conns, qc)
		})
	}
	cs.n++
	cs.gen++
	if cs.timer != nil {
		cs.timer.Stop()
		cs.timer = nil
	}
}

// done records the end of a session on qc; after the last one, qc is
// closed once the linger has passed without a new session.
func (l *lingerer) done(qc lingerConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cs := l.conns[qc]
	if cs == nil { // the connection has ended
		return
	}
	cs.n--
	cs.gen++
	if cs.n > 0 {
		return
	}
	gen := cs.gen
	cs.timer = time.AfterFunc(l.linger, func() {
		l.mu.Lock()
		idle := l.conns[qc] == cs && cs.gen == gen
		l.mu.Unlock()
		if idle {
			qc.CloseWithError(quicgo.ApplicationErrorCode(http3.ErrCodeNoError), "no WebTransport session")
		}
	})
}

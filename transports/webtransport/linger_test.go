package webtransport

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	quicgo "github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// fakeConn is a QUIC connection as the lingerer sees it.
type fakeConn struct {
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	closes []quicgo.ApplicationErrorCode
}

func newFakeConn() *fakeConn {
	ctx, cancel := context.WithCancel(context.Background())
	return &fakeConn{ctx: ctx, cancel: cancel}
}

func (c *fakeConn) Context() context.Context { return c.ctx }

func (c *fakeConn) CloseWithError(code quicgo.ApplicationErrorCode, _ string) error {
	c.mu.Lock()
	c.closes = append(c.closes, code)
	c.mu.Unlock()
	c.cancel()
	return nil
}

func (c *fakeConn) closed() []quicgo.ApplicationErrorCode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]quicgo.ApplicationErrorCode(nil), c.closes...)
}

// The linger's timing, on synctest's fake clock: exact, and instant.
func TestLingerer(t *testing.T) {
	const linger = 2 * time.Second
	expectOpen := func(t *testing.T, c *fakeConn) {
		t.Helper()
		synctest.Wait()
		if got := c.closed(); len(got) != 0 {
			t.Fatalf("closed %v while it should stay open", got)
		}
	}
	expectClosed := func(t *testing.T, c *fakeConn) {
		t.Helper()
		synctest.Wait()
		if got := c.closed(); len(got) != 1 || got[0] != quicgo.ApplicationErrorCode(http3.ErrCodeNoError) {
			t.Fatalf("closes %v, want one H3_NO_ERROR", got)
		}
	}
	t.Run("closed a linger after the last session", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l, c := newLingerer(linger), newFakeConn()
			l.add(c)
			l.add(c)
			l.done(c)
			time.Sleep(10 * linger)
			expectOpen(t, c) // one session left
			l.done(c)
			time.Sleep(linger - time.Nanosecond)
			expectOpen(t, c)
			time.Sleep(time.Nanosecond)
			expectClosed(t, c)
		})
	})
	t.Run("a session within the linger keeps the connection", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l, c := newLingerer(linger), newFakeConn()
			l.add(c)
			l.done(c)
			time.Sleep(linger / 2)
			l.add(c)
			time.Sleep(10 * linger)
			expectOpen(t, c)
			l.done(c)
			time.Sleep(linger)
			expectClosed(t, c)
		})
	})
	t.Run("a connection that ends is forgotten", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l, c := newLingerer(linger), newFakeConn()
			l.add(c)
			l.done(c)
			c.cancel() // the client closed it during the linger
			synctest.Wait()
			time.Sleep(10 * linger)
			expectOpen(t, c)
			l.mu.Lock()
			n := len(l.conns)
			l.mu.Unlock()
			if n != 0 {
				t.Fatalf("%d connections still tracked", n)
			}
			l.done(c) // a late end of session is ignored
		})
	})
}

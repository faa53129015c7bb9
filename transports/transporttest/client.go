package transporttest

import (
	"errors"
	"testing"
	"time"

	"github.com/rtgate/rtgate/protocol"
)

// wait is how long a scenario waits for a frame it expects.
const wait = 5 * time.Second

// Client wraps a ClientConn with the expectations the scenarios use; a
// transport's own tests use it too (NewClient). Every method fails the
// test on an unexpected frame, error or timeout.
type Client struct {
	t    testing.TB
	name string
	cc   ClientConn
}

// NewClient wraps cc for the test t; name labels its failures.
func NewClient(t testing.TB, name string, cc ClientConn) *Client {
	return &Client{t: t, name: name, cc: cc}
}

// Send sends cmd.
func (c *Client) Send(cmd *protocol.Command) {
	c.t.Helper()
	if err := c.cc.Send(cmd); err != nil {
		c.t.Fatalf("%s: send %v: %v", c.name, cmd.Kind, err)
	}
}

// Conn returns the wrapped connection.
func (c *Client) Conn() ClientConn { return c.cc }

// SendRaw sends a raw frame body.
func (c *Client) SendRaw(b []byte) {
	c.t.Helper()
	if err := c.cc.SendRaw(b); err != nil {
		c.t.Fatalf("%s: send raw frame: %v", c.name, err)
	}
}

// Next returns the next frame, failing on a timeout or a close.
func (c *Client) Next() *protocol.Command {
	c.t.Helper()
	f, err := c.cc.Recv(wait)
	if err != nil {
		c.t.Fatalf("%s: waiting for a frame: %v", c.name, err)
	}
	return f
}

// Expect returns the next frame and fails unless it has kind k.
func (c *Client) Expect(k protocol.Kind) *protocol.Command {
	c.t.Helper()
	f := c.Next()
	if f.Kind != k {
		c.t.Fatalf("%s: got %v %+v, want %v", c.name, f.Kind, *f, k)
	}
	return f
}

// Barrier sends a keepalive and expects `{}` as the very next frame: replies
// keep request order, so nothing else was pending. It proves the connection
// is open and that no unexpected frame arrived before.
func (c *Client) Barrier() {
	c.t.Helper()
	c.Send(&protocol.Command{Kind: protocol.KindKeepalive})
	c.Expect(protocol.KindKeepalive)
}

// ExpectClose skips frames until the server's close and checks its code.
func (c *Client) ExpectClose(code protocol.CloseCode) {
	c.t.Helper()
	deadline := time.Now().Add(3 * wait)
	for time.Now().Before(deadline) {
		f, err := c.cc.Recv(wait)
		if err == nil {
			_ = f
			continue
		}
		var ce *protocol.CloseError
		if errors.As(err, &ce) {
			if ce.Code != code {
				c.t.Fatalf("%s: closed with %d %q, want %d", c.name, ce.Code, ce.Reason, code)
			}
			return
		}
		c.t.Fatalf("%s: waiting for close %d: %v", c.name, code, err)
	}
	c.t.Fatalf("%s: no close %d within %s", c.name, code, 3*wait)
}

// Open opens peer on the connection watching watch, and returns `opened`.
// A keepalive round trip follows, so the open (including the core's inbox
// redelivery, which follows `opened`) has been handled completely before
// anyone sends to peer.
func (c *Client) Open(peer string, watch ...string) *protocol.Command {
	c.t.Helper()
	o := c.OpenRaw(peer, watch...)
	c.Barrier()
	return o
}

// OpenRaw is open without the barrier, for peers expecting a redelivery.
func (c *Client) OpenRaw(peer string, watch ...string) *protocol.Command {
	c.t.Helper()
	if watch == nil {
		watch = []string{}
	}
	c.Send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: appID, PeerID: peer, SessionPeerIDs: watch, I: 1})
	o := c.Expect(protocol.KindSessionOpened)
	if o.PeerID != peer || o.I != 1 {
		c.t.Fatalf("%s: opened = %+v", c.name, *o)
	}
	return o
}

// ExpectPresence expects a presence frame for the watching session.
func (c *Client) ExpectPresence(watcher string, st protocol.Status, peer string) {
	c.t.Helper()
	p := c.Expect(protocol.KindPresence)
	if p.PeerID != watcher || p.Status != st || len(p.SessionPeerIDs) != 1 || p.SessionPeerIDs[0] != peer || p.I != 0 {
		c.t.Fatalf("%s: presence = %+v, want %s %s", c.name, *p, peer, st)
	}
}

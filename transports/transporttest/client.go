package transporttest

import (
	"errors"
	"testing"
	"time"

	"github.com/rtgate/rtgate/protocol"
)

// wait is how long a scenario waits for a frame it expects.
const wait = 5 * time.Second

// client wraps a ClientConn with the expectations scenarios use.
type client struct {
	t    testing.TB
	name string
	cc   ClientConn
}

func (c *client) send(cmd *protocol.Command) {
	c.t.Helper()
	if err := c.cc.Send(cmd); err != nil {
		c.t.Fatalf("%s: send %v: %v", c.name, cmd.Kind, err)
	}
}

func (c *client) sendRaw(b []byte) {
	c.t.Helper()
	if err := c.cc.SendRaw(b); err != nil {
		c.t.Fatalf("%s: send raw frame: %v", c.name, err)
	}
}

// next returns the next frame, failing on a timeout or a close.
func (c *client) next() *protocol.Command {
	c.t.Helper()
	f, err := c.cc.Recv(wait)
	if err != nil {
		c.t.Fatalf("%s: waiting for a frame: %v", c.name, err)
	}
	return f
}

// expect returns the next frame and fails unless it has kind k.
func (c *client) expect(k protocol.Kind) *protocol.Command {
	c.t.Helper()
	f := c.next()
	if f.Kind != k {
		c.t.Fatalf("%s: got %v %+v, want %v", c.name, f.Kind, *f, k)
	}
	return f
}

// barrier sends a keepalive and expects `{}` as the very next frame: replies
// keep request order, so nothing else was pending. It proves the connection
// is open and that no unexpected frame arrived before.
func (c *client) barrier() {
	c.t.Helper()
	c.send(&protocol.Command{Kind: protocol.KindKeepalive})
	c.expect(protocol.KindKeepalive)
}

// expectClose skips frames until the server's close and checks its code.
func (c *client) expectClose(code protocol.CloseCode) {
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

// open opens peer on the connection watching watch, and returns `opened`.
// A keepalive round trip follows, so the open (including the core's inbox
// redelivery, which follows `opened`) has been handled completely before
// anyone sends to peer.
func (c *client) open(peer string, watch ...string) *protocol.Command {
	c.t.Helper()
	o := c.openRaw(peer, watch...)
	c.barrier()
	return o
}

// openRaw is open without the barrier, for peers expecting a redelivery.
func (c *client) openRaw(peer string, watch ...string) *protocol.Command {
	c.t.Helper()
	if watch == nil {
		watch = []string{}
	}
	c.send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: appID, PeerID: peer, SessionPeerIDs: watch, I: 1})
	o := c.expect(protocol.KindSessionOpened)
	if o.PeerID != peer || o.I != 1 {
		c.t.Fatalf("%s: opened = %+v", c.name, *o)
	}
	return o
}

// expectPresence expects a presence frame for the watching session.
func (c *client) expectPresence(watcher string, st protocol.Status, peer string) {
	c.t.Helper()
	p := c.expect(protocol.KindPresence)
	if p.PeerID != watcher || p.Status != st || len(p.SessionPeerIDs) != 1 || p.SessionPeerIDs[0] != peer || p.I != 0 {
		c.t.Fatalf("%s: presence = %+v, want %s %s", c.name, *p, peer, st)
	}
}

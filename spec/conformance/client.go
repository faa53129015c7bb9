package conformance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rtgate/rtgate/protocol"
)

// Conn is one client connection to the server under test. A
// *wire.Conn of the Go SDK satisfies it.
type Conn interface {
	// Send encodes and writes one command.
	Send(c *protocol.Command) error
	// Recv blocks for the next command. A frame that does not decode is an
	// error wrapping protocol.ErrMalformed or protocol.ErrUnknownCommand
	// and the Conn stays usable; any other error is final, and a close by
	// the server with a code is a *protocol.CloseError.
	Recv() (*protocol.Command, error)
	// Close ends the connection in an orderly way and unblocks Recv.
	Close() error
}

// RawConn is a Conn that can also write bytes the codecs never produce and
// drop the connection without an orderly close.
type RawConn interface {
	Conn
	// SendRaw writes b as is: one WebSocket message (text in the JSON
	// dialects, binary in msgpack), bytes on the stream of QUIC and
	// WebTransport (the caller writes the length prefix), or one long-poll
	// item sent as a JSON string.
	SendRaw(b []byte) error
	// Abort drops the connection: no close frame, no FIN where the
	// transport allows (long-poll: the session is closed at once).
	Abort()
}

// Framing is how a dialect puts commands into frames.
type Framing uint8

// Framings.
const (
	// FramingJSON: one JSON object per WebSocket text message or long-poll
	// item.
	FramingJSON Framing = iota
	// FramingMsgpack: one msgpack map per WebSocket binary message.
	FramingMsgpack
	// FramingStream: varint length and msgpack body on a QUIC or
	// WebTransport stream.
	FramingStream
)

// Dialer opens connections to the server under test in one transport and
// dialect.
type Dialer struct {
	// Modern is true for the dialects with `error` replies (everything
	// but v1 legacy JSON).
	Modern bool
	// Framing is the dialect's framing.
	Framing Framing
	// Dial opens a connection; ctx bounds the handshake.
	Dial func(ctx context.Context) (Conn, error)
	// DialRaw opens a connection that can write raw frames and abort. Nil
	// means Dial is used and raw scenarios fail.
	DialRaw func(ctx context.Context) (RawConn, error)
}

// item is one thing read from a connection.
type item struct {
	cmd *protocol.Command
	err error // a decode error (not final) or the final error
}

// Client wraps a Conn with the expectations scenarios use: every wait is
// bounded by Config.Wait, and every failure names the connection and what
// it got instead.
type Client struct {
	t    *T
	name string
	conn Conn

	frames chan item     // filled by the reader goroutine
	quit   chan struct{} // closed by Close: the reader stops
	done   chan struct{} // closed when the reader returned

	closeOnce sync.Once
	final     error // the final error, once read from frames; owned by the scenario
	nextI     int64 // last i used; owned by the scenario
}

func newClient(t *T, name string, conn Conn) *Client {
	c := &Client{t: t, name: name, conn: conn,
		frames: make(chan item, 4096), quit: make(chan struct{}), done: make(chan struct{})}
	go c.read() // owned by c; Close waits on done
	return c
}

func (c *Client) read() {
	defer close(c.done)
	defer close(c.frames)
	for {
		cmd, err := c.conn.Recv()
		if err != nil && !errors.Is(err, protocol.ErrMalformed) && !errors.Is(err, protocol.ErrUnknownCommand) {
			select {
			case c.frames <- item{err: err}:
			case <-c.quit:
			}
			return
		}
		select {
		case c.frames <- item{cmd: cmd, err: err}:
		case <-c.quit:
			return
		}
	}
}

// Close closes the connection and waits for its reader.
func (c *Client) Close() {
	c.closeOnce.Do(func() {
		close(c.quit)
		c.conn.Close()
	})
	<-c.done
}

// Abort drops the connection abruptly (see RawConn) and waits for its
// reader. A connection that is not raw is closed normally.
func (c *Client) Abort() {
	c.closeOnce.Do(func() {
		close(c.quit)
		if r, ok := c.conn.(RawConn); ok {
			r.Abort()
		}
		c.conn.Close()
	})
	<-c.done
}

// I returns the next request serial of this connection (1, 2, ...).
func (c *Client) I() int64 {
	c.nextI++
	return c.nextI
}

// Send writes cmd, failing the scenario on an error.
func (c *Client) Send(cmd *protocol.Command) {
	if err := c.conn.Send(cmd); err != nil {
		c.t.Fatalf("%s: send %v: %v", c.name, cmd.Kind, err)
	}
}

// SendRaw writes raw bytes (see RawConn.SendRaw).
func (c *Client) SendRaw(b []byte) {
	r, ok := c.conn.(RawConn)
	if !ok {
		c.t.Fatalf("%s: this target has no raw connections (Dialer.DialRaw is nil)", c.name)
	}
	if err := r.SendRaw(b); err != nil {
		c.t.Fatalf("%s: send raw frame: %v", c.name, err)
	}
}

// next returns the next item within the wait, or ok=false on a timeout.
func (c *Client) next(wait time.Duration) (item, bool) {
	if c.final != nil {
		return item{err: c.final}, true
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case it, open := <-c.frames:
		if !open {
			return item{err: errors.New("connection reader ended")}, true
		}
		if it.cmd == nil && it.err != nil && !errors.Is(it.err, protocol.ErrMalformed) && !errors.Is(it.err, protocol.ErrUnknownCommand) {
			c.final = it.err
		}
		return it, true
	case <-timer.C:
		return item{}, false
	case <-c.t.ctx.Done():
		c.t.Fatalf("%s: %v", c.name, context.Cause(c.t.ctx))
	}
	return item{}, false
}

// Next returns the next command, failing on a timeout, a close or a frame
// that does not decode. what says what was awaited, for the message.
func (c *Client) Next(what string) *protocol.Command {
	it, ok := c.next(c.t.Wait())
	if !ok {
		c.t.Fatalf("%s: no frame within %v while waiting for %s", c.name, c.t.Wait(), what)
	}
	if it.err != nil {
		c.t.Fatalf("%s: waiting for %s: %v", c.name, what, describeErr(it.err))
	}
	return it.cmd
}

// Expect returns the next command and fails unless it has kind k.
func (c *Client) Expect(k protocol.Kind) *protocol.Command {
	f := c.Next(kindName(k))
	if f.Kind != k {
		c.t.Fatalf("%s: got %s, want %s", c.name, Show(f), kindName(k))
	}
	return f
}

// ExpectI is Expect, and also checks that the reply echoes i.
func (c *Client) ExpectI(k protocol.Kind, i int64) *protocol.Command {
	f := c.Expect(k)
	if f.I != i {
		c.t.Fatalf("%s: %s echoes i=%d, want i=%d", c.name, Show(f), f.I, i)
	}
	return f
}

// ExpectSet reads len(want) commands and fails unless they match want in
// some order: each is matched by the first unmatched predicate it
// satisfies. Use it where the spec does not fix the order (a reply and an
// event caused by the same request).
func (c *Client) ExpectSet(want ...Match) []*protocol.Command {
	got := make([]*protocol.Command, len(want))
	used := make([]bool, len(want))
	for n := 0; n < len(want); n++ {
		var missing []string
		for j, w := range want {
			if !used[j] {
				missing = append(missing, w.Desc)
			}
		}
		f := c.Next(strings.Join(missing, ", "))
		matched := false
		for j, w := range want {
			if !used[j] && w.OK(f) {
				used[j], got[j], matched = true, f, true
				break
			}
		}
		if !matched {
			c.t.Fatalf("%s: got %s, want one of: %s", c.name, Show(f), strings.Join(missing, "; "))
		}
	}
	return got
}

// Match is a predicate on a command with a description for messages.
type Match struct {
	Desc string
	OK   func(*protocol.Command) bool
}

// Barrier sends a keepalive and expects `{}` as the very next frame:
// replies keep request order, so a frame the server sent before it (for
// instance one that should not have been sent) shows up first.
func (c *Client) Barrier(why string) {
	c.Send(&protocol.Command{Kind: protocol.KindKeepalive})
	f := c.Next("the keepalive reply {} (" + why + ")")
	if f.Kind != protocol.KindKeepalive {
		c.t.Fatalf("%s: unexpected %s (%s)", c.name, Show(f), why)
	}
}

// ExpectClose skips nothing: the next event must be the server's close
// with code. Frames in between fail the scenario, unless skip allows them.
func (c *Client) ExpectClose(code protocol.CloseCode, skip ...protocol.Kind) {
	deadline := time.Now().Add(2 * c.t.Wait())
	for {
		wait := time.Until(deadline)
		if wait <= 0 {
			wait = time.Millisecond
		}
		it, ok := c.next(wait)
		if !ok {
			c.t.Fatalf("%s: not closed within %v, want close %d", c.name, 2*c.t.Wait(), code)
		}
		if it.cmd != nil {
			allowed := false
			for _, k := range skip {
				allowed = allowed || it.cmd.Kind == k
			}
			if !allowed {
				c.t.Fatalf("%s: got %s, want close %d", c.name, Show(it.cmd), code)
			}
			continue
		}
		var ce *protocol.CloseError
		if !errors.As(it.err, &ce) {
			c.t.Fatalf("%s: want close %d, got %v", c.name, code, describeErr(it.err))
		}
		if ce.Code != code {
			c.t.Fatalf("%s: closed with %d %q, want %d", c.name, ce.Code, ce.Reason, code)
		}
		return
	}
}

// ExpectError expects the `error` reply of the modern dialects, with code
// and the request's i (0: no i), and checks the connection stays usable.
func (c *Client) ExpectError(code int, i int64) *protocol.Command {
	f := c.Expect(protocol.KindError)
	if f.Code != code || f.I != i {
		c.t.Fatalf("%s: got %s, want error code %d i=%d", c.name, Show(f), code, i)
	}
	c.Barrier("the connection stays open after an error reply")
	return f
}

// ExpectFailure checks the dialect's answer to a recoverable failure: an
// `error` with code (and i) in modern dialects, a close with the same code
// in the legacy one.
func (c *Client) ExpectFailure(code int, i int64) {
	if c.t.Modern() {
		c.ExpectError(code, i)
		return
	}
	c.ExpectClose(protocol.CloseCode(code))
}

// Open opens a session for peer watching watch, expects `opened` echoing
// i, and returns it.
func (c *Client) Open(peer string, watch ...string) *protocol.Command {
	i := c.I()
	c.Send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: c.t.App(), PeerID: peer,
		SessionPeerIDs: watch, I: i})
	f := c.ExpectI(protocol.KindSessionOpened, i)
	if f.PeerID != peer {
		c.t.Fatalf("%s: %s names peer %q, want %q", c.name, Show(f), f.PeerID, peer)
	}
	return f
}

// Direct sends a persistent message from peer to the recipients and
// returns its ack.
func (c *Client) Direct(from, msg string, to ...string) *protocol.Command {
	i := c.I()
	c.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: from, Msg: msg, ToPeerIDs: to, I: i})
	ack := c.ExpectI(protocol.KindAck, i)
	if ack.UID == "" || ack.Time == 0 {
		c.t.Fatalf("%s: ack without uid or t: %s", c.name, Show(ack))
	}
	return ack
}

// ExpectDirect expects a delivered message for peer from from with text
// msg, and returns it.
func (c *Client) ExpectDirect(peer, from, msg string) *protocol.Command {
	f := c.Expect(protocol.KindDirect)
	if f.PeerID != peer || f.FromPeerID != from || f.Msg != msg {
		c.t.Fatalf("%s: got %s, want direct to %s from %s with msg %q", c.name, Show(f), peer, from, short(msg))
	}
	if f.ID == "" || f.Timestamp == 0 {
		c.t.Fatalf("%s: delivered message without id or timestamp: %s", c.name, Show(f))
	}
	return f
}

// describeErr names a final error: a close with its code, else the error.
func describeErr(err error) string {
	var ce *protocol.CloseError
	if errors.As(err, &ce) {
		return fmt.Sprintf("connection closed by the server with %d %q", ce.Code, ce.Reason)
	}
	return err.Error()
}

func kindName(k protocol.Kind) string {
	if k == protocol.KindKeepalive {
		return "{}"
	}
	if op := k.Op(); op != "" {
		return k.Cmd() + " " + op
	}
	return k.Cmd()
}

// Show formats a command compactly for failure messages: its JSON
// encoding, with a long msg shortened.
func Show(f *protocol.Command) string {
	if f == nil {
		return "<nil>"
	}
	g := *f
	g.Msg = short(g.Msg)
	return kindName(f.Kind) + " " + string(protocol.AppendJSON(nil, &g))
}

func short(s string) string {
	if len(s) <= 80 {
		return s
	}
	return fmt.Sprintf("%s…(%d bytes)", s[:40], len(s))
}

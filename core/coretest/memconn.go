// Package coretest provides an in-memory core.Conn and helpers to drive a
// core.Hub without any transport, for the core's own tests, benchmarks and
// the protocol scenarios.
//
// Concurrency: a MemConn is safe for concurrent Write/Close (as core.Conn
// requires); Next and Expect are for one test goroutine.
//
// Imports: core, protocol, the standard library.
package coretest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/protocol"
)

// MemConn is an in-memory connection: writes are copied into a bounded
// channel the test reads with Next/Expect.
type MemConn struct {
	info   core.ConnInfo
	frames chan *protocol.Command

	mu     sync.Mutex
	closed bool               // guarded by mu
	code   protocol.CloseCode // guarded by mu
	reason string             // guarded by mu
	done   chan struct{}      // closed on Close

	Client *core.Client // set by Dial
}

// NewMemConn returns a conn whose queue holds capacity frames.
func NewMemConn(info core.ConnInfo, capacity int) *MemConn {
	if info.Transport == "" {
		info.Transport = "mem"
	}
	if info.RemoteAddr == "" {
		info.RemoteAddr = "127.0.0.1:5555"
	}
	return &MemConn{info: info, frames: make(chan *protocol.Command, capacity), done: make(chan struct{})}
}

// Dial connects a new MemConn (legacy dialect unless modern) to h.
func Dial(h *core.Hub, modern bool) *MemConn {
	c := NewMemConn(core.ConnInfo{Modern: modern}, 4096)
	c.Client = h.Connect(c)
	return c
}

// Info implements core.Conn.
func (c *MemConn) Info() core.ConnInfo { return c.info }

// Write implements core.Conn: it copies cmd into the queue, or closes the
// conn as a slow consumer when the queue is full.
func (c *MemConn) Write(cmd *protocol.Command) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return core.ErrConnClosed
	}
	cp := cmd.Clone()
	select {
	case c.frames <- &cp:
		return nil
	default:
		c.closeLocked(protocol.CloseSlowConsumer, "outbound queue full")
		return core.ErrSlowConsumer
	}
}

// Close implements core.Conn.
func (c *MemConn) Close(code protocol.CloseCode, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked(code, reason)
}

func (c *MemConn) closeLocked(code protocol.CloseCode, reason string) {
	if !c.closed {
		c.closed, c.code, c.reason = true, code, reason
		close(c.done)
	}
}

// Closed returns the close code, or 0 while open.
func (c *MemConn) Closed() protocol.CloseCode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.code
}

// Done is closed when the conn is closed.
func (c *MemConn) Done() <-chan struct{} { return c.done }

// Send hands cmd to the hub as the transport's reader would; a close error
// closes the conn and disconnects the client, like a transport.
func (c *MemConn) Send(cmd *protocol.Command) error {
	err := c.Client.Handle(cmd)
	if ce, ok := err.(*protocol.CloseError); ok {
		c.Close(ce.Code, ce.Reason)
		c.Client.Disconnect()
	}
	return err
}

// Drop ends the connection as a dropped socket would.
func (c *MemConn) Drop() {
	c.Close(protocol.CloseNormal, "dropped")
	c.Client.Disconnect()
}

// Next returns the next frame, or an error after timeout.
func (c *MemConn) Next(timeout time.Duration) (*protocol.Command, error) {
	select {
	case f := <-c.frames:
		return f, nil
	case <-time.After(timeout):
		return nil, fmt.Errorf("no frame within %s", timeout)
	}
}

// Expect returns the next frame and fails t unless it has kind k.
func (c *MemConn) Expect(t testing.TB, k protocol.Kind) *protocol.Command {
	t.Helper()
	f, err := c.Next(2 * time.Second)
	if err != nil {
		t.Fatalf("waiting for %v: %v", k, err)
	}
	if f.Kind != k {
		t.Fatalf("got %v %+v, want %v", f.Kind, *f, k)
	}
	return f
}

// ExpectNone fails t if a frame arrives within d.
func (c *MemConn) ExpectNone(t testing.TB, d time.Duration) {
	t.Helper()
	if f, err := c.Next(d); err == nil {
		t.Fatalf("unexpected frame %v %+v", f.Kind, *f)
	}
}

// Open sends `session open` for peer watching watch and returns `opened`.
func (c *MemConn) Open(t testing.TB, app, peer string, watch ...string) *protocol.Command {
	t.Helper()
	if watch == nil {
		watch = []string{}
	}
	if err := c.Send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: app, PeerID: peer, SessionPeerIDs: watch, I: 1}); err != nil {
		t.Fatalf("open %s: %v", peer, err)
	}
	return c.Expect(t, protocol.KindSessionOpened)
}

// CountConn is a core.Conn that encodes nothing and keeps nothing: it
// counts the frames written to it, for benchmarks.
type CountConn struct {
	info   core.ConnInfo
	mu     sync.Mutex
	frames int // guarded by mu
	last   protocol.Command
	Client *core.Client
}

// NewCountConn returns a counting conn connected to h.
func NewCountConn(h *core.Hub) *CountConn {
	c := &CountConn{info: core.ConnInfo{Transport: "mem", RemoteAddr: "127.0.0.1:5555"}}
	c.Client = h.Connect(c)
	return c
}

// Info implements core.Conn.
func (c *CountConn) Info() core.ConnInfo { return c.info }

// Write implements core.Conn.
func (c *CountConn) Write(cmd *protocol.Command) error {
	c.mu.Lock()
	c.frames++
	c.last.Kind, c.last.ID, c.last.UID = cmd.Kind, cmd.ID, cmd.UID
	c.mu.Unlock()
	return nil
}

// Close implements core.Conn.
func (c *CountConn) Close(protocol.CloseCode, string) {}

// Frames returns how many frames were written and the last one's kind and ids.
func (c *CountConn) Frames() (int, protocol.Command) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.frames, c.last
}

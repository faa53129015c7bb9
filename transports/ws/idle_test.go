package ws

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { r.c.Close(); client.Close() })
	return r.c, client
}

// TestHandoverDeadline: the handover deadline passing while the reader
// waits for a new frame hands over (errHandover) without consuming
// anything; passing inside a frame it is not an error: the frame reads
// whole under the parked deadline; once parked, the client's own
// deadline passing is an error.
func TestHandoverDeadline(t *testing.T) {
	const step = 20 * time.Millisecond
	srv, cl := tcpPair(t)
	c := &conn{h: &Handler{epoch: time.Now()}, netConn: srv}
	c.fr.src = (*socketReader)(c)
	c.rd = readerState{idle: time.Hour, step: step, throttle: step / 2, handover: true}
	masked := func(p string) []byte { return append([]byte{0x81, 0x80 | byte(len(p)), 0, 0, 0, 0}, p...) }
	next := func() (string, error) {
		var msg []byte
		_, _, err := c.fr.Next(&msg, 1<<10)
		return string(msg), err
	}

	// Nothing comes: a handover at the boundary, nothing consumed.
	c.alive()
	c.rd.boundary = true
	start := time.Now()
	if err := c.fr.need(1); err != errHandover {
		t.Fatalf("need at the boundary: %v, want errHandover", err)
	}
	c.rd.boundary = false
	if d := time.Since(start); d < step/2 {
		t.Fatalf("handed over after %v, before the deadline (%v)", d, step)
	}
	if c.fr.buffered() != 0 {
		t.Fatalf("%d bytes buffered after the handover", c.fr.buffered())
	}
	// The idle goroutine's wait: parked deadline (an hour away).
	c.park()
	if _, err := cl.Write(masked("hello")); err != nil {
		t.Fatal(err)
	}
	if b, err := next(); err != nil || b != "hello" {
		t.Fatalf("read %q %v", b, err)
	}

	// A frame cut in three pieces, each pause longer than the handover
	// deadline: the reader waits on inside the frame.
	c.alive()
	if !c.rd.deep {
		t.Fatal("alive did not put the running deadline back after park")
	}
	frame := masked("slow frame")
	go func() {
		for _, part := range [][]byte{frame[:1], frame[1:4], frame[4:9], frame[9:]} {
			time.Sleep(3 * step)
			if _, err := cl.Write(part); err != nil {
				return
			}
		}
	}()
	c.rd.boundary = true
	if err := c.fr.need(1); err != errHandover {
		t.Fatalf("need before the first byte: %v, want errHandover", err)
	}
	c.rd.boundary = false
	c.rd.deep = true // as if the frame had come in time: the running deadline is still in force
	if b, err := next(); err != nil || b != "slow frame" {
		t.Fatalf("slow frame: %q %v", b, err)
	}
	if c.rd.deep {
		t.Fatal("reader still deep after waiting past the handover deadline")
	}

	// Parked, the client's own deadline passing ends the read.
	c.rd.idle = step
	c.park()
	if _, err := next(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("parked read past the idle deadline: %v, want a timeout", err)
	}
}

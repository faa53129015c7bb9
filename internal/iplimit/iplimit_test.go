package iplimit

import (
	"net"
	"syscall"
	"testing"
	"time"
)

func TestAdmit(t *testing.T) {
	l := New(2)
	a := &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 1}
	mapped := &net.UDPAddr{IP: net.ParseIP("::ffff:192.0.2.1"), Port: 2}
	other := &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 3}
	r1, ok1 := l.Admit(a)
	r2, ok2 := l.Admit(mapped) // the same address, over QUIC
	_, ok3 := l.Admit(a)
	_, ok4 := l.Admit(other)
	if !ok1 || !ok2 || ok3 || !ok4 {
		t.Fatalf("admitted %v %v %v %v, want true true false true", ok1, ok2, ok3, ok4)
	}
	r1()
	r1() // idempotent
	if _, ok := l.Admit(a); !ok {
		t.Fatal("a released slot was not reusable")
	}
	if _, ok := l.Admit(a); ok {
		t.Fatal("a double release freed two slots")
	}
	r2()
	if l.Refused() != 2 {
		t.Fatalf("refused %d, want 2", l.Refused())
	}
	if rel, ok := (*Limiter)(nil).Admit(a); !ok || rel == nil {
		t.Fatal("a nil Limiter refused")
	}
	if New(0) != nil {
		t.Fatal("New(0) is not nil")
	}
}

// TestListener: over the limit, Accept closes the connection and goes on;
// closing an admitted one frees its slot; the raw socket stays reachable.
func TestListener(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := New(1).Listener(raw)
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	dial()
	first := <-accepted
	if _, ok := first.(syscall.Conn); !ok {
		t.Fatal("the accepted connection hides the socket")
	}
	refused := dial()
	refused.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := refused.Read(make([]byte, 1)); err == nil {
		t.Fatalf("the connection over the limit read %d bytes, want it closed", n)
	}
	select {
	case c := <-accepted:
		t.Fatalf("accepted %v over the limit", c.RemoteAddr())
	case <-time.After(50 * time.Millisecond):
	}
	first.Close()
	dial()
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("no connection accepted after the first closed")
	}
}

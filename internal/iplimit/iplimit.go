// Package iplimit bounds the connections open at once from one remote IP
// address, across every listener that shares a Limiter: the HTTP ports
// (WebSocket, long-poll, REST) through Listener, QUIC/WebTransport
// through Admit, and long-poll sessions, which outlive their HTTP
// requests, through AdmitRemote.
package iplimit

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
)

// Limiter counts open connections by remote IP address. A nil Limiter
// admits everything. Safe for concurrent use.
type Limiter struct {
	max     int
	mu      sync.Mutex
	open    map[netip.Addr]int // guarded by mu
	refused atomic.Uint64
}

// New returns a Limiter admitting at most max connections per address at
// once; nil (no limit) if max <= 0.
func New(max int) *Limiter {
	if max <= 0 {
		return nil
	}
	return &Limiter{max: max, open: make(map[netip.Addr]int)}
}

// Refused returns how many connections the Limiter has refused.
func (l *Limiter) Refused() uint64 {
	if l == nil {
		return 0
	}
	return l.refused.Load()
}

// Admit counts a new connection from addr. If its address already has the
// maximum open, ok is false and nothing is counted; otherwise release
// (idempotent) ends the count. An address that is not IP is admitted.
func (l *Limiter) Admit(addr net.Addr) (release func(), ok bool) {
	ip, known := addrIP(addr)
	if l == nil || !known {
		return func() {}, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[ip] >= l.max {
		l.refused.Add(1)
		return nil, false
	}
	l.open[ip]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.open[ip]--; l.open[ip] <= 0 {
				delete(l.open, ip)
			}
		})
	}, true
}

// AdmitRemote is Admit for an address in host:port form, an
// http.Request's RemoteAddr: the long-poll transport counts each of its
// sessions as a connection of the address that opened it.
func (l *Limiter) AdmitRemote(hostport string) (release func(), ok bool) {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return func() {}, true
	}
	return l.Admit(net.TCPAddrFromAddrPort(ap))
}

// addrIP returns addr's IP address (IPv4-mapped IPv6 unmapped).
func addrIP(addr net.Addr) (netip.Addr, bool) {
	var ip net.IP
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip = a.IP
	case *net.UDPAddr:
		ip = a.IP
	default:
		return netip.Addr{}, false
	}
	na, ok := netip.AddrFromSlice(ip)
	return na.Unmap(), ok
}

// Listener returns ln whose Accept closes, at once and silently, a
// connection over the limit and goes on to the next. The connections it
// returns release their count on Close; they keep the socket's
// syscall.RawConn reachable (the WebSocket transport's idle reader waits
// on it).
func (l *Limiter) Listener(ln net.Listener) net.Listener {
	if l == nil {
		return ln
	}
	return &listener{Listener: ln, l: l}
}

type listener struct {
	net.Listener
	l *Limiter
}

func (ln *listener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		release, ok := ln.l.Admit(c.RemoteAddr())
		if !ok {
			c.Close()
			continue
		}
		return &conn{Conn: c, release: release}, nil
	}
}

type conn struct {
	net.Conn
	release func()
}

func (c *conn) Close() error {
	defer c.release()
	return c.Conn.Close()
}

// NetConn returns the wrapped connection.
func (c *conn) NetConn() net.Conn { return c.Conn }

// SyscallConn returns the wrapped socket's syscall.RawConn.
func (c *conn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errNoSyscallConn
	}
	return sc.SyscallConn()
}

var errNoSyscallConn = errors.New("iplimit: wrapped connection has no syscall.RawConn")

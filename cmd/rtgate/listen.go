package main

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/rtgate/rtgate/internal/config"
)

// sockets are every listener of the configuration, bound before the store
// opens so that a port in use fails at once and says which one.
type sockets struct {
	http      []net.Listener // cfg.Listen, in order
	https     []net.Listener // cfg.ListenTLS, in order (TCP; TLS is added by run)
	legacyTLS net.Listener   // cfg.Flash.LegacyTLSAddr or nil
	policy    net.Listener   // cfg.Flash.PolicyAddr or nil
	debug     net.Listener   // cfg.DebugAddr or nil
	admin     net.Listener   // cfg.AdminAddr or nil
	udp       net.PacketConn // cfg.QUIC or nil when off
}

// bindError is a listener that could not be bound: what it serves, where,
// and how to choose another address.
type bindError struct {
	what    string // "QUIC/WebTransport (UDP)"
	addr    string
	setting string // `--quic HOST:PORT (RTGATE_QUIC, "quic" in the config file)`
	alt     string // another way out, e.g. "--quic off"
	err     error
}

func (e *bindError) Error() string {
	cause := e.err.Error()
	var op *net.OpError
	if errors.As(e.err, &op) && op.Err != nil {
		cause = op.Err.Error() // without the repeated "listen udp ADDR:"
	}
	hint := "choose another address with " + e.setting
	switch {
	case errors.Is(e.err, syscall.EADDRINUSE):
		cause = "the address is already in use (another rtgate or another program holds it)"
	case errors.Is(e.err, syscall.EACCES):
		cause = "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
	case errors.Is(e.err, syscall.EADDRNOTAVAIL):
		cause = "this machine has no such address"
	}
	if e.alt != "" {
		hint = e.alt + ", or " + hint
	}
	return fmt.Sprintf("cannot listen for %s on %s: %s; %s", e.what, e.addr, cause, hint)
}

func (e *bindError) Unwrap() error { return e.err }

// bind binds every listener cfg names, or none: on a failure it closes
// what it had bound and returns a *bindError.
func bind(cfg *config.Config) (*sockets, error) {
	s := &sockets{}
	tcp := func(addr, what, setting, alt string) (net.Listener, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, &bindError{what: what, addr: addr, setting: setting, alt: alt, err: err}
		}
		return ln, nil
	}
	fail := func(err error) (*sockets, error) {
		s.close()
		return nil, err
	}
	for _, addr := range cfg.Listen {
		ln, err := tcp(addr, "HTTP/WebSocket (TCP)", `--listen HOST:PORT (RTGATE_LISTEN, "listen" in the config file)`, "")
		if err != nil {
			return fail(err)
		}
		s.http = append(s.http, ln)
	}
	for _, addr := range cfg.ListenTLS {
		ln, err := tcp(addr, "HTTPS/WSS (TLS over TCP)", `--listen-tls HOST:PORT (RTGATE_LISTEN_TLS, "listenTLS" in the config file)`, "")
		if err != nil {
			return fail(err)
		}
		s.https = append(s.https, ln)
	}
	var err error
	if a := cfg.Flash.LegacyTLSAddr; a != "" {
		if s.legacyTLS, err = tcp(a, "the Flash legacy TLS listener (TCP)", `"flash.legacyTLSAddr" in the config file`, ""); err != nil {
			return fail(err)
		}
	}
	if a := cfg.Flash.PolicyAddr; a != "" {
		if s.policy, err = tcp(a, "the Flash socket policy (TCP)", `--flash-policy HOST:PORT (RTGATE_FLASH_POLICY, "flash.policyAddr" in the config file)`, ""); err != nil {
			return fail(err)
		}
	}
	if a := cfg.DebugAddr; a != "" {
		if s.debug, err = tcp(a, "the debug listener (TCP)", `--debug-addr HOST:PORT (RTGATE_DEBUG_ADDR, "debugAddr" in the config file)`, ""); err != nil {
			return fail(err)
		}
	}
	if a := cfg.AdminAddr; a != "" {
		if s.admin, err = tcp(a, "the admin listener (TCP)", `--admin-addr HOST:PORT (RTGATE_ADMIN_ADDR, "adminAddr" in the config file)`, ""); err != nil {
			return fail(err)
		}
	}
	if cfg.QUICEnabled() {
		if s.udp, err = net.ListenPacket("udp", cfg.QUIC); err != nil {
			return fail(&bindError{what: "QUIC/WebTransport (UDP)", addr: cfg.QUIC, err: err,
				setting: `--quic HOST:PORT (RTGATE_QUIC, "quic" in the config file)`,
				alt:     "run without QUIC and WebTransport with --quic off"})
		}
	}
	return s, nil
}

// close closes every listener bound.
func (s *sockets) close() {
	closeAll(s.http)
	closeAll(s.https)
	for _, l := range []net.Listener{s.legacyTLS, s.policy, s.debug, s.admin} {
		if l != nil {
			l.Close()
		}
	}
	if s.udp != nil {
		s.udp.Close()
	}
}

// Package flashpolicy answers Adobe Flash socket policy requests, which the
// v1 JS client's Flash fallback (web-socket-js, for browsers without
// WebSocket) sends before it opens a socket: the 22 bytes
// `<policy-file-request/>` and a NUL, answered with a cross-domain policy
// XML document and a NUL, after which the server closes the connection.
//
// Two ways to serve it, both usually on:
//
//   - Server.Serve(ln) on a dedicated listener, TCP 843 in production
//     (web-socket-js always asks port 843 first, and waits 15-21 s before it
//     falls back to the destination port when 843 does not answer);
//   - Server.Listener(ln) wraps the HTTP/WebSocket listener: the first Read
//     of each accepted connection looks at the first byte; `<` is a policy
//     request (answered and closed), anything else goes to net/http
//     untouched, so HTTP and WebSocket upgrades keep working on that port.
//     Go's net/http would otherwise hang on the request (it has no CRLF).
//
// LegacyTLSConfig builds the tls.Config for an optional listener dedicated
// to Flash's old TLS (TLS 1.0, RSA key exchange), off by default.
//
// Concurrency: a Server is safe for concurrent use; Serve runs one
// goroutine per connection (bounded by Config.MaxConns), which Wait waits
// for. The sniffing listener adds no goroutine: the sniff happens on the
// goroutine net/http already runs for the connection, so Accept never
// blocks on it.
//
// Imports: the standard library and the Prometheus client only.
package flashpolicy

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Request is what Flash sends, without its terminating NUL.
const Request = "<policy-file-request/>"

// DefaultPolicy is the policy served by the zero Config (without the NUL).
const DefaultPolicy = `<?xml version="1.0"?><cross-domain-policy><site-control permitted-cross-domain-policies="master-only"/><allow-access-from domain="*" to-ports="*"/></cross-domain-policy>`

// ErrInvalidConfig reports a Config that cannot make a policy.
var ErrInvalidConfig = errors.New("flashpolicy: invalid config")

// Config configures a Server. The zero value of every field is its
// documented default; the zero Config serves DefaultPolicy.
type Config struct {
	// Domains are the page domains allowed to open sockets, one
	// allow-access-from element each ("*.example.org", "chat.example.org").
	// Empty means "*". Restrict it in production.
	Domains []string
	// ToPorts is the to-ports attribute: the ports those pages may
	// connect to ("443,80", "8000-8100", "*"). It must include the
	// WebSocket port. Empty means "*".
	ToPorts string
	// Policy, when set, is served as is (the NUL is appended); Domains and
	// ToPorts are ignored.
	Policy string

	// Timeout bounds one policy exchange: reading the request (after its
	// first byte, on the sniffing listener) and writing the answer. Zero
	// means 5 s.
	Timeout time.Duration
	// MaxConns bounds the connections Serve handles at once; more are
	// closed at once. Zero means 1024.
	MaxConns int

	// Logger receives the server's logs. Nil means slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 1024
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Policy returns the policy document cfg describes, NUL-terminated, as it
// goes on the wire.
func Policy(cfg Config) ([]byte, error) {
	if cfg.Policy != "" {
		if strings.IndexByte(cfg.Policy, 0) >= 0 {
			return nil, fmt.Errorf("%w: policy contains a NUL byte", ErrInvalidConfig)
		}
		return append([]byte(cfg.Policy), 0), nil
	}
	domains := cfg.Domains
	if len(domains) == 0 {
		domains = []string{"*"}
	}
	ports := cfg.ToPorts
	if ports == "" {
		ports = "*"
	}
	if strings.Trim(ports, "0123456789,-* ") != "" {
		return nil, fmt.Errorf("%w: to-ports %q: use port numbers, ranges (a-b), commas or *", ErrInvalidConfig, ports)
	}
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0"?><cross-domain-policy><site-control permitted-cross-domain-policies="master-only"/>`)
	for _, d := range domains {
		if d == "" || strings.ContainsAny(d, " \t\r\n") {
			return nil, fmt.Errorf("%w: domain %q", ErrInvalidConfig, d)
		}
		b.WriteString(`<allow-access-from domain="`)
		xml.EscapeText(&b, []byte(d))
		b.WriteString(`" to-ports="`)
		b.WriteString(ports)
		b.WriteString(`"/>`)
	}
	b.WriteString(`</cross-domain-policy>`)
	b.WriteByte(0)
	return b.Bytes(), nil
}

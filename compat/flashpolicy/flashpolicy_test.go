package flashpolicy_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rtgate/rtgate/compat/flashpolicy"
)

var request = []byte(flashpolicy.Request + "\x00")

func TestPolicyDocument(t *testing.T) {
	tests := []struct {
		name    string
		cfg     flashpolicy.Config
		want    string // without the NUL
		invalid bool
	}{
		{name: "zero config is the default policy", want: flashpolicy.DefaultPolicy},
		{name: "domains and ports", cfg: flashpolicy.Config{Domains: []string{"chat.example.org", "*.example.com"}, ToPorts: "443,80"},
			want: `<?xml version="1.0"?><cross-domain-policy><site-control permitted-cross-domain-policies="master-only"/>` +
				`<allow-access-from domain="chat.example.org" to-ports="443,80"/><allow-access-from domain="*.example.com" to-ports="443,80"/></cross-domain-policy>`},
		{name: "domain is escaped", cfg: flashpolicy.Config{Domains: []string{`a"b<c`}, ToPorts: "8000-8100"},
			want: `<?xml version="1.0"?><cross-domain-policy><site-control permitted-cross-domain-policies="master-only"/>` +
				`<allow-access-from domain="a&#34;b&lt;c" to-ports="8000-8100"/></cross-domain-policy>`},
		{name: "explicit policy served as is", cfg: flashpolicy.Config{Policy: "<cross-domain-policy/>"}, want: "<cross-domain-policy/>"},
		{name: "ports must be numbers", cfg: flashpolicy.Config{ToPorts: `80"/><x`}, invalid: true},
		{name: "empty domain", cfg: flashpolicy.Config{Domains: []string{""}}, invalid: true},
		{name: "NUL in explicit policy", cfg: flashpolicy.Config{Policy: "a\x00b"}, invalid: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := flashpolicy.Policy(tc.cfg)
			if tc.invalid {
				if !errors.Is(err, flashpolicy.ErrInvalidConfig) {
					t.Fatalf("err = %v, want ErrInvalidConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want+"\x00" {
				t.Fatalf("policy = %q\nwant     %q", got, tc.want+"\x00")
			}
		})
	}
}

func newServer(t *testing.T, cfg flashpolicy.Config) *flashpolicy.Server {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	s, err := flashpolicy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// exchange dials addr, writes the chunks in turn and returns everything
// read until the server closes.
func exchange(t *testing.T, addr string, chunks ...[]byte) []byte {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	for _, ch := range chunks {
		if _, err := c.Write(ch); err != nil {
			t.Fatal(err)
		}
	}
	got, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) { // a reset: closed with our bytes unread
		t.Fatalf("reading the answer: %v", err)
	}
	return got
}

func TestDedicatedListener(t *testing.T) {
	s := newServer(t, flashpolicy.Config{Domains: []string{"example.org"}, ToPorts: "443", Timeout: 300 * time.Millisecond})
	ln := listen(t)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	defer func() {
		ln.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		s.Wait()
	}()
	addr := ln.Addr().String()
	policy := s.PolicyBytes()
	if !bytes.HasSuffix(policy, []byte("\x00")) || !bytes.Contains(policy, []byte(`domain="example.org" to-ports="443"`)) {
		t.Fatalf("policy = %q", policy)
	}

	tests := []struct {
		name   string
		chunks [][]byte
		want   []byte
	}{
		{"request in one write", [][]byte{request}, policy},
		{"request byte by byte", splitBytes(request), policy},
		{"not a policy request", [][]byte{[]byte("GET / HTTP/1.0\r\n\r\n\x00")}, nil},
		{"no NUL within the bound", [][]byte{bytes.Repeat([]byte("<"), 100)}, nil},
		{"no NUL before the timeout", [][]byte{[]byte(flashpolicy.Request)}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := exchange(t, addr, tc.chunks...); !bytes.Equal(got, tc.want) {
				t.Fatalf("answer = %q, want %q", got, tc.want)
			}
		})
	}
}

func splitBytes(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		out[i] = b[i : i+1]
	}
	return out
}

// TestSniffedHTTPPort serves HTTP and WebSocket through the sniffing
// listener and checks that policy requests, plain HTTP and upgrades all
// work on the one port, and that a silent connection does not hold up
// Accept.
func TestSniffedHTTPPort(t *testing.T) {
	s := newServer(t, flashpolicy.Config{})
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	up := websocket.Upgrader{}
	rawOK := make(chan bool, 1)
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		// The WebSocket transport waits for an idle socket through
		// syscall.Conn; the wrapper must not hide it.
		sc, ok := c.UnderlyingConn().(syscall.Conn)
		if ok {
			_, err := sc.SyscallConn()
			ok = err == nil
		}
		rawOK <- ok
		for {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.WriteMessage(typ, msg)
		}
	})
	ln := s.Listener(listen(t))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	addr := ln.Addr().String()

	// A connection that says nothing must not delay anyone else.
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()

	t.Run("policy request", func(t *testing.T) {
		if got := exchange(t, addr, request); !bytes.Equal(got, []byte(flashpolicy.DefaultPolicy+"\x00")) {
			t.Fatalf("answer = %q", got)
		}
	})
	t.Run("policy request in pieces", func(t *testing.T) {
		if got := exchange(t, addr, request[:1], request[1:5], request[5:]); !bytes.Equal(got, []byte(flashpolicy.DefaultPolicy+"\x00")) {
			t.Fatalf("answer = %q", got)
		}
	})
	t.Run("plain HTTP", func(t *testing.T) {
		for range 2 { // a kept-alive connection reads past the first request
			resp, err := http.Get("http://" + addr + "/hello")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(body) != "hello" {
				t.Fatalf("GET /hello = %d %q", resp.StatusCode, body)
			}
		}
	})
	t.Run("WebSocket upgrade", func(t *testing.T) {
		c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for _, m := range []string{"one", "two"} {
			if err := c.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
				t.Fatal(err)
			}
			if _, got, err := c.ReadMessage(); err != nil || string(got) != m {
				t.Fatalf("echo = %q, %v", got, err)
			}
		}
		if !<-rawOK {
			t.Fatal("the sniffed connection does not expose syscall.Conn")
		}
	})
}

// rsaCert returns a self-signed RSA certificate for 127.0.0.1.
func rsaCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "rtgate legacy test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestLegacyTLSHandshake connects the way Flash's TLS does (TLS 1.0 only,
// RSA key exchange only) and fetches a page over the legacy listener.
func TestLegacyTLSHandshake(t *testing.T) {
	cfg := flashpolicy.LegacyTLSConfig(rsaCert(t))
	ln := tls.NewListener(listen(t), cfg)
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "legacy ok") }),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(slog.DiscardHandler, slog.LevelError),
	}
	go srv.Serve(ln)
	defer srv.Close()

	tests := []struct {
		name    string
		version uint16
		suite   uint16
	}{
		{"TLS 1.0 RSA AES-128-CBC", tls.VersionTLS10, tls.TLS_RSA_WITH_AES_128_CBC_SHA},
		{"TLS 1.0 RSA AES-256-CBC", tls.VersionTLS10, tls.TLS_RSA_WITH_AES_256_CBC_SHA},
		{"TLS 1.0 RSA 3DES", tls.VersionTLS10, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA},
		{"TLS 1.2 ECDHE still works", tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := &tls.Config{
				InsecureSkipVerify: true, // like web-socket-js: no certificate check
				MinVersion:         tc.version,
				MaxVersion:         tc.version,
				CipherSuites:       []uint16{tc.suite},
			}
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), client)
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			defer conn.Close()
			st := conn.ConnectionState()
			if st.Version != tc.version || st.CipherSuite != tc.suite {
				t.Fatalf("negotiated %s %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
			}
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(conn, "GET / HTTP/1.0\r\nHost: x\r\n\r\n")
			got, _ := io.ReadAll(conn)
			if !bytes.HasSuffix(got, []byte("legacy ok")) {
				t.Fatalf("response = %q", got)
			}
		})
	}
}

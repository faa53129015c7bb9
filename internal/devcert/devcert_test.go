package devcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestGenerateFollowsBrowserRules(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c, err := Generate(now)
	if err != nil {
		t.Fatal(err)
	}
	leaf := c.TLS.Leaf
	if k, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Fatalf("key = %T, want ECDSA P-256", leaf.PublicKey)
	}
	if v := leaf.NotAfter.Sub(leaf.NotBefore); v > MaxValidity || v > 13*24*time.Hour+time.Hour {
		t.Fatalf("validity %s, want <= 13d1h (< 14d)", v)
	}
	if !leaf.NotBefore.Before(now) || !leaf.NotAfter.After(now) {
		t.Fatalf("not valid now: %s..%s", leaf.NotBefore, leaf.NotAfter)
	}
	if err := leaf.VerifyHostname("localhost"); err != nil {
		t.Error(err)
	}
	for _, ip := range []string{"127.0.0.1", "::1"} {
		if err := leaf.VerifyHostname(ip); err != nil {
			t.Error(err)
		}
	}
	sum := sha256.Sum256(c.TLS.Certificate[0])
	if c.SHA256 != sum || c.Hex() != hex.EncodeToString(sum[:]) || c.Base64() != base64.StdEncoding.EncodeToString(sum[:]) {
		t.Fatalf("pin mismatch: %s %s", c.Hex(), c.Base64())
	}
	if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("ext key usage = %v", leaf.ExtKeyUsage)
	}
}

func TestGenerateHosts(t *testing.T) {
	c, err := Generate(time.Now(), "chat.test", "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.TLS.Leaf.VerifyHostname("chat.test"); err != nil {
		t.Error(err)
	}
	if err := c.TLS.Leaf.VerifyHostname("10.0.0.1"); err != nil {
		t.Error(err)
	}
	if err := c.TLS.Leaf.VerifyHostname("localhost"); err == nil {
		t.Error("localhost accepted")
	}
}

func TestDevRenewsBeforeExpiry(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s, err := Dev(clock)
	if err != nil {
		t.Fatal(err)
	}
	first := s.Current()
	if got := s.Current(); got != first {
		t.Fatal("renewed a fresh certificate")
	}
	mu.Lock()
	now = now.Add(12*24*time.Hour + time.Minute) // less than a day left
	mu.Unlock()
	second := s.Current()
	if second == first || second.SHA256 == first.SHA256 {
		t.Fatal("not renewed with a day left")
	}
	if !second.NotAfter.After(first.NotAfter) {
		t.Fatalf("renewed NotAfter %s <= %s", second.NotAfter, first.NotAfter)
	}
	if s.Info().SHA256 != second.Hex() {
		t.Fatal("info does not follow renewal")
	}
}

// TestHandshakePinnedAndRootCAs dials a TLS server using the dev source
// with both client styles: the pinned hash and the cert as a root.
func TestHandshakePinnedAndRootCAs(t *testing.T) {
	s, err := Dev(nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", s.TLSConfig("rtgate/1"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	})
	defer wg.Wait()
	defer ln.Close()

	pinned := PinnedClientConfig(s.Current().SHA256)
	pinned.NextProtos = []string{"rtgate/1"}
	roots := &tls.Config{RootCAs: s.Current().RootCAs(), ServerName: "127.0.0.1", NextProtos: []string{"rtgate/1"}}
	wrong := PinnedClientConfig([32]byte{1})
	tests := []struct {
		name string
		cfg  *tls.Config
		ok   bool
	}{
		{"pinned hash", pinned, true},
		{"root CAs", roots, true},
		{"wrong pin", wrong, false},
		{"system roots", &tls.Config{ServerName: "127.0.0.1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), tt.cfg)
			if err == nil {
				c.Close()
			}
			if (err == nil) != tt.ok {
				t.Fatalf("dial err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestFilesAndReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	write := func() *Cert {
		c, err := Generate(time.Now(), "files.test")
		if err != nil {
			t.Fatal(err)
		}
		key, err := x509.MarshalECPrivateKey(c.TLS.PrivateKey.(*ecdsa.PrivateKey))
		if err != nil {
			t.Fatal(err)
		}
		must(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.TLS.Certificate[0]}), 0o600))
		must(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: key}), 0o600))
		return c
	}
	a := write()
	s, err := Files(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if s.Dev() || s.Current().SHA256 != a.SHA256 {
		t.Fatal("files source does not serve the file's certificate")
	}
	b := write()
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if s.Current().SHA256 != b.SHA256 {
		t.Fatal("reload kept the old certificate")
	}
	must(t, os.WriteFile(certFile, []byte("garbage"), 0o600))
	if err := s.Reload(); err == nil {
		t.Fatal("reload of garbage succeeded")
	}
	if s.Current().SHA256 != b.SHA256 {
		t.Fatal("failed reload replaced the certificate")
	}
	if _, err := Files(filepath.Join(dir, "missing.pem"), keyFile); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestCertInfoHandler(t *testing.T) {
	s, err := Dev(nil)
	if err != nil {
		t.Fatal(err)
	}
	h := s.CertInfoHandler(nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/certinfo", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d, headers %v", rec.Code, rec.Header())
	}
	var info CertInfo
	if err := json.Unmarshal(rec.Body.Bytes(), &info); err != nil {
		t.Fatal(err)
	}
	c := s.Current()
	if info.SHA256 != c.Hex() || info.SHA256Base64 != c.Base64() || !info.Dev || info.NotAfter == "" {
		t.Fatalf("info = %+v", info)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/certinfo", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST status %d", rec.Code)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

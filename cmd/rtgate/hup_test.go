package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rtgate/rtgate/internal/devcert"
)

// writeCert writes a new certificate's PEM files and returns its pin.
func writeCert(t *testing.T, certFile, keyFile string) string {
	t.Helper()
	c, err := devcert.Generate(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.MarshalPKCS8PrivateKey(c.TLS.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.TLS.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600); err != nil {
		t.Fatal(err)
	}
	return c.Hex()
}

// TestSIGHUPReloadsCertificate: after the certificate files are renewed,
// SIGHUP makes the server use the new certificate; a broken renewal keeps
// the old one, and the server keeps running.
func TestSIGHUPReloadsCertificate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeCert(t, certFile, keyFile)
	p := startBinary(t, filepath.Join(dir, "data"), "--tls-cert", certFile, "--tls-key", keyFile)
	pin := func() string {
		_, _, body := httpGet(t, "http://"+p.addr+"/certinfo")
		var info struct{ SHA256 string }
		if err := json.Unmarshal([]byte(body), &info); err != nil {
			t.Fatalf("/certinfo: %s", body)
		}
		return info.SHA256
	}
	waitPin := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); pin() != want; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("certificate %s, want %s; output:\n%s", pin(), want, p.out)
			}
		}
	}
	waitPin(first)
	second := writeCert(t, certFile, keyFile)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitPin(second)

	os.WriteFile(certFile, []byte("not a certificate"), 0o600)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(p.out.String(), "certificate not reloaded"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no log of the failed reload; output:\n%s", p.out)
		}
	}
	if got := pin(); got != second {
		t.Fatalf("after a broken renewal the certificate is %s, want %s still", got, second)
	}
}

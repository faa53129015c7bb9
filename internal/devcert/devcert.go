// Package devcert provides the TLS certificates of rtgate's TLS listeners
// (raw QUIC, WebTransport, WSS): a production certificate loaded from PEM
// files and reloadable in place, or, in dev mode, an ephemeral self-signed
// certificate that browsers accept through WebTransport's
// serverCertificateHashes.
//
// The dev certificate follows the W3C serverCertificateHashes rules (see
// reference/transports.md §5 item 12): an ECDSA P-256 key, a total validity
// (NotBefore to NotAfter, backdating included) of at most 14 days, and a
// page pins the SHA-256 of the leaf certificate's DER. Dev certificates are
// valid from an hour ago for 13 days and are replaced one day before they
// expire; the page learns the current hash from CertInfoHandler
// (GET /certinfo).
//
// Concurrency: a Source is safe for concurrent use: handshakes read the
// current certificate through an atomic pointer; Reload and renewal swap
// it.
//
// Imports: the standard library only.
package devcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Dev certificate lifetime. MaxValidity is the browsers' limit for
// serverCertificateHashes; the certificate stays under it with a margin.
const (
	MaxValidity  = 14 * 24 * time.Hour // the W3C limit, NotBefore to NotAfter
	devBackdate  = time.Hour           // NotBefore = now - devBackdate (clock skew)
	devLifetime  = 13 * 24 * time.Hour // NotAfter = now + devLifetime
	devRenewLeft = 24 * time.Hour      // renew when less than this is left
)

// Errors of the package.
var (
	// ErrNoCertificate reports PEM files without a usable certificate.
	ErrNoCertificate = errors.New("devcert: no certificate")
)

// Cert is one certificate with its pin.
type Cert struct {
	TLS      tls.Certificate   // chain and key, Leaf set
	SHA256   [sha256.Size]byte // sha256 of the leaf certificate's DER
	NotAfter time.Time
}

// Hex returns the pin in lower-case hex.
func (c *Cert) Hex() string { return hex.EncodeToString(c.SHA256[:]) }

// Base64 returns the pin in standard base64, as pages pass it to
// serverCertificateHashes (after decoding to bytes).
func (c *Cert) Base64() string { return base64.StdEncoding.EncodeToString(c.SHA256[:]) }

func newCert(tc tls.Certificate) (*Cert, error) {
	if len(tc.Certificate) == 0 {
		return nil, ErrNoCertificate
	}
	if tc.Leaf == nil {
		leaf, err := x509.ParseCertificate(tc.Certificate[0])
		if err != nil {
			return nil, fmt.Errorf("devcert: parse leaf: %w", err)
		}
		tc.Leaf = leaf
	}
	return &Cert{TLS: tc, SHA256: sha256.Sum256(tc.Certificate[0]), NotAfter: tc.Leaf.NotAfter}, nil
}

// Generate returns a self-signed ECDSA P-256 certificate for the given DNS
// names and IP addresses (default: localhost, 127.0.0.1 and ::1), valid
// from now-1h to now+13d.
func Generate(now time.Time, hosts ...string) (*Cert, error) {
	if len(hosts) == 0 {
		hosts = []string{"localhost", "127.0.0.1", "::1"}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("devcert: key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("devcert: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "rtgate dev " + hosts[0], Organization: []string{"rtgate dev mode"}},
		NotBefore:             now.Add(-devBackdate),
		NotAfter:              now.Add(devLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("devcert: create: %w", err)
	}
	return newCert(tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key})
}

// Source hands out the current certificate to TLS handshakes. Make one with
// Dev or Files.
type Source struct {
	cur   atomic.Pointer[Cert]
	dev   bool
	hosts []string         // dev: names of renewed certificates; immutable
	now   func() time.Time // immutable

	mu                sync.Mutex // serializes Reload and renewals
	certFile, keyFile string     // production files; immutable
}

// Dev returns a source of ephemeral self-signed certificates for hosts
// (default localhost, 127.0.0.1, ::1), renewed a day before they expire.
// now may be nil (time.Now).
func Dev(now func() time.Time, hosts ...string) (*Source, error) {
	if now == nil {
		now = time.Now
	}
	c, err := Generate(now(), hosts...)
	if err != nil {
		return nil, err
	}
	s := &Source{dev: true, hosts: hosts, now: now}
	s.cur.Store(c)
	return s, nil
}

// Files returns a source serving the PEM certificate chain and key in
// certFile and keyFile. Call Reload (on SIGHUP, say) after the files were
// renewed; handshakes in flight keep the old certificate.
func Files(certFile, keyFile string) (*Source, error) {
	s := &Source{certFile: certFile, keyFile: keyFile, now: time.Now}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload re-reads the production files. A dev source regenerates its
// certificate (and so changes its hash).
func (s *Source) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dev {
		c, err := Generate(s.now(), s.hosts...)
		if err != nil {
			return err
		}
		s.cur.Store(c)
		return nil
	}
	tc, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return fmt.Errorf("devcert: load %s: %w", s.certFile, err)
	}
	c, err := newCert(tc)
	if err != nil {
		return err
	}
	s.cur.Store(c)
	return nil
}

// Dev reports whether s makes self-signed dev certificates.
func (s *Source) Dev() bool { return s.dev }

// Current returns the certificate handshakes use now. For a dev source it
// first renews a certificate with less than a day left.
func (s *Source) Current() *Cert {
	c := s.cur.Load()
	if s.dev && c.NotAfter.Sub(s.now()) < devRenewLeft {
		s.mu.Lock()
		if c = s.cur.Load(); c.NotAfter.Sub(s.now()) < devRenewLeft {
			if n, err := Generate(s.now(), s.hosts...); err == nil {
				s.cur.Store(n)
				c = n
			}
		}
		s.mu.Unlock()
	}
	return c
}

// TLSConfig returns a server config that takes its certificate from s and
// offers nextProtos for ALPN. It allows TLS 1.2 for WSS clients of the v1
// era; QUIC always negotiates TLS 1.3, and the QUIC listener sets its own
// NextProtos on a clone.
func (s *Source) TLSConfig(nextProtos ...string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: nextProtos,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return &s.Current().TLS, nil
		},
	}
}

package devcert

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// CertInfo is the body of GET /certinfo.
type CertInfo struct {
	// SHA256 is the lower-case hex sha256 of the leaf certificate's DER.
	SHA256 string `json:"sha256"`
	// SHA256Base64 is the same hash in standard base64, for
	// serverCertificateHashes: [{algorithm: "sha-256", value: bytes}].
	SHA256Base64 string `json:"sha256Base64"`
	// NotAfter is the certificate's expiry (RFC 3339); fetch again after.
	NotAfter string `json:"notAfter"`
	// Dev is true for a self-signed dev certificate.
	Dev bool `json:"dev"`
	// WebTransport and QUIC are where the certificate is served, when the
	// handler was given them: https://host:port/wt and quic://host:port.
	WebTransport string `json:"webtransport,omitempty"`
	QUIC         string `json:"quic,omitempty"`
}

// Endpoints returns, for a request, the WebTransport URL and the raw QUIC
// URL to publish with the certificate; empty strings are omitted.
type Endpoints func(r *http.Request) (webtransport, quic string)

// Info returns the CertInfo of the current certificate.
func (s *Source) Info() CertInfo {
	c := s.Current()
	return CertInfo{SHA256: c.Hex(), SHA256Base64: c.Base64(),
		NotAfter: c.NotAfter.UTC().Format(time.RFC3339), Dev: s.dev}
}

// CertInfoHandler answers GET (and HEAD) with the current certificate's
// CertInfo as JSON, readable cross-origin (the hash is public: it is in
// every handshake) and never cached, since a dev certificate is renewed.
// endpoints, when not nil, fills in where the certificate is served.
func (s *Source) CertInfoHandler(endpoints Endpoints) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		h.Set("Access-Control-Allow-Origin", "*")
		info := s.Info()
		if endpoints != nil {
			info.WebTransport, info.QUIC = endpoints(r)
		}
		_ = json.NewEncoder(w).Encode(info)
	})
}

// PinnedClientConfig returns a client config that accepts exactly the
// server certificate whose leaf DER hashes to pin, as a browser does with
// serverCertificateHashes: chain and name are not verified, the pin is.
// Go clients and tests dial dev servers with it; set NextProtos on it.
func PinnedClientConfig(pin [sha256.Size]byte) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // replaced by the pin check below
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return fmt.Errorf("devcert: server sent no certificate")
			}
			got := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if !bytes.Equal(got[:], pin[:]) {
				return fmt.Errorf("devcert: server certificate sha256 %x does not match the pin %x", got, pin)
			}
			return nil
		},
	}
}

// RootCAs returns a pool holding c's leaf, for clients that verify the
// chain normally (tls.Config.RootCAs) against a dev certificate.
func (c *Cert) RootCAs() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.TLS.Leaf)
	return p
}

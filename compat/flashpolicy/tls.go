package flashpolicy

import "crypto/tls"

// LegacyCipherSuites are the TLS 1.0-1.2 suites of LegacyTLSConfig: the RSA
// key exchange suites Flash's bundled TLS (as3crypto/hurlant, TLS 1.0 only)
// offers, then ECDHE suites for every other client of the listener. RC4 is
// left out: hurlant offers AES-CBC and 3DES too.
var LegacyCipherSuites = []uint16{
	tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	tls.TLS_RSA_WITH_AES_256_CBC_SHA,
	tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
}

// LegacyTLSConfig returns a server tls.Config for a listener dedicated to
// the v1 Flash fallback's wss:// connections: TLS 1.0 allowed, and the RSA
// key exchange and 3DES suites that Go leaves out by default since 1.22 and
// 1.23 (no GODEBUG needed: listing them explicitly enables them). cert must
// hold an RSA key: RSA key exchange cannot use an ECDSA certificate.
//
// This weakens TLS for everyone on that listener: serve it on its own port
// (off by default), never on the main HTTPS port. Flash clients do not
// check the certificate anyway (web-socket-js disables the check).
func LegacyTLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS10,
		CipherSuites: LegacyCipherSuites,
		NextProtos:   []string{"http/1.1"},
	}
}

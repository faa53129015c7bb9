package wire

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/webtransport-go"
)

func (o *Options) quicConfig() *quic.Config {
	return &quic.Config{
		EnableDatagrams:                  !o.NoDatagrams,
		EnableStreamResetPartialDelivery: true,
		KeepAlivePeriod:                  o.KeepAlivePeriod,
		MaxIdleTimeout:                   o.MaxIdleTimeout,
	}
}

// dialQUIC dials raw QUIC (ALPN rtgate/1) and opens the one bidirectional
// stream. The server sees the stream with the first Send.
func dialQUIC(ctx context.Context, u *url.URL, o *Options) (Conn, error) {
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "443")
	}
	tc, err := o.tlsConfig(u.Hostname(), []string{ALPN})
	if err != nil {
		return nil, err
	}
	var qc *quic.Conn
	if tr := o.QUICTransport; tr != nil {
		var addr *net.UDPAddr
		if addr, err = net.ResolveUDPAddr("udp", host); err == nil {
			qc, err = tr.Dial(ctx, addr, tc, o.quicConfig())
		}
	} else {
		qc, err = quic.DialAddr(ctx, host, tc, o.quicConfig())
	}
	if err != nil {
		return nil, fmt.Errorf("wire: quic dial %s: %w", host, err)
	}
	str, err := qc.OpenStreamSync(ctx)
	if err != nil {
		qc.CloseWithError(0, "")
		return nil, fmt.Errorf("wire: quic open stream: %w", err)
	}
	recv := qc.ReceiveDatagram
	if o.NoDatagrams {
		recv = nil
	}
	return newStreamConn("quic", str, o, recv, qc.Context().Done(),
		func(code uint64, reason string) error {
			return qc.CloseWithError(quic.ApplicationErrorCode(code), reason)
		}, quicErr), nil
}

// dialWT opens a WebTransport session at u (https) on a new QUIC
// connection, and its one bidirectional stream.
func dialWT(ctx context.Context, u *url.URL, o *Options) (Conn, error) {
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), "443")
	}
	tc, err := o.tlsConfig(u.Hostname(), nil)
	if err != nil {
		return nil, err
	}
	qcfg := o.quicConfig()
	qcfg.EnableDatagrams = true // HTTP/3 datagrams are part of WebTransport; see NoDatagrams
	d := &webtransport.Transport{TLSClientConfig: tc, QUICConfig: qcfg}
	if tr := o.QUICTransport; tr != nil {
		d.DialAddr = func(ctx context.Context, addr string, tc *tls.Config, qc *quic.Config) (*quic.Conn, error) {
			ua, err := net.ResolveUDPAddr("udp", addr)
			if err != nil {
				return nil, err
			}
			return tr.DialEarly(ctx, ua, tc, qc)
		}
	}
	resp, sess, err := d.Dial(ctx, u.String(), o.Header)
	d.Close() // only cancels waiting for settings; the session lives on
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("wire: webtransport dial %s: %w (HTTP %d)", u.Redacted(), err, resp.StatusCode)
		}
		return nil, fmt.Errorf("wire: webtransport dial %s: %w", u.Redacted(), err)
	}
	str, err := sess.OpenStreamSync(ctx)
	if err != nil {
		sess.CloseWithError(0, "")
		return nil, fmt.Errorf("wire: webtransport open stream: %w", err)
	}
	return newStreamConn("webtransport", str, o, sess.ReceiveDatagram, sess.Context().Done(),
		func(code uint64, reason string) error {
			return sess.CloseWithError(webtransport.SessionErrorCode(code), reason)
		}, wtErr), nil
}

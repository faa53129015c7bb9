package conformance

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/webtransport-go"

	"github.com/rtgate/rtgate/client/wire"
	"github.com/rtgate/rtgate/protocol"
)

// The raw connections exist because wire.Conn writes only what the codecs
// produce: the limit scenarios need malformed bytes, a bare oversize length
// prefix and an abrupt drop. Everything else goes through wire.Dial.

// writeTimeout bounds every raw write.
const writeTimeout = 5 * time.Second

// rawWS is a WebSocket connection on gorilla directly.
type rawWS struct {
	ws     *websocket.Conn
	binary bool // msgpack dialect

	wmu  sync.Mutex // serialises writes
	once sync.Once
}

func dialRawWS(ctx context.Context, rawURL string, codec wire.Codec, o *wire.Options) (RawConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	d := websocket.Dialer{}
	if u.Scheme == "wss" {
		if d.TLSClientConfig, err = tlsConfig(u.Hostname(), nil, o); err != nil {
			return nil, err
		}
	}
	switch codec {
	case wire.CodecJSON:
		d.Subprotocols = []string{wire.SubprotocolJSON}
	case wire.CodecMsgpack:
		d.Subprotocols = []string{wire.SubprotocolMsgpack}
	}
	ws, resp, err := d.DialContext(ctx, rawURL, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("websocket dial %s: %w", rawURL, err)
	}
	if len(d.Subprotocols) > 0 && ws.Subprotocol() != d.Subprotocols[0] {
		ws.Close()
		return nil, fmt.Errorf("server did not accept subprotocol %s (got %q)", d.Subprotocols[0], ws.Subprotocol())
	}
	ws.SetReadLimit(protocol.DefaultMaxFrameBytes)
	return &rawWS{ws: ws, binary: codec == wire.CodecMsgpack}, nil
}

func (c *rawWS) Send(cmd *protocol.Command) error {
	if c.binary {
		return c.SendRaw(protocol.AppendMsgpack(nil, cmd))
	}
	return c.SendRaw(protocol.AppendJSON(nil, cmd))
}

func (c *rawWS) SendRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	mt := websocket.TextMessage
	if c.binary {
		mt = websocket.BinaryMessage
	}
	c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	return c.ws.WriteMessage(mt, b)
}

func (c *rawWS) Recv() (*protocol.Command, error) {
	mt, b, err := c.ws.ReadMessage()
	if err != nil {
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return nil, &protocol.CloseError{Code: protocol.CloseCode(ce.Code), Reason: ce.Text}
		}
		return nil, err
	}
	cmd := new(protocol.Command)
	if mt == websocket.BinaryMessage {
		err = protocol.DecodeMsgpack(b, cmd)
	} else {
		err = protocol.DecodeJSON(b, cmd)
	}
	if err != nil {
		return nil, err
	}
	return cmd, nil
}

func (c *rawWS) Close() error {
	c.once.Do(func() {
		c.wmu.Lock()
		c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
			time.Now().Add(time.Second))
		c.wmu.Unlock()
		c.ws.Close()
	})
	return nil
}

func (c *rawWS) Abort() {
	c.once.Do(func() { c.ws.NetConn().Close() })
}

// rawStream is a QUIC or WebTransport connection: one bidirectional stream
// of length-prefixed msgpack frames. Datagrams are not read.
type rawStream struct {
	str interface {
		io.ReadWriter
		SetWriteDeadline(time.Time) error
		Close() error
	}
	fr     *protocol.FrameReader // owned by the Recv caller
	done   <-chan struct{}       // the connection ended
	cause  func() error          // why, once done
	mapErr func(error) error     // a transport error to a *protocol.CloseError when it carries a code
	close  func(code uint64)     // closes the connection at once

	wmu  sync.Mutex
	once sync.Once
}

func dialRawQUIC(ctx context.Context, rawURL string, o *wire.Options) (RawConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "443")
	}
	tc, err := tlsConfig(u.Hostname(), []string{wire.ALPN}, o)
	if err != nil {
		return nil, err
	}
	qc, err := quic.DialAddr(ctx, host, tc, &quic.Config{MaxIdleTimeout: 30 * time.Second, KeepAlivePeriod: 10 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("quic dial %s: %w", host, err)
	}
	str, err := qc.OpenStreamSync(ctx)
	if err != nil {
		qc.CloseWithError(0, "")
		return nil, fmt.Errorf("quic open stream: %w", err)
	}
	return &rawStream{
		str:   str,
		fr:    protocol.NewFrameReader(str, protocol.DefaultMaxFrameBytes),
		done:  qc.Context().Done(),
		cause: func() error { return context.Cause(qc.Context()) },
		mapErr: func(err error) error {
			var ae *quic.ApplicationError
			if errors.As(err, &ae) && ae.Remote {
				return &protocol.CloseError{Code: protocol.CloseCode(ae.ErrorCode), Reason: ae.ErrorMessage}
			}
			return err
		},
		close: func(code uint64) { qc.CloseWithError(quic.ApplicationErrorCode(code), "") },
	}, nil
}

func dialRawWT(ctx context.Context, rawURL string, o *wire.Options) (RawConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	u.Scheme = "https"
	tc, err := tlsConfig(u.Hostname(), nil, o)
	if err != nil {
		return nil, err
	}
	d := &webtransport.Transport{TLSClientConfig: tc, QUICConfig: &quic.Config{
		MaxIdleTimeout: 30 * time.Second, KeepAlivePeriod: 10 * time.Second,
		EnableDatagrams: true, EnableStreamResetPartialDelivery: true,
	}}
	_, sess, err := d.Dial(ctx, u.String(), nil)
	d.Close() // only stops waiting for settings; the session lives on
	if err != nil {
		return nil, fmt.Errorf("webtransport dial %s: %w", u, err)
	}
	str, err := sess.OpenStreamSync(ctx)
	if err != nil {
		sess.CloseWithError(0, "")
		return nil, fmt.Errorf("webtransport open stream: %w", err)
	}
	return &rawStream{
		str:  str,
		fr:   protocol.NewFrameReader(str, protocol.DefaultMaxFrameBytes),
		done: sess.Context().Done(),
		cause: func() error {
			// The session's context says only "canceled"; a call on the
			// ended session returns the *webtransport.SessionError.
			_, err := sess.AcceptStream(context.Background())
			return err
		},
		mapErr: func(err error) error {
			var se *webtransport.SessionError
			if errors.As(err, &se) && se.Remote {
				return &protocol.CloseError{Code: protocol.CloseCode(se.ErrorCode), Reason: se.Message}
			}
			var ae *quic.ApplicationError
			if errors.As(err, &ae) && ae.Remote && ae.ErrorCode != 0 {
				return &protocol.CloseError{Code: protocol.CloseCode(ae.ErrorCode), Reason: ae.ErrorMessage}
			}
			return err
		},
		close: func(code uint64) { sess.CloseWithError(webtransport.SessionErrorCode(code), "") },
	}, nil
}

func (c *rawStream) Send(cmd *protocol.Command) error {
	return c.SendRaw(protocol.AppendMsgpackFrame(nil, cmd))
}

func (c *rawStream) SendRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.str.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := c.str.Write(b)
	return err
}

func (c *rawStream) Recv() (*protocol.Command, error) {
	body, err := c.fr.ReadFrame()
	if err != nil {
		// The server ends its stream, waits for ours to end, then closes
		// the connection with the code: end ours and wait for the code.
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			c.wmu.Lock()
			c.str.SetWriteDeadline(time.Now().Add(time.Second))
			c.str.Close()
			c.wmu.Unlock()
			t := time.NewTimer(5 * time.Second)
			defer t.Stop()
			select {
			case <-c.done:
				return nil, c.mapErr(c.cause())
			case <-t.C:
				return nil, fmt.Errorf("stream ended without a connection close: %w", err)
			}
		}
		// When the session has ended, the stream may fail with what came
		// after its close (WebTransport clients close their QUIC
		// connection as soon as the session ends): the close says why.
		select {
		case <-c.done:
			if cause := c.cause(); cause != nil {
				return nil, c.mapErr(cause)
			}
		default:
		}
		return nil, c.mapErr(err)
	}
	cmd := new(protocol.Command)
	if err := protocol.DecodeMsgpack(body, cmd); err != nil {
		return nil, err
	}
	return cmd, nil
}

func (c *rawStream) Close() error {
	c.once.Do(func() {
		c.wmu.Lock()
		c.str.SetWriteDeadline(time.Now().Add(time.Second))
		c.str.Close()
		c.wmu.Unlock()
		t := time.NewTimer(time.Second)
		select {
		case <-c.done:
		case <-t.C:
		}
		t.Stop()
		c.close(uint64(protocol.CloseNormal))
	})
	return nil
}

func (c *rawStream) Abort() {
	c.once.Do(func() { c.close(0x1006) })
}

// tlsConfig is the client TLS configuration of the raw connections, from
// the same options as wire's.
func tlsConfig(host string, alpn []string, o *wire.Options) (*tls.Config, error) {
	c := &tls.Config{ServerName: host, NextProtos: alpn, RootCAs: o.RootCAs,
		InsecureSkipVerify: o.InsecureSkipVerify}
	if o.PinSHA256 != "" {
		want, err := hex.DecodeString(o.PinSHA256)
		if err != nil || len(want) != sha256.Size {
			return nil, fmt.Errorf("pin %q is not a hex SHA-256", o.PinSHA256)
		}
		c.InsecureSkipVerify = true
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("server sent no certificate")
			}
			if got := sha256.Sum256(cs.PeerCertificates[0].Raw); string(got[:]) != string(want) {
				return fmt.Errorf("server certificate sha256 %x is not the pinned one", got)
			}
			return nil
		}
	}
	return c, nil
}

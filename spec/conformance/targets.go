package conformance

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/rtgate/rtgate/client/wire"
)

// Endpoints says where the server under test listens. Empty fields leave
// out the targets that need them.
type Endpoints struct {
	// WebSocket is the WebSocket URL: ws://host:port/ws (or wss://).
	WebSocket string
	// LongPoll is the long-poll prefix: http://host:port/lp/.
	LongPoll string
	// LongPollOthers, when set, are the long-poll prefixes of the other
	// nodes of a cluster that serves long-poll without sticky sessions: a
	// session is opened at LongPoll, and its later requests (send, poll,
	// close) go to LongPoll and these in turn, as behind a round-robin
	// proxy; the nodes forward them to the session's node.
	LongPollOthers []string
	// QUIC is the raw QUIC address: quic://host:port.
	QUIC string
	// WebTransport is the WebTransport URL: https://host:port/wt.
	WebTransport string

	// PinSHA256 is the hex SHA-256 of the server's certificate (wss://,
	// QUIC, WebTransport): the dev server publishes it at /certinfo.
	// Empty means the certificate is verified against the system roots,
	// unless InsecureSkipVerify.
	PinSHA256 string
	// InsecureSkipVerify accepts any certificate. For tests only.
	InsecureSkipVerify bool
	// HTTPClient makes the long-poll requests. Nil means a client without
	// a global timeout (polls are held up to the server's ping interval).
	HTTPClient *http.Client
}

// TargetNames lists every target Targets knows, in the order it returns
// them.
var TargetNames = []string{"ws-legacy", "ws-json", "ws-msgpack", "quic", "webtransport", "longpoll", "longpoll-json"}

// Targets returns the targets of ep named in names (nil: all whose
// endpoint is set). Asking for a target whose endpoint is empty, or an
// unknown name, is an error.
func Targets(ep Endpoints, names []string) ([]Target, error) {
	opts := wire.Options{PinSHA256: ep.PinSHA256, InsecureSkipVerify: ep.InsecureSkipVerify}
	hc := ep.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	all := map[string]struct {
		endpoint string
		dialer   func() Dialer
	}{
		"ws-legacy":     {ep.WebSocket, func() Dialer { return wsDialer(ep.WebSocket, wire.CodecLegacy, opts) }},
		"ws-json":       {ep.WebSocket, func() Dialer { return wsDialer(ep.WebSocket, wire.CodecJSON, opts) }},
		"ws-msgpack":    {ep.WebSocket, func() Dialer { return wsDialer(ep.WebSocket, wire.CodecMsgpack, opts) }},
		"quic":          {ep.QUIC, func() Dialer { return streamDialer(ep.QUIC, false, opts) }},
		"webtransport":  {ep.WebTransport, func() Dialer { return streamDialer(ep.WebTransport, true, opts) }},
		"longpoll":      {ep.LongPoll, func() Dialer { return longPollDialer(ep.LongPoll, ep.LongPollOthers, false, hc) }},
		"longpoll-json": {ep.LongPoll, func() Dialer { return longPollDialer(ep.LongPoll, ep.LongPollOthers, true, hc) }},
	}
	explicit := names != nil
	if !explicit {
		names = TargetNames
	}
	var out []Target
	for _, n := range names {
		n = strings.TrimSpace(n)
		e, ok := all[n]
		if !ok {
			return nil, fmt.Errorf("conformance: unknown target %q (known: %s)", n, strings.Join(TargetNames, ", "))
		}
		if e.endpoint == "" {
			if explicit {
				return nil, fmt.Errorf("conformance: target %s needs an endpoint the server did not give", n)
			}
			continue
		}
		out = append(out, Target{Name: n, Dialer: e.dialer()})
	}
	return out, nil
}

// SpreadTargets joins the targets of several servers of one cluster
// (perServer[i] is what Targets returned for server i) into targets whose
// scenarios spread their connections over the servers (Target.Spread):
// one per target name that every server has, in the order of the first
// server's list. Names some servers lack are returned as the second
// result. With one server it returns that server's targets unchanged.
func SpreadTargets(perServer [][]Target) (spread []Target, partial []string) {
	if len(perServer) == 0 {
		return nil, nil
	}
	if len(perServer) == 1 {
		return perServer[0], nil
	}
	byName := make([]map[string]Dialer, len(perServer))
	for i, ts := range perServer {
		byName[i] = make(map[string]Dialer, len(ts))
		for _, t := range ts {
			byName[i][t.Name] = t.Dialer
		}
	}
	seen := map[string]bool{}
	for _, ts := range perServer {
		for _, t := range ts {
			if seen[t.Name] {
				continue
			}
			seen[t.Name] = true
			ds := make([]Dialer, 0, len(perServer))
			for _, m := range byName {
				if d, ok := m[t.Name]; ok {
					ds = append(ds, d)
				}
			}
			if len(ds) < len(perServer) {
				partial = append(partial, t.Name)
				continue
			}
			spread = append(spread, Target{Name: t.Name, Dialer: ds[0], Spread: ds})
		}
	}
	return spread, partial
}

// wsDialer dials WebSocket connections with the SDK's dialer, and raw ones
// with gorilla directly.
func wsDialer(url string, codec wire.Codec, opts wire.Options) Dialer {
	opts.Codec = codec
	framing := FramingJSON
	if codec == wire.CodecMsgpack {
		framing = FramingMsgpack
	}
	return Dialer{
		Modern:  codec != wire.CodecLegacy,
		Framing: framing,
		Dial: func(ctx context.Context) (Conn, error) {
			return wire.Dial(ctx, url, &opts)
		},
		DialRaw: func(ctx context.Context) (RawConn, error) {
			return dialRawWS(ctx, url, codec, &opts)
		},
	}
}

// streamDialer dials raw QUIC (wt false) or WebTransport.
func streamDialer(url string, wt bool, opts wire.Options) Dialer {
	return Dialer{
		Modern:  true,
		Framing: FramingStream,
		Dial: func(ctx context.Context) (Conn, error) {
			return wire.Dial(ctx, url, &opts)
		},
		DialRaw: func(ctx context.Context) (RawConn, error) {
			if wt {
				return dialRawWT(ctx, url, &opts)
			}
			return dialRawQUIC(ctx, url, &opts)
		},
	}
}

// longPollDialer opens long-poll sessions in the v1 dialect or, when
// modern, rtgate.json.1; others are more nodes for the sessions' requests
// (Endpoints.LongPollOthers).
func longPollDialer(base string, others []string, modern bool, hc *http.Client) Dialer {
	slash := func(s string) string {
		if !strings.HasSuffix(s, "/") {
			s += "/"
		}
		return s
	}
	base = slash(base)
	var more []string
	for _, o := range others {
		more = append(more, slash(o))
	}
	dial := func(ctx context.Context) (RawConn, error) {
		c, err := dialLongPoll(ctx, base, more, modern, hc)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	return Dialer{
		Modern:  modern,
		Framing: FramingJSON,
		Dial: func(ctx context.Context) (Conn, error) {
			return dial(ctx)
		},
		DialRaw: dial,
	}
}

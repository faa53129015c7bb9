package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rtgate/rtgate/client/wire"
	"github.com/rtgate/rtgate/protocol"
)

var quicLine = regexp.MustCompile(`rtgate QUIC on (\S+) `)

// TestQUICAndWebTransportServed: the default wiring serves raw QUIC and
// WebTransport on one UDP port with the dev certificate published at
// /certinfo, and a message crosses from a QUIC peer to a WebTransport one.
func TestQUICAndWebTransportServed(t *testing.T) {
	s := start(t, t.TempDir())
	m := quicLine.FindStringSubmatch(s.out.String())
	if m == nil {
		t.Fatalf("no QUIC line in:\n%s", s.out)
	}
	udp := m[1]
	code, _, body := httpGet(t, "http://"+s.addr+"/certinfo")
	var info struct{ SHA256, WebTransport, QUIC string }
	if code != 200 || json.Unmarshal([]byte(body), &info) != nil || len(info.SHA256) != 64 ||
		info.WebTransport != "https://"+udp+"/wt" || info.QUIC != "quic://"+udp {
		t.Fatalf("/certinfo: %d %s", code, body)
	}
	opts := &wire.Options{PinSHA256: info.SHA256}
	ctx := t.Context()
	bob, err := wire.Dial(ctx, "https://"+udp+"/wt", opts)
	if err != nil {
		t.Fatalf("webtransport: %v", err)
	}
	defer bob.Close()
	alice, err := wire.Dial(ctx, "quic://"+udp, opts)
	if err != nil {
		t.Fatalf("quic: %v", err)
	}
	defer alice.Close()

	recv := func(c wire.Conn, k protocol.Kind) *protocol.Command {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			f, err := c.Recv()
			if err != nil {
				t.Fatalf("recv %v: %v", k, err)
			}
			if f.Kind == k {
				return f
			}
		}
		t.Fatalf("no %v", k)
		return nil
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(bob.Send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: "dev", PeerID: "bob", I: 1}))
	recv(bob, protocol.KindSessionOpened)
	must(alice.Send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: "dev", PeerID: "alice", SessionPeerIDs: []string{"bob"}, I: 1}))
	if o := recv(alice, protocol.KindSessionOpened); len(o.OnlineSessionPeerIDs) != 1 {
		t.Fatalf("opened = %+v", *o)
	}
	must(alice.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: "alice", ToPeerIDs: []string{"bob"}, Msg: "over quic", I: 2}))
	ack := recv(alice, protocol.KindAck)
	in := recv(bob, protocol.KindDirect)
	if in.Msg != "over quic" || in.ID != ack.UID || in.FromPeerID != "alice" {
		t.Fatalf("got %+v (ack %+v)", *in, *ack)
	}
}

// TestServesSDKAndDemo: the JS SDK bundle and the demo page are served.
func TestServesSDKAndDemo(t *testing.T) {
	s := start(t, t.TempDir())
	for path, want := range map[string]string{
		"/sdk/rtgate.min.js": "AVChatClient",
		"/sdk/rtgate.mjs":    "export",
		"/demo/":             "<html",
	} {
		code, _, body := httpGet(t, "http://"+s.addr+path)
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d, %d bytes, want %q in it", path, code, len(body), want)
		}
	}
}

// TestQUICLimitsFromConfigFile: quicLimits in the config file reach the
// QUIC listener (its start-up log line gives the effective values), and a
// maximum window below the default initial one is accepted.
func TestQUICLimitsFromConfigFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rtgate.json")
	if err := os.WriteFile(file, []byte(`{"quicLimits":{"idleTimeout":"7s",
		"maxStreamReceiveWindow":32768,"maxConnectionReceiveWindow":65536,"maxIncomingStreams":4}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := start(t, t.TempDir(), "--config", file)
	out := s.out.String()
	for _, want := range []string{"idle_timeout=7s", "max_stream_window=32768", "max_connection_window=65536", "max_streams=4"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %s in:\n%s", want, out)
		}
	}
	m := quicLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no QUIC line in:\n%s", out)
	}
	c, err := wire.Dial(t.Context(), "quic://"+m[1], &wire.Options{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("dial with small windows: %v", err)
	}
	c.Close()
}

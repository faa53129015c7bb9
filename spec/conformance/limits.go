package conformance

import (
	"strconv"
	"strings"

	"github.com/rtgate/rtgate/protocol"
)

// text returns a message of exactly n bytes of UTF-8 mixing 4-byte, 2-byte,
// escaped and plain characters, so that a limit counted in characters or
// in encoded JSON would show.
func text(n int) string {
	var b strings.Builder
	for b.Len()+4 <= n/4 {
		b.WriteString("😀")
	}
	for b.Len()+2 <= n/2 {
		b.WriteString("é")
	}
	for b.Len() < n*3/4 {
		b.WriteString(`"\`)
	}
	for b.Len() < n {
		b.WriteByte('x')
	}
	return b.String()[:n]
}

// msg5120: a message of exactly 5120 bytes is acked and delivered intact.
func msg5120(t *T) {
	alice, bob, a, b := pair(t)
	m := text(protocol.MaxMessageBytes)
	if len(m) != 5120 {
		t.Fatalf("test bug: message of %d bytes", len(m))
	}
	ack := a.Direct(alice, m, bob)
	f := b.ExpectDirect(bob, alice, m)
	sendAck(b, &protocol.Command{Kind: protocol.KindAck, PeerID: bob, IDs: []string{f.ID, ack.UID}, HasIDs: true})
}

// msg5121: one byte more is refused (legacy: close 4109; modern: error
// 4109) and nothing is delivered.
func msg5121(t *T) {
	alice, bob, a, b := pair(t)
	i := a.I()
	a.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: alice, Msg: text(protocol.MaxMessageBytes) + "x",
		ToPeerIDs: []string{bob}, I: i})
	a.ExpectFailure(protocol.ErrCodeTooLong, i)
	b.Barrier("a message over 5120 bytes is not delivered")
}

// beforeOpen: a command for a peer without a session on the connection is
// refused with 4105 (legacy: close; modern: error).
func beforeOpen(t *T) {
	c := t.Dial("alice")
	i := c.I()
	c.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: t.Peer("alice"), Msg: "too early",
		ToPeerIDs: []string{t.Peer("bob")}, I: i})
	c.ExpectFailure(protocol.ErrCodeNoSession, i)
}

// badPeerID: a peer id over 64 bytes closes with 4103.
func badPeerID(t *T) {
	c := t.DialRaw("alice") // the close code: see T.DialRaw
	c.Send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: t.App(),
		PeerID: t.Peer("alice") + strings.Repeat("x", protocol.MaxPeerIDLen), I: 1})
	c.ExpectClose(protocol.CloseMalformedPeerID)
}

// peerIDColon: a ':' in a peer id closes with 4103, in `peerId` and in
// the watch list, in every dialect (the v1 signature strings and
// conversation ids join peer ids with ':').
func peerIDColon(t *T) {
	for _, open := range []*protocol.Command{
		{Kind: protocol.KindSessionOpen, AppID: t.App(), PeerID: t.Peer("cp") + ":x", I: 1},
		{Kind: protocol.KindSessionOpen, AppID: t.App(), PeerID: t.Peer("cp"), SessionPeerIDs: []string{t.Peer("cq") + ":cr"}, I: 1},
	} {
		c := t.DialRaw("cp")
		c.Send(open)
		c.ExpectClose(protocol.CloseMalformedPeerID)
	}
}

// peerIDNotUTF8: a peer id that is not UTF-8 closes with 4103 instead of
// being repaired (two such ids would become one): a msgpack string with a
// stray byte, or a JSON lone surrogate escape (JSON text frames must be
// UTF-8 themselves).
func peerIDNotUTF8(t *T) {
	c := t.DialRaw("alice")
	var body []byte
	if t.Framing() == FramingJSON {
		body = []byte(`{"cmd":"session","op":"open","appId":` + strconv.Quote(t.App()) +
			`,"peerId":` + strconv.Quote(t.Peer("u")) + `,"sessionPeerIds":["v\udcff"],"i":1}`)
	} else {
		body = protocol.AppendMsgpack(nil, &protocol.Command{Kind: protocol.KindSessionOpen, AppID: t.App(),
			PeerID: t.Peer("u") + "\xff", I: 1})
	}
	c.SendRaw(rawFrame(t, body))
	c.ExpectClose(protocol.CloseMalformedPeerID)
}

// rawFrame frames body for the target: as is on WebSocket and long-poll,
// length-prefixed on streams.
func rawFrame(t *T, body []byte) []byte {
	if t.Framing() == FramingStream {
		return protocol.AppendFrame(nil, body)
	}
	return body
}

// malformedFrame: a frame that does not parse is refused (legacy: close
// 1007; modern: error 1007 without i, and the connection stays).
func malformedFrame(t *T) {
	c := t.DialRaw("alice")
	c.Open(t.Peer("alice"))
	var body []byte
	if t.Framing() == FramingJSON {
		body = []byte(`{"cmd":"session","op":"query","peerId":`)
	} else {
		body = []byte{0x82, 0xa3, 'c', 'm', 'd', 0xc1} // 0xc1 is never used in msgpack
	}
	c.SendRaw(rawFrame(t, body))
	c.ExpectFailure(protocol.ErrCodeBadCommand, 0)
}

// unknownCommand: an unknown cmd is refused like a malformed frame; the
// modern error echoes its i.
func unknownCommand(t *T) {
	c := t.DialRaw("alice")
	c.Open(t.Peer("alice"))
	var body []byte
	if t.Framing() == FramingJSON {
		body = []byte(`{"cmd":"bogus","i":77}`)
	} else {
		body = []byte{0x82, 0xa3, 'c', 'm', 'd', 0xa5, 'b', 'o', 'g', 'u', 's', 0xa1, 'i', 77}
	}
	c.SendRaw(rawFrame(t, body))
	c.ExpectFailure(protocol.ErrCodeBadCommand, 77)
}

// oversizeFrame: a frame over the 64 KiB frame limit closes with 4109 in
// every dialect. On streams only the length prefix is sent: the server must
// refuse it before reading the body.
func oversizeFrame(t *T) {
	c := t.DialRaw("alice")
	c.Open(t.Peer("alice"))
	var frame []byte
	switch t.Framing() {
	case FramingStream:
		// A 4-byte QUIC varint (0b10 prefix) declaring 1 MiB, and no body.
		n := uint32(1<<20) | 0x80000000
		frame = []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	case FramingJSON:
		frame = []byte(`{"cmd":"keepalive-padding","x":"` + strings.Repeat("x", 80<<10) + `"}`)
	default:
		frame = append([]byte{0x81, 0xa1, 'x', 0xdb, 0, 1, 64, 0}, strings.Repeat("x", 80<<10)...)
	}
	// The server may close before it read the whole frame: a failed write
	// is fine, the close code is what counts.
	if r, ok := c.conn.(RawConn); ok {
		r.SendRaw(frame)
	} else {
		c.SendRaw(frame)
	}
	c.ExpectClose(protocol.CloseTooLong)
}

// keepalive: `{}` is answered `{}`, before and after open, in order with the
// other replies.
func keepalive(t *T) {
	c := t.Dial("alice")
	c.Barrier("keepalive before open")
	alice := t.Peer("alice")
	i := c.I()
	c.Send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: t.App(), PeerID: alice, I: i})
	c.Send(&protocol.Command{Kind: protocol.KindKeepalive})
	c.ExpectI(protocol.KindSessionOpened, i)
	c.Expect(protocol.KindKeepalive)
	c.Barrier("keepalive after open")
}

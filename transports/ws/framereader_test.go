package ws

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// clientFrame builds a masked client frame.
func clientFrame(op byte, fin bool, payload []byte, key [4]byte) []byte {
	b0 := op
	if fin {
		b0 |= finBit
	}
	var b []byte
	switch n := len(payload); {
	case n < 126:
		b = []byte{b0, 0x80 | byte(n)}
	case n <= 0xffff:
		b = binary.BigEndian.AppendUint16([]byte{b0, 0x80 | 126}, uint16(n))
	default:
		b = binary.BigEndian.AppendUint64([]byte{b0, 0x80 | 127}, uint64(n))
	}
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

var testKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

func text(s string) []byte { return clientFrame(opText, true, []byte(s), testKey) }
func closeBody(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

// event is what Next returned, for comparison.
type event struct {
	op   byte
	data string
	err  string
}

// readAll runs Next until an error, as the conn's reader does (emptying
// the message after each data message and after errTooLong).
func readAll(r io.Reader, limit int) []event {
	fr := frameReader{src: r}
	var evs []event
	var msg []byte
	for range 1000 {
		op, ctl, err := fr.Next(&msg, limit)
		switch {
		case err == errTooLong:
			evs = append(evs, event{err: "too long"})
			msg = msg[:0]
			continue
		case err != nil:
			var fe *frameError
			if errors.As(err, &fe) {
				evs = append(evs, event{err: fe.reason})
			} else {
				evs = append(evs, event{err: err.Error()})
			}
			return evs
		case op&0x8 != 0:
			evs = append(evs, event{op: op, data: string(ctl)})
		default:
			evs = append(evs, event{op: op, data: string(msg)})
			msg = msg[:0]
		}
	}
	return evs
}

func cat(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

func TestFrameReader(t *testing.T) {
	big := strings.Repeat("b", 70000)
	mid := strings.Repeat("m", 300)
	for _, tc := range []struct {
		name  string
		in    []byte
		limit int
		want  []event
	}{
		{"text", text("hello"), 100, []event{{op: opText, data: "hello"}, {err: "EOF"}}},
		{"binary with a 16-bit length", clientFrame(opBinary, true, []byte(mid), testKey), 1000,
			[]event{{op: opBinary, data: mid}, {err: "EOF"}}},
		{"64-bit length", clientFrame(opText, true, []byte(big), testKey), 1 << 20,
			[]event{{op: opText, data: big}, {err: "EOF"}}},
		{"empty message", text(""), 10, []event{{op: opText}, {err: "EOF"}}},
		{"fragments with a ping between", cat(
			clientFrame(opText, false, []byte("he"), testKey),
			clientFrame(opPing, true, []byte("p"), testKey),
			clientFrame(opContinuation, false, []byte("ll"), [4]byte{1, 2, 3, 4}),
			clientFrame(opContinuation, true, []byte("o"), testKey)), 100,
			[]event{{op: opPing, data: "p"}, {op: opText, data: "hello"}, {err: "EOF"}}},
		{"pong and close", cat(clientFrame(opPong, true, nil, testKey), clientFrame(opClose, true, closeBody(1000, "bye"), testKey)), 10,
			[]event{{op: opPong}, {op: opClose, data: string(closeBody(1000, "bye"))}, {err: "EOF"}}},
		{"empty close", clientFrame(opClose, true, nil, testKey), 10, []event{{op: opClose}, {err: "EOF"}}},
		{"too long is skipped", cat(text(mid), text("next")), 100,
			[]event{{err: "too long"}, {op: opText, data: "next"}, {err: "EOF"}}},
		{"too long over fragments", cat(
			clientFrame(opText, false, []byte(mid[:60]), testKey),
			clientFrame(opContinuation, false, []byte(mid[:60]), testKey),
			clientFrame(opContinuation, true, []byte("x"), testKey),
			text("next")), 100,
			[]event{{err: "too long"}, {op: opText, data: "next"}, {err: "EOF"}}},
		{"exactly the limit", text(mid[:100]), 100, []event{{op: opText, data: mid[:100]}, {err: "EOF"}}},
		{"unmasked", []byte{0x81, 0x02, 'h', 'i'}, 10, []event{{err: "client frame not masked"}}},
		{"reserved bit", append([]byte{0xc1}, text("x")[1:]...), 10, []event{{err: "reserved bits set without an extension"}}},
		{"reserved data opcode", clientFrame(0x3, true, nil, testKey), 10, []event{{err: "reserved data opcode 0x3"}}},
		{"reserved control opcode", clientFrame(0xb, true, nil, testKey), 10, []event{{err: "reserved control opcode 0xb"}}},
		{"fragmented ping", clientFrame(opPing, false, nil, testKey), 10, []event{{err: "fragmented or oversize control frame"}}},
		{"oversize ping", clientFrame(opPing, true, make([]byte, 126), testKey), 1000, []event{{err: "fragmented or oversize control frame"}}},
		{"stray continuation", clientFrame(opContinuation, true, nil, testKey), 10, []event{{err: "continuation frame outside a message"}}},
		{"data inside a fragmented message", cat(clientFrame(opText, false, []byte("a"), testKey), text("b")), 10,
			[]event{{err: "new data frame inside a fragmented message"}}},
		{"length high bit", append([]byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0}, testKey[:]...), 10,
			[]event{{err: "payload length with the high bit set"}}},
		{"1-byte close", clientFrame(opClose, true, []byte{3}, testKey), 10, []event{{err: "close frame with a 1-byte payload"}}},
		{"close code not sendable", clientFrame(opClose, true, closeBody(1005, ""), testKey), 10, []event{{err: "close code 1005 may not be sent"}}},
		{"close reason not UTF-8", clientFrame(opClose, true, closeBody(1000, "\xff"), testKey), 10, []event{{err: "close reason is not UTF-8"}}},
		{"truncated header", text("hello")[:3], 10, []event{{err: "unexpected EOF"}}},
		{"truncated payload", text("hello")[:8], 10, []event{{err: "unexpected EOF"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range []struct {
				name string
				r    io.Reader
			}{{"whole", bytes.NewReader(tc.in)}, {"byte by byte", iotest.OneByteReader(bytes.NewReader(tc.in))}} {
				got := readAll(r.r, tc.limit)
				if !equalEvents(got, tc.want) {
					t.Errorf("%s: got %v, want %v", r.name, short(got), short(tc.want))
				}
			}
		})
	}
}

func equalEvents(a, b []event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func short(evs []event) []event {
	out := make([]event, len(evs))
	for i, e := range evs {
		if len(e.data) > 20 {
			e.data = e.data[:20] + "..."
		}
		out[i] = e
	}
	return out
}

func TestUnmask(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	for n := range 40 {
		p := bytes.Repeat([]byte{0xaa}, n)
		want := make([]byte, n)
		for i := range want {
			want[i] = 0xaa ^ key[i%4]
		}
		unmask(p, key)
		if !bytes.Equal(p, want) {
			t.Fatalf("n=%d: % x, want % x", n, p, want)
		}
	}
}

// FuzzFrameReader: any byte stream gives the same events read whole or
// byte by byte, never a data message over the limit, and never a panic.
// Seeds are real client frames.
func FuzzFrameReader(f *testing.F) {
	f.Add(text(`{"cmd":"session","op":"open","appId":"a","peerId":"p","i":1}`), 64)
	f.Add(cat(clientFrame(opText, false, []byte("he"), testKey), clientFrame(opPing, true, []byte("p"), testKey),
		clientFrame(opContinuation, true, []byte("llo"), testKey)), 64)
	f.Add(clientFrame(opBinary, true, bytes.Repeat([]byte{0x81}, 300), testKey), 256)
	f.Add(clientFrame(opClose, true, closeBody(1000, "bye"), testKey), 16)
	f.Add([]byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0}, 16)
	f.Fuzz(func(t *testing.T, in []byte, limit int) {
		limit = max(0, limit%4096)
		whole := readAll(bytes.NewReader(in), limit)
		byByte := readAll(iotest.OneByteReader(bytes.NewReader(in)), limit)
		if !equalEvents(whole, byByte) {
			t.Fatalf("whole %v, byte by byte %v", short(whole), short(byByte))
		}
		for _, e := range whole {
			if e.err == "" && e.op&0x8 == 0 && len(e.data) > limit {
				t.Fatalf("a %d-byte message over the limit %d", len(e.data), limit)
			}
			if e.op&0x8 != 0 && len(e.data) > maxControlPayload {
				t.Fatalf("a %d-byte control payload", len(e.data))
			}
		}
	})
}

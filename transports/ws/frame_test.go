package ws

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/rtgate/rtgate/protocol"
)

// parseFrame reads one unmasked server frame: FIN+opcode, payload, rest.
func parseFrame(t *testing.T, b []byte) (op byte, payload, rest []byte) {
	t.Helper()
	if len(b) < 2 || b[0]&finBit == 0 || b[1]&0x80 != 0 {
		t.Fatalf("bad header % x", b[:min(len(b), 10)])
	}
	op = b[0] & 0x0f
	n, hdr := uint64(b[1]), 2
	switch n {
	case 126:
		n, hdr = uint64(binary.BigEndian.Uint16(b[2:])), 4
		if n < 126 {
			t.Fatalf("non-minimal 16-bit length %d", n)
		}
	case 127:
		n, hdr = binary.BigEndian.Uint64(b[2:]), 10
		if n <= 0xffff {
			t.Fatalf("non-minimal 64-bit length %d", n)
		}
	}
	return op, b[hdr : hdr+int(n)], b[hdr+int(n):]
}

func TestAppendDataFrameLengths(t *testing.T) {
	for _, d := range []dialect{dialectLegacy, dialectJSON, dialectMsgpack} {
		for _, size := range []int{0, 50, 100, 110, 125, 126, 200, 5120, 65000, 65535, 65536, 70000} {
			cmd := &protocol.Command{Kind: protocol.KindDirect, PeerID: "bob", Msg: strings.Repeat("x", size)}
			if size == 0 {
				cmd = &protocol.Command{Kind: protocol.KindKeepalive}
			}
			want := protocol.AppendJSON(nil, cmd)
			wantOp := byte(opText)
			if d == dialectMsgpack {
				want, wantOp = protocol.AppendMsgpack(nil, cmd), opBinary
			}
			prefix := []byte("queued")
			b := appendDataFrame(append([]byte(nil), prefix...), d, cmd)
			if !bytes.HasPrefix(b, prefix) {
				t.Fatalf("%v/%d: clobbered the queue", d, size)
			}
			op, payload, rest := parseFrame(t, b[len(prefix):])
			if op != wantOp || !bytes.Equal(payload, want) || len(rest) != 0 {
				t.Fatalf("%v/%d: op %d, payload %d bytes (want %d), rest %d", d, size, op, len(payload), len(want), len(rest))
			}
		}
	}
}

func TestTruncateUTF8(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abcdef", 3, "abc"},
		{"aé", 2, "a"},
		{"é😀", 4, "é"},
	} {
		if got := truncateUTF8(tc.s, tc.n); got != tc.want {
			t.Errorf("truncateUTF8(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}

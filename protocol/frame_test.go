package protocol

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestVarint(t *testing.T) {
	// RFC 9000 Appendix A.1 examples (minimal encodings) and boundaries.
	for _, tc := range []struct {
		v   uint64
		hex string
	}{
		{0, "00"},
		{37, "25"},
		{63, "3f"},
		{64, "4040"},
		{15293, "7bbd"},
		{16383, "7fff"},
		{16384, "80004000"},
		{494878333, "9d7f3e7d"},
		{1<<30 - 1, "bfffffff"},
		{1 << 30, "c000000040000000"},
		{151288809941952652, "c2197c5eff14e88c"},
		{MaxVarint, "ffffffffffffffff"},
	} {
		got := AppendVarint(nil, tc.v)
		if hex.EncodeToString(got) != tc.hex || VarintLen(tc.v) != len(got) {
			t.Errorf("AppendVarint(%d) = %x, want %s", tc.v, got, tc.hex)
		}
	}
}

func TestFrameReaderChunkings(t *testing.T) {
	bodies := [][]byte{{}, []byte("a"), bytes.Repeat([]byte("b"), 63), bytes.Repeat([]byte("c"), 64),
		bytes.Repeat([]byte("d"), 5000), bytes.Repeat([]byte("e"), 20000)}
	var stream []byte
	for _, b := range bodies {
		stream = AppendFrame(stream, b)
	}
	readers := map[string]func() io.Reader{
		"whole":    func() io.Reader { return bytes.NewReader(stream) },
		"one byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(stream)) },
		"half":     func() io.Reader { return iotest.HalfReader(bytes.NewReader(stream)) },
		"data+EOF": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(stream)) },
	}
	for name, mk := range readers {
		t.Run(name, func(t *testing.T) {
			fr := NewFrameReader(mk(), 0)
			for i, want := range bodies {
				got, err := fr.ReadFrame()
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("frame %d: %d bytes, %v; want %d bytes", i, len(got), err, len(want))
				}
			}
			if _, err := fr.ReadFrame(); err != io.EOF {
				t.Fatalf("after the last frame: %v, want io.EOF", err)
			}
		})
	}
}

func TestFrameReaderNonMinimalLength(t *testing.T) {
	// 3 encoded in 8 bytes is legal (RFC 9000 §16).
	fr := NewFrameReader(bytes.NewReader([]byte{0xc0, 0, 0, 0, 0, 0, 0, 3, 'a', 'b', 'c'}), 0)
	if got, err := fr.ReadFrame(); err != nil || string(got) != "abc" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestFrameReaderTruncated(t *testing.T) {
	for name, data := range map[string][]byte{
		"in the length": {0x40},
		"in the body":   {0x05, 'a', 'b'},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewFrameReader(bytes.NewReader(data), 0).ReadFrame()
			if err != io.ErrUnexpectedEOF {
				t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
			}
		})
	}
}

// countingReader serves a length prefix and then counts the bytes asked for.
type countingReader struct {
	r     io.Reader
	asked int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.asked += len(p)
	return c.r.Read(p)
}

func TestFrameReaderTooLargeBeforeAllocating(t *testing.T) {
	// A declared 2^62-1 bytes must be refused from the prefix alone.
	cr := &countingReader{r: bytes.NewReader(AppendVarint(nil, MaxVarint))}
	fr := NewFrameReader(cr, 1024)
	_, err := fr.ReadFrame()
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("err = %v, want ErrFrameTooLarge", err)
	}
	if cap(fr.buf) > frameReadMin || cr.asked > frameReadMin {
		t.Fatalf("buffered %d bytes (asked %d) before refusing", cap(fr.buf), cr.asked)
	}
	// Exactly the limit is fine.
	ok := AppendFrame(nil, make([]byte, 1024))
	if _, err := NewFrameReader(bytes.NewReader(ok), 1024).ReadFrame(); err != nil {
		t.Fatalf("frame at the limit: %v", err)
	}
}

func TestFrameReaderReusesBuffer(t *testing.T) {
	var stream []byte
	for range 100 {
		stream = AppendFrame(stream, []byte("hello, frames"))
	}
	fr := NewFrameReader(bytes.NewReader(stream), 0)
	allocs := testing.AllocsPerRun(1, func() {
		for range 49 {
			if _, err := fr.ReadFrame(); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs > 1 {
		t.Fatalf("%v allocations for 49 frames", allocs)
	}
}

func TestFrameReaderShrinksAfterLargeFrame(t *testing.T) {
	stream := AppendFrame(nil, make([]byte, 40000))
	stream = AppendFrame(stream, []byte("small"))
	fr := NewFrameReader(bytes.NewReader(stream), 0)
	if _, err := fr.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	if b, err := fr.ReadFrame(); err != nil || string(b) != "small" {
		t.Fatalf("got %q, %v", b, err)
	}
	if cap(fr.buf) > frameShrinkAt {
		// The small frame was already buffered with the large one; the
		// next read starts afresh.
		if _, err := fr.ReadFrame(); err != io.EOF {
			t.Fatal(err)
		}
		if cap(fr.buf) > frameShrinkAt {
			t.Fatalf("buffer still %d bytes", cap(fr.buf))
		}
	}
}

func TestAppendMsgpackFrame(t *testing.T) {
	for _, c := range []Command{
		{Kind: KindKeepalive},
		{Kind: KindDirect, PeerID: "bob", FromPeerID: "alice", Msg: string(bytes.Repeat([]byte("x"), 100)), ID: "m", Timestamp: 1},
		{Kind: KindDirect, PeerID: "bob", FromPeerID: "alice", Msg: string(bytes.Repeat([]byte("x"), 20000)), ID: "m", Timestamp: 1},
	} {
		prefix := []byte("prefix")
		got := AppendMsgpackFrame(append([]byte{}, prefix...), &c)
		want := AppendFrame(append([]byte{}, prefix...), AppendMsgpack(nil, &c))
		if !bytes.Equal(got, want) {
			t.Fatalf("%v: AppendMsgpackFrame differs from AppendFrame(AppendMsgpack)", c.Kind)
		}
	}
}

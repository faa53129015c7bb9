package protocol

import (
	"fmt"
	"io"
)

// Stream framing for QUIC and WebTransport.
//
// A stream carries a sequence of frames; each frame is
//
//	length (QUIC variable-length integer, RFC 9000 §16) | body (length bytes)
//
// and each body is one msgpack-encoded command (AppendMsgpack). The length
// uses the two high bits of its first byte to say whether it takes 1, 2, 4 or
// 8 bytes (6, 14, 30 or 62 bits of value). We chose it over a fixed 4-byte
// prefix or a protobuf uvarint because every QUIC stack (and the WebTransport
// JS shim in reference/transports.md) already has it, small frames (under 64
// bytes: acks, presence, keepalives) pay 1 byte and typical ones (under 16
// KiB) pay 2, and the size of the prefix is known from its first byte, so a
// reader checks the declared length against its limit before it buffers or
// allocates anything. Writers use the shortest encoding; readers accept any
// (RFC 9000 allows non-minimal encodings). Datagrams carry one body with no
// prefix.

// MaxVarint is the largest value a QUIC variable-length integer can hold.
const MaxVarint = 1<<62 - 1

// VarintLen returns the number of bytes AppendVarint uses for v: 1, 2, 4 or
// 8. v must not exceed MaxVarint.
func VarintLen(v uint64) int {
	switch {
	case v <= 63:
		return 1
	case v <= 16383:
		return 2
	case v <= 1<<30-1:
		return 4
	}
	return 8
}

// AppendVarint appends v as a QUIC variable-length integer in its shortest
// form. It panics if v exceeds MaxVarint.
func AppendVarint(dst []byte, v uint64) []byte {
	switch VarintLen(v) {
	case 1:
		return append(dst, byte(v))
	case 2:
		return append(dst, 0x40|byte(v>>8), byte(v))
	case 4:
		return append(dst, 0x80|byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	if v > MaxVarint {
		panic("protocol: varint out of range")
	}
	return append(dst, 0xc0|byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32),
		byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// putVarint4 writes v (< 2^30) as a 4-byte varint into b.
func putVarint4(b []byte, v int) {
	b[0], b[1], b[2], b[3] = 0x80|byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

// AppendFrame appends one frame, the varint length of body followed by body,
// to dst and returns the extended buffer.
func AppendFrame(dst, body []byte) []byte {
	return append(AppendVarint(dst, uint64(len(body))), body...)
}

// AppendMsgpackFrame appends c as one frame (length + msgpack body) without
// an intermediate buffer: it encodes after a 4-byte gap and then writes the
// shortest length prefix, moving the body down when that is shorter.
func AppendMsgpackFrame(dst []byte, c *Command) []byte {
	start := len(dst)
	dst = AppendMsgpack(append(dst, 0, 0, 0, 0), c)
	n := len(dst) - start - 4
	h := VarintLen(uint64(n))
	if h > 4 {
		// Over 1 GiB: not reachable with any sane limit, but stay correct.
		body := append([]byte(nil), dst[start+4:]...)
		return AppendFrame(dst[:start], body)
	}
	if h == 4 {
		putVarint4(dst[start:], n)
		return dst
	}
	copy(dst[start+h:], dst[start+4:])
	dst = dst[:len(dst)-(4-h)]
	AppendVarint(dst[start:start], uint64(n))
	return dst
}

// Buffer sizes of FrameReader: it starts (and restarts, after a large frame
// has been consumed) with frameReadMin bytes, so an idle stream holds little.
const (
	frameReadMin  = 1 << 10
	frameShrinkAt = 16 << 10
)

// FrameReader reads frames (see AppendFrame) from a stream. It buffers what
// the stream returns, reuses its buffer, and never buffers more than one
// frame plus what the last Read returned beyond it.
//
// A FrameReader is owned by one goroutine (the connection's reader).
type FrameReader struct {
	r          io.Reader
	max        int
	buf        []byte
	start, end int // unread bytes are buf[start:end]
}

// NewFrameReader returns a reader of frames from r whose bodies may be at
// most maxFrame bytes; maxFrame <= 0 means DefaultMaxFrameBytes.
func NewFrameReader(r io.Reader, maxFrame int) *FrameReader {
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrameBytes
	}
	return &FrameReader{r: r, max: maxFrame}
}

// ReadFrame returns the body of the next frame. The body aliases the
// reader's buffer and is valid until the next call. At a clean end of stream
// between frames it returns io.EOF; inside a frame, io.ErrUnexpectedEOF. A
// declared length over the limit returns an error wrapping ErrFrameTooLarge
// before the body is read; the stream is then out of sync and must be
// closed (with CloseTooLong).
func (fr *FrameReader) ReadFrame() ([]byte, error) {
	if fr.start == fr.end {
		fr.start, fr.end = 0, 0
		if cap(fr.buf) > frameShrinkAt {
			fr.buf = nil
		}
	}
	if err := fr.fill(1); err != nil {
		if err == io.EOF && fr.start == fr.end {
			return nil, io.EOF
		}
		return nil, noEOF(err)
	}
	hl := 1 << (fr.buf[fr.start] >> 6)
	if err := fr.fill(hl); err != nil {
		return nil, noEOF(err)
	}
	p := fr.buf[fr.start : fr.start+hl]
	n := uint64(p[0] & 0x3f)
	for _, b := range p[1:] {
		n = n<<8 | uint64(b)
	}
	if n > uint64(fr.max) {
		return nil, fmt.Errorf("%w: declared %d bytes, limit %d", ErrFrameTooLarge, n, fr.max)
	}
	if err := fr.fill(hl + int(n)); err != nil {
		return nil, noEOF(err)
	}
	body := fr.buf[fr.start+hl : fr.start+hl+int(n) : fr.start+hl+int(n)]
	fr.start += hl + int(n)
	return body, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// fill reads until at least need unread bytes are buffered.
func (fr *FrameReader) fill(need int) error {
	if fr.end-fr.start >= need {
		return nil
	}
	if cap(fr.buf)-fr.start < need {
		if cap(fr.buf) >= need {
			n := copy(fr.buf[:cap(fr.buf)], fr.buf[fr.start:fr.end])
			fr.start, fr.end = 0, n
		} else {
			nb := make([]byte, max(need, frameReadMin))
			n := copy(nb, fr.buf[fr.start:fr.end])
			fr.buf, fr.start, fr.end = nb, 0, n
		}
	}
	fr.buf = fr.buf[:cap(fr.buf)]
	for empty := 0; fr.end-fr.start < need; {
		n, err := fr.r.Read(fr.buf[fr.end:])
		fr.end += n
		if fr.end-fr.start >= need {
			return nil
		}
		if err != nil {
			return err
		}
		if n == 0 {
			if empty++; empty > 100 {
				return io.ErrNoProgress
			}
		}
	}
	return nil
}

package ws

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// The server's read side of RFC 6455: rtgate parses client frames itself
// (gorilla only performs the handshake), so the reader's buffer and state
// are its own and the idle wait can see whether anything is buffered
// without reaching into a dependency (see reader.go).

// Errors of frameReader.Next. A *frameError fails the connection with its
// close code; errTooLong closes it with 4109.
var (
	errTooLong = errors.New("ws: message over the frame limit")
)

// frameError is a violation of RFC 6455 by the client: the connection
// fails with code (1002 protocol error, 1007 bad close reason).
type frameError struct {
	code   int
	reason string
}

func (e *frameError) Error() string {
	return fmt.Sprintf("ws: client frame: %s (%d)", e.reason, e.code)
}

func protocolError(reason string) error { return &frameError{code: 1002, reason: reason} }

// Opcodes of data and continuation frames (control opcodes: conn.go).
const opContinuation = 0x0

// readBufSize is the reader's buffer: headers and small frames are read
// through it; larger payloads are read straight into the message buffer.
const readBufSize = 256

// frameReader reads the frames of one client: masked, unextended (no
// extension is negotiated, so RSV bits must be 0), data messages possibly
// fragmented with control frames between fragments. It is owned by the
// connection's reader.
type frameReader struct {
	src      io.Reader
	buf      [readBufSize]byte
	pos, end int // buf[pos:end] is read and not consumed

	ctl [maxControlPayload]byte // the last control frame's payload

	inMsg   bool  // a fragmented data message is in progress
	msgOp   byte  // its opcode
	skipMsg bool  // the message in progress went over the limit: drop its fragments
	skip    int64 // payload bytes of the current frame still to discard
}

// buffered returns the bytes read from the socket and not yet consumed.
func (fr *frameReader) buffered() int { return fr.end - fr.pos }

// fill reads more from src into buf, keeping the unconsumed bytes.
func (fr *frameReader) fill() error {
	if fr.pos > 0 {
		fr.end = copy(fr.buf[:], fr.buf[fr.pos:fr.end])
		fr.pos = 0
	}
	n, err := fr.src.Read(fr.buf[fr.end:])
	fr.end += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// need makes n (≤ readBufSize) bytes available in buf[pos:].
func (fr *frameReader) need(n int) error {
	for fr.end-fr.pos < n {
		if err := fr.fill(); err != nil {
			if err == io.EOF && fr.end > fr.pos {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// readFull reads len(p) payload bytes: first what is buffered, then
// straight from src.
func (fr *frameReader) readFull(p []byte) error {
	n := copy(p, fr.buf[fr.pos:fr.end])
	fr.pos += n
	if n == len(p) {
		return nil
	}
	_, err := io.ReadFull(fr.src, p[n:])
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// discard drops fr.skip payload bytes.
func (fr *frameReader) discard() error {
	for fr.skip > 0 {
		if fr.pos == fr.end {
			if err := fr.fill(); err != nil {
				return err
			}
		}
		n := int(min(int64(fr.end-fr.pos), fr.skip))
		fr.pos += n
		fr.skip -= int64(n)
	}
	return nil
}

// Next reads frames until a data message is complete or a control frame
// arrives. A data message's payload is appended to *msg (unmasked), which
// the caller passes again, unchanged, after a control frame; once Next
// returns a data opcode (opText, opBinary) *msg holds the whole message
// and the caller empties it. For a control frame (opPing, opPong,
// opClose) it returns the payload, valid until the next call.
//
// A message whose payload would exceed limit bytes is not read: Next
// returns errTooLong at once and later skips the rest of that message.
// Violations of RFC 6455 return a *frameError.
func (fr *frameReader) Next(msg *[]byte, limit int) (op byte, ctl []byte, err error) {
	for {
		if err := fr.discard(); err != nil {
			return 0, nil, err
		}
		if err := fr.need(2); err != nil {
			return 0, nil, err
		}
		b0, b1 := fr.buf[fr.pos], fr.buf[fr.pos+1]
		fin, rsv, op := b0&finBit != 0, b0&0x70, b0&0x0f
		masked, n := b1&0x80 != 0, int64(b1&0x7f)
		hdr := 2
		switch n {
		case 126:
			hdr = 4
		case 127:
			hdr = 10
		}
		if masked {
			hdr += 4
		}
		if err := fr.need(hdr); err != nil {
			return 0, nil, err
		}
		h := fr.buf[fr.pos : fr.pos+hdr]
		switch n {
		case 126:
			n = int64(binary.BigEndian.Uint16(h[2:]))
		case 127:
			u := binary.BigEndian.Uint64(h[2:])
			if u>>63 != 0 {
				return 0, nil, protocolError("payload length with the high bit set")
			}
			n = int64(u)
		}
		var key [4]byte
		if masked {
			copy(key[:], h[hdr-4:])
		}
		fr.pos += hdr
		switch {
		case rsv != 0:
			return 0, nil, protocolError("reserved bits set without an extension")
		case !masked:
			return 0, nil, protocolError("client frame not masked")
		}
		if op&0x8 != 0 { // control frame
			if op != opClose && op != opPing && op != opPong {
				return 0, nil, protocolError(fmt.Sprintf("reserved control opcode %#x", op))
			}
			if !fin || n > maxControlPayload {
				return 0, nil, protocolError("fragmented or oversize control frame")
			}
			p := fr.ctl[:n]
			if err := fr.readFull(p); err != nil {
				return 0, nil, err
			}
			unmask(p, key)
			if op == opClose {
				if err := checkClosePayload(p); err != nil {
					return 0, nil, err
				}
			}
			return op, p, nil
		}
		switch op {
		case opText, opBinary:
			if fr.inMsg {
				return 0, nil, protocolError("new data frame inside a fragmented message")
			}
			fr.inMsg, fr.msgOp, fr.skipMsg = true, op, false
		case opContinuation:
			if !fr.inMsg {
				return 0, nil, protocolError("continuation frame outside a message")
			}
		default:
			return 0, nil, protocolError(fmt.Sprintf("reserved data opcode %#x", op))
		}
		if fin {
			fr.inMsg = false
		}
		if fr.skipMsg {
			fr.skip = n
			continue
		}
		if n > int64(limit-len(*msg)) {
			fr.skip, fr.skipMsg = n, !fin
			*msg = (*msg)[:0]
			return 0, nil, errTooLong
		}
		start := len(*msg)
		*msg = growLen(*msg, int(n))
		if err := fr.readFull((*msg)[start:]); err != nil {
			return 0, nil, err
		}
		unmask((*msg)[start:], key)
		if fin {
			return fr.msgOp, nil, nil
		}
	}
}

// growLen extends b by n bytes, reallocating once if needed.
func growLen(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), len(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

// unmask XORs p, the payload of one frame, with its masking key.
func unmask(p []byte, key [4]byte) {
	k := binary.LittleEndian.Uint32(key[:])
	i := 0
	for ; i+8 <= len(p); i += 8 {
		k8 := uint64(k) | uint64(k)<<32
		binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^k8)
	}
	for ; i < len(p); i++ {
		p[i] ^= byte(k >> (8 * (i & 3)))
	}
}

// checkClosePayload validates a client's close frame (RFC 6455 §5.5.1,
// §7.4): empty, or a code a peer may send and a UTF-8 reason.
func checkClosePayload(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if len(p) == 1 {
		return protocolError("close frame with a 1-byte payload")
	}
	code := int(binary.BigEndian.Uint16(p))
	if !receivableCloseCode(code) {
		return protocolError(fmt.Sprintf("close code %d may not be sent", code))
	}
	if !utf8.Valid(p[2:]) {
		return &frameError{code: 1007, reason: "close reason is not UTF-8"}
	}
	return nil
}

// receivableCloseCode reports whether a peer may send code (RFC 6455
// §7.4.1, IANA registry).
func receivableCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	}
	return code >= 3000 && code < 5000
}

// closeCode returns the code of a validated close payload, 1005 (no
// status) when it has none.
func closeCode(p []byte) int {
	if len(p) < 2 {
		return 1005
	}
	return int(binary.BigEndian.Uint16(p))
}

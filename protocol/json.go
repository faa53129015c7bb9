package protocol

import (
	"fmt"
	"unicode/utf8"
)

// The JSON codec speaks v1 exactly (reference/protocol-v1.md §2, §4): one
// object per frame with the v1 field names, `{}` as the keepalive. The
// encoder is hand-written and appends to the caller's buffer; the decoder is
// a single-pass scanner that allocates only the strings and lists it keeps.

// AppendJSON appends the v1 JSON encoding of c to dst and returns the
// extended buffer. Fields are written in a fixed order (cmd, op, then the
// rest); zero fields are omitted except the list fields v1 clients expect on
// every frame of a kind, which are written as [] when empty. KindKeepalive
// encodes to `{}`. Strings are escaped per RFC 8259 plus U+2028/U+2029;
// invalid UTF-8 becomes U+FFFD.
func AppendJSON(dst []byte, c *Command) []byte {
	if encodesEmpty(c) {
		return append(dst, '{', '}')
	}
	w := fieldWriter{dst: append(dst, '{')}
	writeFields(&w, c)
	return append(w.dst, '}')
}

const hexDigits = "0123456789abcdef"

// jsonSafe marks the ASCII bytes that need no escaping inside a string.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// jsonAppendString appends s as a quoted JSON string.
func jsonAppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if jsonSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			// Valid JSON, but a line terminator in JavaScript source
			// (JSONP on the compat router embeds our output).
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// DecodeJSON decodes one v1 JSON frame into c, overwriting all of c.
//
// An object without `cmd` is the keepalive. Unknown fields are ignored and
// null counts as absent. Errors wrap ErrMalformed (bad syntax, a non-object,
// trailing data, a known field of the wrong type) or ErrUnknownCommand (a
// (cmd, op) pair that names no kind; c is still filled, with KindUnknown).
// The quirks of `t`, `r`, `n` and `ids` are described on decodeField and in
// spec/protocol.md. Decoded strings never alias data and are valid UTF-8,
// invalid bytes replaced by U+FFFD, except in the peer id fields a client
// sends (peerId, sessionPeerIds, toPeerIds, roomPeerIds): those keep them,
// so that CheckPeerID refuses the id instead of two ids becoming one.
func DecodeJSON(data []byte, c *Command) error {
	*c = Command{}
	d := &jsonReader{data: data}
	var st decodeState
	d.ws()
	if d.peek() != '{' {
		d.fail("not an object")
		return d.err
	}
	d.pos++
	d.ws()
	if d.peek() == '}' {
		d.pos++
	} else {
		for {
			d.ws()
			if d.peek() != '"' {
				d.fail("expected a key")
				return d.err
			}
			key := d.readString()
			d.ws()
			if d.err == nil && d.peek() != ':' {
				d.fail("expected ':'")
			}
			if d.err != nil {
				return d.err
			}
			d.pos++
			d.ws()
			decodeField(fieldReader{js: d}, key, c, &st)
			if d.err != nil {
				return d.err
			}
			d.ws()
			if b := d.peek(); b == ',' {
				d.pos++
				continue
			} else if b == '}' {
				d.pos++
				break
			}
			d.fail("expected ',' or '}'")
			return d.err
		}
	}
	d.ws()
	if d.pos != len(d.data) {
		d.fail("data after the object")
		return d.err
	}
	return finish(c, &st, "json")
}

// maxJSONDepth bounds the nesting of skipped values (unknown fields).
const maxJSONDepth = 64

// jsonReader is the scanner behind DecodeJSON. After the first syntax error
// err is set and every read returns zero values.
type jsonReader struct {
	data    []byte
	pos     int
	err     error
	depth   int
	scratch []byte // unescaped string contents (slow path only)
	raw     bool   // keep invalid UTF-8 and lone surrogates (see valueReader.keepInvalid)
}

func (d *jsonReader) keepInvalid(on bool) { d.raw = on }

var _ valueReader = (*jsonReader)(nil)

func (d *jsonReader) fail(msg string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: json offset %d: %s", ErrMalformed, d.pos, msg)
	}
	d.pos = len(d.data)
}

// peek returns the current byte, or 0 at the end.
func (d *jsonReader) peek() byte {
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

func (d *jsonReader) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *jsonReader) literal(lit string) {
	if len(d.data)-d.pos < len(lit) || string(d.data[d.pos:d.pos+len(lit)]) != lit {
		d.fail("invalid literal")
		return
	}
	d.pos += len(lit)
}

// readString reads a string starting at its opening quote and returns its
// contents, valid UTF-8, unescaped. The result aliases data or the scratch
// buffer and is valid until the next read.
func (d *jsonReader) readString() []byte {
	d.pos++
	start := d.pos
	ascii := true
	for d.pos < len(d.data) {
		b := d.data[d.pos]
		switch {
		case b == '"':
			s := d.data[start:d.pos]
			if !ascii && !utf8.Valid(s) {
				return d.readStringSlow(start)
			}
			d.pos++
			return s
		case b == '\\' || b < 0x20:
			return d.readStringSlow(start)
		case b >= utf8.RuneSelf:
			ascii = false
		}
		d.pos++
	}
	d.fail("unterminated string")
	return nil
}

func (d *jsonReader) readStringSlow(start int) []byte {
	if d.scratch == nil {
		// Unescaping rarely grows a string: size the buffer once for the
		// rest of the frame (bounded by the frame limit).
		d.scratch = make([]byte, 0, len(d.data)-start)
	}
	buf := d.scratch[:0]
	i := start
	for i < len(d.data) {
		b := d.data[i]
		switch {
		case b == '"':
			d.pos = i + 1
			d.scratch = buf
			if buf == nil {
				buf = d.data[i:i]
			}
			return buf
		case b == '\\':
			if i+1 >= len(d.data) {
				d.pos = i
				d.fail("unterminated escape")
				return nil
			}
			e := d.data[i+1]
			i += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := hex4(d.data[i:])
				if !ok {
					d.pos = i
					d.fail("invalid \\u escape")
					return nil
				}
				i += 4
				if r >= 0xD800 && r < 0xDC00 {
					// A high surrogate must be followed by a low one.
					if len(d.data)-i >= 6 && d.data[i] == '\\' && d.data[i+1] == 'u' {
						if r2, ok := hex4(d.data[i+2:]); ok && r2 >= 0xDC00 && r2 < 0xE000 {
							r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
							i += 6
						}
					}
				}
				if r >= 0xD800 && r < 0xE000 {
					if d.raw {
						// Its generalized UTF-8 spelling: not valid UTF-8,
						// so the id is refused, not merged with U+FFFD.
						buf = append(buf, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
						continue
					}
					r = utf8.RuneError // lone surrogate
				}
				buf = utf8.AppendRune(buf, r)
			default:
				d.pos = i - 1
				d.fail("invalid escape")
				return nil
			}
		case b < 0x20:
			d.pos = i
			d.fail("control character in string")
			return nil
		case b < utf8.RuneSelf:
			buf = append(buf, b)
			i++
		default:
			r, size := utf8.DecodeRune(d.data[i:])
			if r == utf8.RuneError && size == 1 && !d.raw {
				buf = append(buf, "\uFFFD"...)
			} else {
				buf = append(buf, d.data[i:i+size]...)
			}
			i += size
		}
	}
	d.pos = len(d.data)
	d.fail("unterminated string")
	return nil
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// readNumber scans a JSON number and returns its text; isInt is false when
// it has a fraction or an exponent.
func (d *jsonReader) readNumber() (text []byte, isInt bool) {
	start := d.pos
	isInt = true
	if d.peek() == '-' {
		d.pos++
	}
	switch b := d.peek(); {
	case b == '0':
		d.pos++
	case b >= '1' && b <= '9':
		d.digits()
	default:
		d.fail("invalid number")
		return nil, false
	}
	if d.peek() == '.' {
		d.pos++
		isInt = false
		if !d.digits() {
			d.fail("invalid number")
			return nil, false
		}
	}
	if b := d.peek(); b == 'e' || b == 'E' {
		d.pos++
		isInt = false
		if b := d.peek(); b == '+' || b == '-' {
			d.pos++
		}
		if !d.digits() {
			d.fail("invalid number")
			return nil, false
		}
	}
	return d.data[start:d.pos], isInt
}

func (d *jsonReader) digits() bool {
	start := d.pos
	for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
		d.pos++
	}
	return d.pos > start
}

// parseInt64 parses the text of an integer JSON number.
func parseInt64(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		u = u*10 + uint64(c-'0')
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > 1<<63-1 {
		return 0, false
	}
	return int64(u), true
}

func isNumberStart(b byte) bool { return b == '-' || (b >= '0' && b <= '9') }

func (d *jsonReader) str() (string, bool) {
	switch d.peek() {
	case '"':
		return string(d.readString()), true
	case 'n':
		d.literal("null")
		return "", true
	}
	d.skip()
	return "", false
}

func (d *jsonReader) strs() (list []string, present, ok bool) {
	switch d.peek() {
	case '[':
	case 'n':
		d.literal("null")
		return nil, false, true
	default:
		d.skip()
		return nil, false, false
	}
	d.pos++
	ok = true
	d.ws()
	if d.peek() == ']' {
		d.pos++
		return nil, true, true
	}
	for d.err == nil {
		d.ws()
		switch d.peek() {
		case '"':
			list = append(list, string(d.readString()))
		case 'n':
			d.literal("null")
		default:
			ok = false
			d.skip()
		}
		d.ws()
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return list, true, ok
		default:
			d.fail("expected ',' or ']'")
		}
	}
	return nil, false, true
}

func (d *jsonReader) int() (int64, bool) {
	b := d.peek()
	if b == 'n' {
		d.literal("null")
		return 0, true
	}
	if !isNumberStart(b) {
		d.skip()
		return 0, false
	}
	text, isInt := d.readNumber()
	if !isInt {
		return 0, false
	}
	return parseInt64(text)
}

func (d *jsonReader) boolean() (bool, bool) {
	switch d.peek() {
	case 't':
		d.literal("true")
		return true, true
	case 'f':
		d.literal("false")
		return false, true
	case 'n':
		d.literal("null")
		return false, true
	}
	d.skip()
	return false, false
}

func (d *jsonReader) receipt() bool {
	b := d.peek()
	if b == 't' {
		d.literal("true")
		return true
	}
	if isNumberStart(b) {
		text, _ := d.readNumber()
		return string(text) == "1"
	}
	d.skip()
	return false
}

func (d *jsonReader) text() ([]byte, bool, bool) {
	b := d.peek()
	switch {
	case b == '"':
		s := d.readString()
		if s == nil {
			s = d.data[:0]
		}
		return s, false, true
	case b == 'n':
		d.literal("null")
		return nil, false, true
	case isNumberStart(b):
		text, _ := d.readNumber()
		return text, true, true
	}
	d.skip()
	return nil, false, false
}

// skip skips one value of any type, checking its syntax.
func (d *jsonReader) skip() {
	switch b := d.peek(); {
	case b == '"':
		d.readString()
	case b == 't':
		d.literal("true")
	case b == 'f':
		d.literal("false")
	case b == 'n':
		d.literal("null")
	case isNumberStart(b):
		d.readNumber()
	case b == '{' || b == '[':
		d.skipContainer(b)
	default:
		d.fail("expected a value")
	}
}

func (d *jsonReader) skipContainer(open byte) {
	if d.depth++; d.depth > maxJSONDepth {
		d.fail("nesting too deep")
		return
	}
	defer func() { d.depth-- }()
	closer := byte(']')
	if open == '{' {
		closer = '}'
	}
	d.pos++
	d.ws()
	if d.peek() == closer {
		d.pos++
		return
	}
	for d.err == nil {
		d.ws()
		if open == '{' {
			if d.peek() != '"' {
				d.fail("expected a key")
				return
			}
			d.readString()
			d.ws()
			if d.peek() != ':' {
				d.fail("expected ':'")
				return
			}
			d.pos++
			d.ws()
		}
		d.skip()
		d.ws()
		switch d.peek() {
		case ',':
			d.pos++
		case closer:
			d.pos++
			return
		default:
			d.fail("expected ',' or a closing bracket")
		}
	}
}

package protocol

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// The msgpack codec carries the same vocabulary as the JSON codec for the
// modern dialects (WebSocket subprotocol rtgate.msgpack.1, QUIC and
// WebTransport streams): one map per frame whose keys are the v1 field
// names, with the same omission rules, `t` polymorphism and keepalive (the
// empty map). Integers are msgpack ints in their smallest encoding, strings
// are str (never bin). Both directions are hand-written; the msgpack module
// is used only by the tests, as an independent reader of our bytes.

// msgpack format bytes (https://github.com/msgpack/msgpack/blob/master/spec.md).
const (
	mpNil     = 0xc0
	mpFalse   = 0xc2
	mpTrue    = 0xc3
	mpFixMap  = 0x80
	mpFixArr  = 0x90
	mpFixStr  = 0xa0
	mpStr8    = 0xd9
	mpStr16   = 0xda
	mpStr32   = 0xdb
	mpArr16   = 0xdc
	mpArr32   = 0xdd
	mpMap16   = 0xde
	mpMap32   = 0xdf
	mpUint8   = 0xcc
	mpUint16  = 0xcd
	mpUint32  = 0xce
	mpUint64  = 0xcf
	mpInt8    = 0xd0
	mpInt16   = 0xd1
	mpInt32   = 0xd2
	mpInt64   = 0xd3
	mpFloat32 = 0xca
	mpFloat64 = 0xcb
)

// AppendMsgpack appends the msgpack encoding of c to dst and returns the
// extended buffer: a map with the v1 field names as keys, in the same order
// and under the same omission rules as AppendJSON. KindKeepalive encodes to
// the empty map (0x80). Strings are written as given (decoders replace
// invalid UTF-8).
func AppendMsgpack(dst []byte, c *Command) []byte {
	if encodesEmpty(c) {
		return append(dst, mpFixMap)
	}
	hdr := len(dst)
	w := fieldWriter{dst: append(dst, mpFixMap), msgpack: true}
	writeFields(&w, c)
	dst = w.dst
	if w.n < 16 {
		dst[hdr] = mpFixMap | byte(w.n)
		return dst
	}
	// More than 15 fields (never in practice): widen to map16.
	dst = append(dst, 0, 0)
	copy(dst[hdr+3:], dst[hdr+1:len(dst)-2])
	dst[hdr], dst[hdr+1], dst[hdr+2] = mpMap16, byte(w.n>>8), byte(w.n)
	return dst
}

func mpAppendStr(dst []byte, s string) []byte {
	switch n := len(s); {
	case n < 32:
		dst = append(dst, mpFixStr|byte(n))
	case n <= math.MaxUint8:
		dst = append(dst, mpStr8, byte(n))
	case n <= math.MaxUint16:
		dst = append(dst, mpStr16, byte(n>>8), byte(n))
	default:
		dst = append(dst, mpStr32)
		dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	}
	return append(dst, s...)
}

func mpAppendArrayHeader(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, mpFixArr|byte(n))
	case n <= math.MaxUint16:
		return append(dst, mpArr16, byte(n>>8), byte(n))
	}
	dst = append(dst, mpArr32)
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

func mpAppendUint(dst []byte, u uint64) []byte {
	switch {
	case u < 128:
		return append(dst, byte(u))
	case u <= math.MaxUint8:
		return append(dst, mpUint8, byte(u))
	case u <= math.MaxUint16:
		return append(dst, mpUint16, byte(u>>8), byte(u))
	case u <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, mpUint32), uint32(u))
	}
	return binary.BigEndian.AppendUint64(append(dst, mpUint64), u)
}

func mpAppendInt(dst []byte, v int64) []byte {
	switch {
	case v >= 0:
		return mpAppendUint(dst, uint64(v))
	case v >= -32:
		return append(dst, byte(v))
	case v >= math.MinInt8:
		return append(dst, mpInt8, byte(v))
	case v >= math.MinInt16:
		return append(dst, mpInt16, byte(v>>8), byte(v))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(dst, mpInt32), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(dst, mpInt64), uint64(v))
}

// DecodeMsgpack decodes one msgpack frame (a single map, nothing after it)
// into c, overwriting all of c. The rules are those of DecodeJSON: a map
// without `cmd` is the keepalive, unknown keys are skipped, nil counts as
// absent, errors wrap ErrMalformed or ErrUnknownCommand. Integer fields also
// accept integral floats (some JavaScript encoders write numbers as
// float64). Every declared length is checked against the bytes left before
// anything is allocated.
func DecodeMsgpack(data []byte, c *Command) error {
	*c = Command{}
	d := &mpReader{data: data}
	var st decodeState
	n, ok := d.container(mpFixMap, mpMap16, mpMap32, 2)
	if !ok {
		d.fail("not a map")
		return d.err
	}
	for range n {
		key, ok := d.strBytes()
		if !ok {
			d.fail("key is not a string")
		}
		if d.err != nil {
			return d.err
		}
		decodeField(fieldReader{mp: d}, key, c, &st)
		if d.err != nil {
			return d.err
		}
	}
	if d.pos != len(d.data) {
		d.fail("data after the map")
		return d.err
	}
	return finish(c, &st, "msgpack")
}

// maxMsgpackDepth bounds the nesting of skipped values (unknown fields).
const maxMsgpackDepth = 64

// mpReader is the scanner behind DecodeMsgpack. After the first error err is
// set and every read returns zero values.
type mpReader struct {
	data  []byte
	pos   int
	err   error
	depth int
	buf   []byte // number text and repaired strings for text()
	raw   bool   // keep invalid UTF-8 (see valueReader.keepInvalid)
}

func (d *mpReader) keepInvalid(on bool) { d.raw = on }

// string returns b as a string: as it is when raw, else repaired.
func (d *mpReader) string(b []byte) string {
	if d.raw {
		return string(b)
	}
	return validString(b)
}

var _ valueReader = (*mpReader)(nil)

func (d *mpReader) fail(msg string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: msgpack offset %d: %s", ErrMalformed, d.pos, msg)
	}
	d.pos = len(d.data)
}

func (d *mpReader) peek() (byte, bool) {
	if d.pos < len(d.data) {
		return d.data[d.pos], true
	}
	d.fail("unexpected end")
	return 0, false
}

// take consumes n bytes, failing (without allocating) if fewer are left.
func (d *mpReader) take(n uint64) []byte {
	if uint64(len(d.data)-d.pos) < n {
		d.fail("length beyond the end")
		return nil
	}
	b := d.data[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return b
}

func (d *mpReader) uintN(size int) uint64 {
	b := d.take(uint64(size))
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.BigEndian.Uint16(b))
	case 4:
		return uint64(binary.BigEndian.Uint32(b))
	case 8:
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// container reads a map or array header of the given family. Each element
// needs at least minBytes, so a count the remaining bytes cannot hold is
// malformed. ok is false (nothing consumed) when the value is another type.
func (d *mpReader) container(fix, h16, h32 byte, minBytes int) (n int, ok bool) {
	b, ok := d.peek()
	if !ok {
		return 0, false
	}
	var u uint64
	switch {
	case b&0xf0 == fix:
		d.pos++
		u = uint64(b & 0x0f)
	case b == h16:
		d.pos++
		u = d.uintN(2)
	case b == h32:
		d.pos++
		u = d.uintN(4)
	default:
		return 0, false
	}
	if u > uint64(len(d.data)-d.pos)/uint64(minBytes) {
		d.fail("count beyond the end")
		return 0, false
	}
	return int(u), true
}

// strBytes reads a str and returns its raw bytes (aliasing data).
func (d *mpReader) strBytes() ([]byte, bool) {
	b, ok := d.peek()
	if !ok {
		return nil, false
	}
	var n uint64
	switch {
	case b&0xe0 == mpFixStr:
		n = uint64(b & 0x1f)
	case b == mpStr8:
		d.pos++
		n = d.uintN(1)
		d.pos--
	case b == mpStr16:
		d.pos++
		n = d.uintN(2)
		d.pos--
	case b == mpStr32:
		d.pos++
		n = d.uintN(4)
		d.pos--
	default:
		return nil, false
	}
	d.pos++
	s := d.take(n)
	if s == nil {
		return nil, d.err == nil
	}
	return s, true
}

// number reads any msgpack int or float. isInt tells whether it is an int
// (signed or unsigned); for uint64 beyond int64, big is set and u holds it.
type mpNumber struct {
	i     int64
	u     uint64
	f     float64
	isInt bool
	big   bool
	f32   bool
}

func (d *mpReader) number() (num mpNumber, ok bool) {
	b, ok := d.peek()
	if !ok {
		return num, false
	}
	num.isInt = true
	switch {
	case b < 0x80:
		d.pos++
		num.i = int64(b)
	case b >= 0xe0:
		d.pos++
		num.i = int64(int8(b))
	case b >= mpUint8 && b <= mpUint64:
		d.pos++
		u := d.uintN(1 << (b - mpUint8))
		if u > math.MaxInt64 {
			num.big, num.u = true, u
		}
		num.i = int64(u)
	case b >= mpInt8 && b <= mpInt64:
		d.pos++
		size := 1 << (b - mpInt8)
		u := d.uintN(size)
		shift := 64 - 8*size
		num.i = int64(u<<shift) >> shift
	case b == mpFloat32:
		d.pos++
		num.isInt, num.f32 = false, true
		num.f = float64(math.Float32frombits(uint32(d.uintN(4))))
	case b == mpFloat64:
		d.pos++
		num.isInt = false
		num.f = math.Float64frombits(d.uintN(8))
	default:
		return num, false
	}
	return num, d.err == nil
}

// asInt64 converts a number to int64 when it is an integer in range.
func (n mpNumber) asInt64() (int64, bool) {
	if n.isInt {
		return n.i, !n.big
	}
	if n.f != math.Trunc(n.f) || n.f < math.MinInt64 || n.f >= math.MaxInt64 {
		return 0, false
	}
	return int64(n.f), true
}

func (d *mpReader) isNil() bool {
	if d.pos < len(d.data) && d.data[d.pos] == mpNil {
		d.pos++
		return true
	}
	return false
}

func (d *mpReader) str() (string, bool) {
	if d.isNil() {
		return "", true
	}
	if b, ok := d.strBytes(); ok {
		return d.string(b), true
	}
	d.skip()
	return "", false
}

func (d *mpReader) strs() (list []string, present, ok bool) {
	if d.isNil() {
		return nil, false, true
	}
	n, isArr := d.container(mpFixArr, mpArr16, mpArr32, 1)
	if !isArr {
		d.skip()
		return nil, false, false
	}
	ok = true
	for range n {
		if d.isNil() {
			continue
		}
		if b, isStr := d.strBytes(); isStr {
			if list == nil {
				list = make([]string, 0, min(n, 8))
			}
			list = append(list, d.string(b))
			continue
		}
		ok = false
		d.skip()
	}
	return list, true, ok
}

func (d *mpReader) int() (int64, bool) {
	if d.isNil() {
		return 0, true
	}
	if num, ok := d.number(); ok {
		return num.asInt64()
	}
	d.skip()
	return 0, false
}

func (d *mpReader) boolean() (bool, bool) {
	if d.isNil() {
		return false, true
	}
	if b, ok := d.peek(); ok && (b == mpTrue || b == mpFalse) {
		d.pos++
		return b == mpTrue, true
	}
	d.skip()
	return false, false
}

func (d *mpReader) receipt() bool {
	b, ok := d.peek()
	if !ok {
		return false
	}
	if b == mpTrue {
		d.pos++
		return true
	}
	if num, ok := d.number(); ok {
		v, isInt := num.asInt64()
		return isInt && v == 1
	}
	d.skip()
	return false
}

func (d *mpReader) text() ([]byte, bool, bool) {
	if d.isNil() {
		return nil, false, true
	}
	if b, ok := d.strBytes(); ok {
		if !utf8.Valid(b) {
			d.buf = appendValidUTF8(d.buf[:0], b)
			return d.buf, false, true
		}
		return b, false, true
	}
	num, ok := d.number()
	if !ok {
		d.skip()
		return nil, false, false
	}
	switch {
	case num.big:
		d.buf = strconv.AppendUint(d.buf[:0], num.u, 10)
	case num.isInt:
		d.buf = strconv.AppendInt(d.buf[:0], num.i, 10)
	case num.f32:
		d.buf = strconv.AppendFloat(d.buf[:0], num.f, 'f', -1, 32)
	default:
		d.buf = strconv.AppendFloat(d.buf[:0], num.f, 'f', -1, 64)
	}
	return d.buf, true, true
}

// skip skips one value of any type, checking that it fits in the data.
func (d *mpReader) skip() {
	b, ok := d.peek()
	if !ok {
		return
	}
	if _, ok := d.strBytes(); ok {
		return
	}
	if _, ok := d.number(); ok {
		return
	}
	if d.err != nil {
		return
	}
	switch {
	case b == mpNil || b == mpTrue || b == mpFalse:
		d.pos++
	case b == 0xc4 || b == 0xc5 || b == 0xc6: // bin 8/16/32
		d.pos++
		d.take(d.uintN(1 << (b - 0xc4)))
	case b >= 0xd4 && b <= 0xd8: // fixext 1/2/4/8/16: type + data
		d.pos++
		d.take(1 + 1<<(b-0xd4))
	case b == 0xc7 || b == 0xc8 || b == 0xc9: // ext 8/16/32: len, type, data
		d.pos++
		n := d.uintN(1 << (b - 0xc7))
		d.take(1 + n)
	case b&0xf0 == mpFixArr || b == mpArr16 || b == mpArr32:
		n, _ := d.container(mpFixArr, mpArr16, mpArr32, 1)
		d.skipN(n)
	case b&0xf0 == mpFixMap || b == mpMap16 || b == mpMap32:
		n, _ := d.container(mpFixMap, mpMap16, mpMap32, 2)
		d.skipN(2 * n)
	default: // 0xc1, never used
		d.fail("invalid format byte")
	}
}

func (d *mpReader) skipN(n int) {
	if d.depth++; d.depth > maxMsgpackDepth {
		d.fail("nesting too deep")
		return
	}
	for i := 0; i < n && d.err == nil; i++ {
		d.skip()
	}
	d.depth--
}

package badger

import (
	"encoding/binary"
	"fmt"
)

// maxValueDepth bounds the nesting wholeValue accepts: deeper than
// anything rtgate writes (group attributes come from encoding/json, which
// stops at 10 000 levels).
const maxValueDepth = 10000

// skipValue checks that b starts with one well-formed msgpack value and
// returns the bytes after it. Extension types are refused: rtgate stores
// none (records and groups hold strings, numbers, booleans, arrays and
// maps), and msgpack decodes an unregistered extension into a map by
// reading its payload as a map header it then sizes (FuzzDecodeGroup
// found a 14-byte group whose 1-byte extension grew the decoder past
// 20 GB). It allocates nothing and trusts no declared
// length: a string, binary or extension longer than the bytes left, or an
// array or map declaring more elements than bytes left, is refused at its
// header. (msgpack's Decoder.Skip reads a declared length into a buffer it
// grows as it goes: a 60-byte value claiming a 1 GiB extension made it
// allocate tens of megabytes, found by FuzzDecodeGroup.)
func skipValue(b []byte, depth int) ([]byte, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: value cut short", errCorrupt)
	}
	if depth > maxValueDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", errCorrupt, maxValueDepth)
	}
	c, b := b[0], b[1:]
	var data, elems int // bytes to skip, then values to skip
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return b, nil
	case c >= 0x80 && c <= 0x8f:
		elems = 2 * int(c&0x0f)
	case c >= 0x90 && c <= 0x9f:
		elems = int(c & 0x0f)
	case c >= 0xa0 && c <= 0xbf:
		data = int(c & 0x1f)
	default:
		var err error
		if b, data, elems, err = header(c, b); err != nil {
			return nil, err
		}
	}
	if data > len(b) {
		return nil, fmt.Errorf("%w: %d bytes declared, %d left", errCorrupt, data, len(b))
	}
	b = b[data:]
	if elems > len(b) { // every value takes at least one byte
		return nil, fmt.Errorf("%w: %d values declared, %d bytes left", errCorrupt, elems, len(b))
	}
	for range elems {
		var err error
		if b, err = skipValue(b, depth+1); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// header reads the length fields of a msgpack header byte c that is not a
// fix type: it returns the bytes after them, the payload bytes and the
// number of nested values (a map's keys and values both count).
func header(c byte, b []byte) (rest []byte, data, elems int, err error) {
	size := func(n int) (int, bool) { // a big-endian length of n bytes
		if len(b) < n {
			return 0, false
		}
		var v uint64
		switch n {
		case 1:
			v = uint64(b[0])
		case 2:
			v = uint64(binary.BigEndian.Uint16(b))
		case 4:
			v = uint64(binary.BigEndian.Uint32(b))
		}
		b = b[n:]
		if v > 1<<31 {
			v = 1 << 31 // more than any value can hold; refused by the caller
		}
		return int(v), true
	}
	ok := true
	switch c {
	case 0xcc, 0xd0:
		data = 1
	case 0xcd, 0xd1:
		data = 2
	case 0xca, 0xce, 0xd2:
		data = 4
	case 0xcb, 0xcf, 0xd3:
		data = 8
	case 0xc4, 0xd9: // bin8, str8
		data, ok = size(1)
	case 0xc5, 0xda:
		data, ok = size(2)
	case 0xc6, 0xdb:
		data, ok = size(4)
	case 0xdc:
		elems, ok = size(2)
	case 0xdd:
		elems, ok = size(4)
	case 0xde:
		elems, ok = size(2)
		elems *= 2
	case 0xdf:
		elems, ok = size(4)
		elems *= 2
	case 0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return nil, 0, 0, fmt.Errorf("%w: msgpack extension type %#x in a stored value", errCorrupt, c)
	default: // 0xc1 is never used
		return nil, 0, 0, fmt.Errorf("%w: invalid msgpack byte %#x", errCorrupt, c)
	}
	if !ok {
		return nil, 0, 0, fmt.Errorf("%w: value header cut short", errCorrupt)
	}
	return b, data, elems, nil
}

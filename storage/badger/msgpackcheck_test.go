package badger

import (
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// TestWholeValue: every value msgpack encodes passes whole, a cut or
// padded one does not, and headers claiming more than the bytes left are
// refused without allocating (FuzzDecodeGroup found a 60-byte group value
// whose ext32 header made msgpack's Skip allocate tens of megabytes).
func TestWholeValue(t *testing.T) {
	values := []any{
		nil, true, false, 0, 127, -1, -33, 200, 70000, int64(math.MinInt64), uint64(math.MaxUint64),
		float32(1.5), 2.5, "", "short", strings.Repeat("x", 40), strings.Repeat("y", 300), strings.Repeat("z", 70000),
		[]byte{1, 2, 3}, make([]byte, 300), make([]byte, 70000),
		[]any{}, []any{1, "a", nil}, make([]any, 20), make([]any, 70000),
		map[string]any{}, map[string]any{"a": 1, "b": []any{map[string]any{"c": "d"}}}, bigMap(20), bigMap(70000),
		msgRecord{From: "a", To: []string{"b"}, Text: "hi"},
	}
	for _, v := range values {
		b, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := wholeValue(b); err != nil {
			t.Errorf("%T (%d bytes): %v", v, len(b), err)
		}
		if len(b) > 1 {
			if err := wholeValue(b[:len(b)-1]); !errors.Is(err, errCorrupt) {
				t.Errorf("%T cut short: %v, want errCorrupt", v, err)
			}
		}
		if err := wholeValue(append(b, 0)); !errors.Is(err, errCorrupt) {
			t.Errorf("%T with a byte after it: %v, want errCorrupt", v, err)
		}
	}
	for _, ext := range [][]byte{
		{0xd4, 1, 0}, {0xd8, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		{0xc7, 2, 1, 0, 0}, {0xc8, 0, 1, 1, 0}, {0xc9, 0, 0, 0, 0, 1},
	} {
		if err := wholeValue(ext); !errors.Is(err, errCorrupt) {
			t.Errorf("ext % x: %v, want errCorrupt (rtgate stores no extension types)", ext, err)
		}
	}
	huge := [][]byte{
		[]byte("\x95\xc0\xc3\xa40000\xa100\xa400\f\xc9N\x8d0000"), // the fuzzer's: ext32 of 1.3 GB
		[]byte("\x95\xc0\xc3\xd40\xdf\xa4\x00J000"),               // the fuzzer's: fixext1 decoded as a map32 header
		{0xdb, 0x76, 0x3b, 0x0f, 0x5d, 0xff},                      // str32 of 1.98 GB
		{0xc6, 0xff, 0xff, 0xff, 0xff, 0},                         // bin32
		{0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0},                      // array32
		{0xdf, 0x7f, 0xff, 0xff, 0xff, 0xc0, 0xc0},                // map32
		{0xc1}, {},
	}
	for _, b := range huge {
		if err := wholeValue(b); !errors.Is(err, errCorrupt) {
			t.Errorf("% x: %v, want errCorrupt", b, err)
		}
		var r msgRecord
		if err := decodeRecord(b, &r); err == nil {
			t.Errorf("decodeRecord(% x) accepted it", b)
		}
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		_, _ = skipValue(b, 0)
		runtime.ReadMemStats(&m1)
		if n := m1.TotalAlloc - m0.TotalAlloc; n > 4096 { // an error message, not the declared length
			t.Errorf("% x: %d bytes allocated to refuse it", b, n)
		}
	}
	deep := strings.Repeat("\x91", maxValueDepth+2) + "\xc0"
	if err := wholeValue([]byte(deep)); !errors.Is(err, errCorrupt) {
		t.Errorf("nested %d deep: %v, want errCorrupt", maxValueDepth+2, err)
	}
}

func bigMap(n int) map[string]any {
	m := make(map[string]any, n)
	for i := range n {
		m[strings.Repeat("k", i%7)+string(rune('a'+i%26))+strings.Repeat("0", i/26%5)+string(rune(i))] = i
	}
	return m
}

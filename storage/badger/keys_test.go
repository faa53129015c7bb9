package badger

import (
	"bytes"
	"strings"
	"testing"
)

func TestIndexKeyIsKeyPlusTimeID(t *testing.T) {
	for _, strs := range [][]string{{"app"}, {"app", "conv"}, {"", "x"}, {strings.Repeat("a", 200), "b"}} {
		for _, ts := range []int64{0, 1, -5, 1 << 40} {
			want := timeID(key(tConv, strs...), ts, "id1")
			got := indexKey(tConv, ts, "id1", strs...)
			if !bytes.Equal(got, want) || cap(got) != len(got) {
				t.Fatalf("indexKey(%q, %d) = %x (cap %d), want %x", strs, ts, got, cap(got), want)
			}
		}
	}
}

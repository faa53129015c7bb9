package badger

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rtgate/rtgate/storage"
)

var keysSink [3][]byte

func TestHistoryKeysAreKeyPlusTimeID(t *testing.T) {
	for _, strs := range [][]string{{"app", "conv", "from"}, {"", "x", ""}, {strings.Repeat("a", 200), "b", strings.Repeat("c", 200)}} {
		for _, ts := range []int64{0, 1, -5, 1 << 40} {
			m := &storage.Message{App: strs[0], ConvID: strs[1], From: strs[2], Time: ts, ID: "id1"}
			want := [3][]byte{
				timeID(key(tConv, m.App, m.ConvID), ts, m.ID),
				timeID(key(tFrom, m.App, m.From), ts, m.ID),
				timeID(key(tApp, m.App), ts, m.ID),
			}
			got := historyKeys(m)
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("historyKeys(%q, %d)[%d] = %x, want %x", strs, ts, i, got[i], want[i])
				}
			}
		}
	}
	// One allocation per key for ids of up to 64 bytes.
	m := &storage.Message{App: "app", ConvID: "conv", From: "from", Time: 1, ID: strings.Repeat("i", 64)}
	if n := testing.AllocsPerRun(100, func() { keysSink = historyKeys(m) }); n != 3 {
		t.Errorf("historyKeys allocates %v times, want 3", n)
	}
}

package outq

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/rtgate/rtgate/protocol"
)

// TestDropsKeepOrder: whatever the queue drops, what it hands the writer
// is a subsequence of what was pushed, in push order.
func TestDropsKeepOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		q := New(Config{Limit: 40 + rng.IntN(200), Encode: func(dst []byte, c *protocol.Command) []byte {
			return append(dst, c.Msg...)
		}})
		var pushed, got []string
		for i := range 300 {
			tag := fmt.Sprintf("<%d>", i)
			var c *protocol.Command
			switch rng.IntN(4) {
			case 0:
				c = &protocol.Command{Kind: protocol.KindKeepalive, Msg: tag}
			default:
				c = &protocol.Command{Kind: protocol.KindPresence, PeerID: "w", SessionPeerIDs: []string{fmt.Sprint(rng.IntN(3))}, Msg: tag}
			}
			if q.Push(c) == nil {
				pushed = append(pushed, tag)
			}
			if q.Closed() {
				break
			}
			if rng.IntN(10) == 0 {
				b := q.Take()
				got = append(got, splitTags(string(b.Buf))...)
				if rng.IntN(2) == 0 {
					q.Done(b.Bytes(), b.N)
				}
			}
		}
		b := q.Take()
		got = append(got, splitTags(string(b.Buf))...)
		j := 0
		for _, g := range got {
			for j < len(pushed) && pushed[j] != g {
				j++
			}
			if j == len(pushed) {
				t.Fatalf("round %d: %v is not a subsequence of the pushes %v", round, got, pushed)
			}
		}
	}
}

func splitTags(s string) []string {
	var out []string
	for _, p := range strings.SplitAfter(s, ">") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

package transporttest

import (
	"testing"
	"time"

	"github.com/rtgate/rtgate/protocol"
)

// BenchDirect pipelines b.N transient directs from alice (on from) to bob
// (on to), both sessions already open, with at most 256 messages in
// flight, and reports msgs/s delivered.
func BenchDirect(b *testing.B, from, to ClientConn) {
	msg := &protocol.Command{Kind: protocol.KindDirect, PeerID: "alice", ToPeerIDs: []string{"bob"},
		Msg: "hello, this is a typical short chat message", Transient: true}
	// At most window messages in flight: an unbounded producer would make
	// bob a slow consumer (4201), as designed.
	const window = 256
	credit := make(chan struct{}, window)
	errc := make(chan error, 1)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	go func() {
		for range b.N {
			credit <- struct{}{}
			if err := from.Send(msg); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for i := range b.N {
		m, err := to.Recv(10 * time.Second)
		if err != nil {
			b.Fatalf("message %d: %v", i, err)
		}
		if m.Kind != protocol.KindDirect {
			b.Fatalf("got %v", m.Kind)
		}
		<-credit
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}

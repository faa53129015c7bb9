package webtransport_test

import (
	"testing"
	"time"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/transports/quic/framed"
	"github.com/rtgate/rtgate/transports/transporttest"
	"github.com/rtgate/rtgate/transports/webtransport"
)

// BenchmarkWTDirect sends transient direct messages from alice to bob, two
// WebTransport clients on loopback with a window of 256 messages in flight,
// and reports msgs/s delivered (client and server share the CPUs).
func BenchmarkWTDirect(b *testing.B) {
	hub := transporttest.NewHub(b, core.Config{})
	addr := serve(b, hub, webtransport.Config{Limits: framed.Limits{CommandsPerSecond: -1}})
	_, bob := dialT(b, addr, "/wt", nil)
	bob.Open("bob")
	_, alice := dialT(b, addr, "/wt", nil)
	alice.Open("alice", "bob")
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
			if err := alice.Conn().Send(msg); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for i := range b.N {
		m, err := bob.Conn().Recv(10 * time.Second)
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

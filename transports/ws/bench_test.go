package ws_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/transports/ws"
)

// BenchmarkWSDirect measures transient direct messages A→B through the hub
// over two real loopback WebSocket clients, with up to 256 messages (at most
// 256 KiB) in flight, so B never falls a whole queue behind. Run:
//
//	go test -run '^$' -bench WSDirect -benchtime 200000x ./transports/ws/
func BenchmarkWSDirect(b *testing.B) {
	for _, d := range dialects {
		for _, size := range []int{100, 5000} {
			b.Run(fmt.Sprintf("%s/%dB", d.name, size), func(b *testing.B) {
				benchDirect(b, d.subprotocol, size)
			})
		}
	}
}

func benchDirect(b *testing.B, subprotocol string, size int) {
	window := min(256, (256<<10)/size) // in flight: well under the 1 MiB queue
	s := newServer(b, ws.Config{CommandsPerSecond: -1})
	recv := s.dial(b, subprotocol)
	send := s.dial(b, subprotocol)
	open := func(c *wsClient, peer string, watch ...string) {
		if watch == nil {
			watch = []string{}
		}
		if err := c.Send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: "bench", PeerID: peer, SessionPeerIDs: watch}); err != nil {
			b.Fatal(err)
		}
		if f, err := c.Recv(5 * time.Second); err != nil || f.Kind != protocol.KindSessionOpened {
			b.Fatalf("open %s: %v %v", peer, f, err)
		}
	}
	open(recv, "bob")
	open(send, "alice", "bob")
	msg := make([]byte, size)
	for i := range msg {
		msg[i] = 'a' + byte(i%26)
	}
	cmd := &protocol.Command{Kind: protocol.KindDirect, PeerID: "alice", ToPeerIDs: []string{"bob"}, Msg: string(msg), Transient: true}

	credits := make(chan struct{}, window)
	for range window {
		credits <- struct{}{}
	}
	var wg sync.WaitGroup
	var rerr error
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range b.N {
			f, err := recv.Recv(10 * time.Second)
			if err != nil || f.Kind != protocol.KindDirect {
				rerr = fmt.Errorf("receiver: %v %v", f, err)
				close(credits)
				return
			}
			credits <- struct{}{}
		}
	}()
	for range b.N {
		if _, ok := <-credits; !ok {
			break
		}
		if err := send.Send(cmd); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if rerr != nil {
		b.Fatal(rerr)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}

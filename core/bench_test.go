package core_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/badger"
	"github.com/rtgate/rtgate/storage/memory"
)

// BenchmarkDirect measures the direct-message path through the core over
// in-memory conns: parallel pairs of peers, each sender sending 100-byte
// messages to its receiver, which acks each persistent one (removing it
// from its inbox) as the v1 JS client does.
func BenchmarkDirect(b *testing.B) {
	stores := map[string]func(b *testing.B) storage.Store{
		"memory": func(b *testing.B) storage.Store { return memory.New(memory.Config{}) },
		"badger": func(b *testing.B) storage.Store {
			st, err := badger.New(badger.Config{Dir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { st.Close() })
			return st
		},
	}
	for _, mode := range []string{"transient", "persistent"} {
		for _, store := range []string{"memory", "badger"} {
			if mode == "transient" && store == "badger" {
				continue // transient messages never touch the store
			}
			b.Run(mode+"/"+store, func(b *testing.B) {
				h, err := core.New(core.Config{Store: stores[store](b)})
				if err != nil {
					b.Fatal(err)
				}
				var pair atomic.Int64
				msg := string(make([]byte, 100))
				b.SetBytes(100)
				b.ReportAllocs()
				b.SetParallelism(16) // 16 × GOMAXPROCS pairs, like many connections
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					n := pair.Add(1)
					from, to := fmt.Sprintf("a%d", n), fmt.Sprintf("b%d", n)
					recv := coretest.NewCountConn(h)
					recv.Client.Handle(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: "bench", PeerID: to})
					send := coretest.NewCountConn(h)
					send.Client.Handle(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: "bench", PeerID: from, SessionPeerIDs: []string{to}})
					cmd := protocol.Command{Kind: protocol.KindDirect, PeerID: from, ToPeerIDs: []string{to}, Msg: msg, Transient: mode == "transient"}
					ack := protocol.Command{Kind: protocol.KindAck, PeerID: to, HasIDs: true, IDs: make([]string, 1)}
					sent := 0
					for pb.Next() {
						sent++
						if err := send.Client.Handle(&cmd); err != nil {
							b.Error(err)
							return
						}
						_, last := recv.Frames()
						ack.IDs[0] = last.ID
						if err := recv.Client.Handle(&ack); err != nil {
							b.Error(err)
							return
						}
					}
					if n, _ := recv.Frames(); n != sent+1 { // opened + every message
						b.Errorf("receiver got %d frames for %d messages", n, sent)
					}
				})
			})
		}
	}
}

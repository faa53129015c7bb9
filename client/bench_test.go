package client

import (
	"testing"

	"github.com/rtgate/rtgate/client/wire"
)

// BenchmarkSendPersistent measures one persistent message round trip
// (send, store, ack) plus its delivery to another client, over WebSocket
// msgpack on loopback.
func BenchmarkSendPersistent(b *testing.B) {
	srv := serveWS(b, newHub(b, nil))
	opts := &wire.Options{}
	ca, _ := newClient(b, srv.url, opts)
	alice := open(b, ca, "alice", "bob")
	cb, _ := newClient(b, srv.url, opts)
	open(b, cb, "bob", "alice")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := alice.Send(bg, []string{"bob"}, "benchmark payload", SendOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

package webtransport_test

import (
	"testing"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/transports/framed"
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
	transporttest.BenchDirect(b, alice.Conn(), bob.Conn())
}

package quic_test

import (
	"testing"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/transports/framed"
	"github.com/rtgate/rtgate/transports/quic"
	"github.com/rtgate/rtgate/transports/quic/quictest"
	"github.com/rtgate/rtgate/transports/transporttest"
)

// BenchmarkQUICDirect sends transient direct messages from alice to bob,
// two raw QUIC clients on loopback with a window of 256 messages in
// flight, and reports msgs/s delivered (client and server share the CPUs).
func BenchmarkQUICDirect(b *testing.B) {
	hub := transporttest.NewHub(b, core.Config{})
	_, addr := quictest.Serve(b, hub, quic.Config{Limits: framed.Limits{CommandsPerSecond: -1}})
	_, bob := dialT(b, addr, quictest.DialOptions{})
	bob.Open("bob")
	_, alice := dialT(b, addr, quictest.DialOptions{})
	alice.Open("alice", "bob")
	transporttest.BenchDirect(b, alice.Conn(), bob.Conn())
}

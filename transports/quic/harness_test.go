package quic_test

import (
	"testing"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/transports/framed"
	"github.com/rtgate/rtgate/transports/quic"
	"github.com/rtgate/rtgate/transports/quic/quictest"
	"github.com/rtgate/rtgate/transports/transporttest"
)

// harness runs the conformance suite over raw QUIC.
type harness struct{}

func (harness) Modern() bool { return true }

func (harness) Serve(t testing.TB, hub *core.Hub, opts transporttest.Options) string {
	srv, addr := quictest.Serve(t, hub, quic.Config{
		Limits: framed.Limits{MaxFrameBytes: opts.MaxFrameBytes, QueueBytes: opts.QueueBytes, CommandsPerSecond: -1},
	})
	if opts.Registry != nil {
		opts.Registry.MustRegister(srv.Collectors()...)
	}
	return addr
}

func (harness) Dial(t testing.TB, addr string) (transporttest.ClientConn, error) {
	c, err := quictest.Dial(addr, quictest.DialOptions{})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func TestConformance(t *testing.T) {
	transporttest.Run(t, harness{})
}

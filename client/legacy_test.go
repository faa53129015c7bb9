package client

import (
	"context"
	"testing"

	"github.com/rtgate/rtgate/client/wire"
	"github.com/rtgate/rtgate/protocol"
)

// noEcho is a connection to a v1 server that never echoes `i`, like the
// 2014 service: replies must be matched FIFO by kind.
type noEcho struct{ wire.Conn }

func (c noEcho) Recv() (*protocol.Command, error) {
	cmd, err := c.Conn.Recv()
	if cmd != nil {
		cmd.I = 0
	}
	return cmd, err
}

// TestLegacyFIFOMatching runs the scenarios in the legacy dialect against a
// server whose replies carry no `i`.
func TestLegacyFIFOMatching(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			srv := serveWS(t, newHub(t, nil))
			sc.run(t, env{url: srv.url, opts: &wire.Options{Codec: wire.CodecLegacy}, dial: noEchoDial})
		})
	}
}

func noEchoDial(ctx context.Context, url string, o *wire.Options) (wire.Conn, error) {
	c, err := wire.Dial(ctx, url, o)
	if err != nil {
		return nil, err
	}
	return noEcho{c}, nil
}

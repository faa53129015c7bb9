package framed

import (
	"testing"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/protocol"
)

// nopSession accepts datagrams and closes.
type nopSession struct{}

func (nopSession) SendDatagram([]byte) error                { return nil }
func (nopSession) CloseWithCode(protocol.CloseCode, string) {}

// TestTransientBehindQueuedFramesGoesOnStream: only a transient message
// that finds the queue empty becomes a datagram; the ones queued behind it
// (the writer has not drained yet; here no writer runs) are stream frames,
// to leave batched, and persistent messages are always stream frames.
func TestTransientBehindQueuedFramesGoesOnStream(t *testing.T) {
	c := New(nopSession{}, core.ConnInfo{Transport: "test"}, Options{Datagrams: true})
	msg := func(transient bool) *protocol.Command {
		return &protocol.Command{Kind: protocol.KindDirect, PeerID: "bob", FromPeerID: "alice", Msg: "hi", Transient: transient}
	}
	for _, cmd := range []*protocol.Command{
		msg(true),  // empty queue: a datagram
		msg(true),  // behind it: the stream
		msg(false), // persistent: the stream
		msg(true),
	} {
		if err := c.Write(cmd); err != nil {
			t.Fatal(err)
		}
	}
	b := c.q.Take()
	if len(b.Side) != 1 || b.N != 3 {
		t.Fatalf("%d datagrams, %d stream frames; want 1, 3", len(b.Side), b.N)
	}
}

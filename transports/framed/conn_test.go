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
	for i, tc := range []struct {
		cmd              *protocol.Command
		dgrams, pendingN int
	}{
		{msg(true), 1, 0},  // empty queue: a datagram
		{msg(true), 1, 1},  // behind it: the stream
		{msg(false), 1, 2}, // persistent: the stream
		{msg(true), 1, 3},
	} {
		if err := c.Write(tc.cmd); err != nil {
			t.Fatal(err)
		}
		if len(c.dgrams) != tc.dgrams || c.pendingN != tc.pendingN {
			t.Fatalf("after write %d: %d datagrams, %d stream frames; want %d, %d", i, len(c.dgrams), c.pendingN, tc.dgrams, tc.pendingN)
		}
	}
}

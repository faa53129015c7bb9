package jetstream_test

import (
	"slices"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/rtgate/rtgate/internal/natsembed/natstest"
	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/jetstream"
)

// TestRecipients: the history records name the inboxes a message went
// into, every copy's together; a record without them (as written before
// they named them) for a message with recipients makes the answer
// unknown; a message with no record is unknown too.
func TestRecipients(t *testing.T) {
	c := natstest.Single(t)
	nc := c.Connect(0)
	s := open(t, nc, jetstream.Config{Namespace: "rcp", UnsafeSingleReplica: true})
	ctx := ctxT(t, 30*time.Second)
	now := time.Now().UnixMilli()
	msg := func(id string, to ...string) *storage.Message {
		return &storage.Message{App: "app", ID: id, From: "a", To: to, ConvID: "conv", Time: now, Text: "t " + id}
	}
	// Another message of the same sender and conversation in between.
	for _, p := range []struct {
		m     *storage.Message
		inbox []string
	}{
		{msg("m1", "b"), []string{"b", "x"}}, {msg("m0", "b"), []string{"b"}}, {msg("m1", "b"), []string{"y", "b"}},
	} {
		if err := s.Persist(ctx, p.m, p.inbox); err != nil {
			t.Fatal(err)
		}
	}
	peers, known, err := s.Recipients(ctx, msg("m1"))
	if err != nil || !known || !slices.Equal(peers, []string{"b", "x", "y"}) {
		t.Fatalf("Recipients(m1) = %v, %v, %v; want [b x y], known", peers, known, err)
	}
	if peers, known, err := s.Recipients(ctx, msg("nope")); err != nil || known || len(peers) != 0 {
		t.Fatalf("Recipients(nope) = %v, %v, %v; want none, unknown", peers, known, err)
	}
	// A record of the old form: the message without its inboxes.
	old := msg("m2", "b")
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, jetstream.HistSubject("rcp", old.App, old.ConvID, old.From), jetstream.EncodeMessage(old)); err != nil {
		t.Fatal(err)
	}
	if peers, known, err := s.Recipients(ctx, old); err != nil || known || len(peers) != 0 {
		t.Fatalf("Recipients(old record) = %v, %v, %v; want none, unknown", peers, known, err)
	}
}

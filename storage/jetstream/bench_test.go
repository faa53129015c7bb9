package jetstream_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/rtgate/rtgate/internal/natsembed/natstest"
	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/jetstream"
)

// BenchmarkPending50 reads a full inbox (50 messages) through the stream
// leader of a three-server in-process cluster (R3): the drain on open.
func BenchmarkPending50(b *testing.B) {
	c := natstest.Start(b, 3)
	s, err := jetstream.Open(b.Context(), c.Connect(1), jetstream.Config{Namespace: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 50 {
		m := &storage.Message{App: "app", ID: fmt.Sprint("m", i), From: "a", Text: "hello", Time: time.Now().UnixMilli()}
		if err := s.Persist(b.Context(), m, []string{"p"}); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		ms, err := s.Pending(b.Context(), "app", "p")
		if err != nil || len(ms) != 50 {
			b.Fatalf("Pending = %d, %v", len(ms), err)
		}
	}
}

// BenchmarkPersist stores one message for one recipient (an inbox entry
// and a history record, R3, sync always), one at a time.
func BenchmarkPersist(b *testing.B) {
	c := natstest.Start(b, 3)
	s, err := jetstream.Open(b.Context(), c.Connect(1), jetstream.Config{Namespace: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		i++
		m := &storage.Message{App: "app", ID: fmt.Sprint("m", i), From: "a", Text: "hello", Time: time.Now().UnixMilli()}
		if err := s.Persist(b.Context(), m, []string{fmt.Sprint("p", i%100)}); err != nil {
			b.Fatal(err)
		}
	}
}

package badger_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/badger"
)

// BenchmarkPersist measures a durable Persist of a 200-byte direct message
// to one inbox: serially, and from many goroutines at once, where group
// commit lets one fsync acknowledge many calls.
func BenchmarkPersist(b *testing.B) {
	for _, sync := range []bool{true, false} {
		name := "sync"
		if !sync {
			name = "nosync"
		}
		b.Run(name+"/serial", func(b *testing.B) {
			s, m := benchStore(b, sync)
			ctx := context.Background()
			for i := 0; b.Loop(); i++ {
				m.ID = fmt.Sprintf("s%09d", i)
				if err := s.Persist(ctx, m, []string{fmt.Sprint("peer", i%1000)}); err != nil {
					b.Fatal(err)
				}
			}
			reportBatching(b, s)
		})
		for _, par := range []int{8, 64} {
			b.Run(fmt.Sprintf("%s/parallel-%dxGOMAXPROCS", name, par), func(b *testing.B) {
				s, m0 := benchStore(b, sync)
				ctx := context.Background()
				b.ResetTimer()
				parallelMessages(b, par, m0, func(m *storage.Message, peer string) error {
					return s.Persist(ctx, m, []string{peer})
				})
				reportBatching(b, s)
			})
		}
	}
}

// reportBatching reports how many Persists one commit carried.
func reportBatching(b *testing.B, s *badger.Store) {
	st := s.Stats()
	if st.Commits > 0 {
		b.ReportMetric(float64(st.Ops)/float64(st.Commits), "persists/commit")
	}
}

func benchStore(b *testing.B, sync bool) (*badger.Store, *storage.Message) {
	s, err := badger.New(badger.Config{Dir: b.TempDir(), NoSync: !sync, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	text := make([]byte, 200)
	for i := range text {
		text[i] = 'a' + byte(i%26)
	}
	return s, &storage.Message{App: "app", From: "sender", ConvID: "0123456789abcdef0123456789abcdef",
		To: []string{"peer"}, Text: string(text), Time: time.Now().UnixMilli(), FromIP: "192.0.2.1"}
}

// BenchmarkPersistAck measures the common path of a persistent direct
// message to an online peer: Persist, then the peer's acknowledgement
// (Remove) moments later, from many goroutines at once, with the store's
// default inbox delay (the entry never reaches the disk).
func BenchmarkPersistAck(b *testing.B) {
	s, m0 := benchStore(b, true)
	ctx := context.Background()
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	parallelMessages(b, 64, m0, func(m *storage.Message, peer string) error {
		m.Time = time.Now().UnixMilli()
		if err := s.Persist(ctx, m, []string{peer}); err != nil {
			return err
		}
		_, err := s.Remove(ctx, m.App, peer, []string{m.ID})
		return err
	})
	b.StopTimer()
	// On a loaded machine wall time per op varies; CPU time varies less.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	if st := s.Stats(); st.InboxWrites > 0 {
		b.Errorf("%d inbox entries written, want none (all acknowledged within the delay)", st.InboxWrites)
	}
}

// cpuTime returns the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// parallelMessages calls fn b.N times from par goroutines per GOMAXPROCS,
// each time with a copy of m0 under a new ID, to one of 1000 peers.
func parallelMessages(b *testing.B, par int, m0 *storage.Message, fn func(m *storage.Message, peer string) error) {
	var n atomic.Int64
	b.SetParallelism(par)
	b.RunParallel(func(pb *testing.PB) {
		m := *m0
		for pb.Next() {
			i := n.Add(1)
			m.ID = fmt.Sprintf("p%09d", i)
			if err := fn(&m, fmt.Sprint("peer", i%1000)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

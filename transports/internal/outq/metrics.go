package outq

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Drop reasons, the values of the "reason" label of *_queue_drops_total.
const (
	dropSuperseded = iota // presence: a newer event for the same watcher and peer came
	dropOldest            // presence: dropped oldest first to make room
	dropNoRoom            // presence: only replies and messages were queued
	dropCount
)

var dropNames = [dropCount]string{"presence_superseded", "presence_oldest", "presence_no_room"}

// Metrics are the queue counters of one transport, shared by its
// connections' queues. A nil *Metrics counts nothing.
type Metrics struct {
	// Drops counts frames dropped without closing the connection, by
	// reason: presence_superseded, presence_oldest, presence_no_room.
	Drops *prometheus.CounterVec
	// SlowConsumers counts connections closed with 4201 because a frame
	// had no room, by the frame's class: reply, message, control.
	SlowConsumers *prometheus.CounterVec

	drops [dropCount]prometheus.Counter
	slow  [classCount]prometheus.Counter
}

// NewMetrics returns the counters named prefix_queue_drops_total and
// prefix_queue_slow_consumers_total ("rtgate_ws"); what names the
// transport in their help.
func NewMetrics(prefix, what string) *Metrics {
	m := &Metrics{
		Drops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: prefix + "_queue_drops_total",
			Help: "Frames dropped from " + what + " outbound queues without closing the connection, by reason."}, []string{"reason"}),
		SlowConsumers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: prefix + "_queue_slow_consumers_total",
			Help: what + " connections closed with 4201 because a frame had no room in the outbound queue, by the frame's class."}, []string{"class"}),
	}
	for i := range m.drops {
		m.drops[i] = m.Drops.WithLabelValues(dropNames[i])
	}
	for _, c := range []Class{Reply, Message, Control} {
		m.slow[c] = m.SlowConsumers.WithLabelValues(c.String())
	}
	return m
}

// Collectors returns the counters, to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Drops, m.SlowConsumers}
}

func (m *Metrics) drop(reason int) {
	if m != nil {
		m.drops[reason].Inc()
	}
}

func (m *Metrics) disconnect(c Class) {
	if m != nil && m.slow[c] != nil {
		m.slow[c].Inc()
	}
}

// Pool pools pending buffers and frame indexes across a transport's
// connections so an idle connection holds none. Buffers that grew past
// maxPooled are left to the GC. A nil *Pool allocates.
type Pool struct {
	bufs slicePool[byte]
	recs slicePool[rec]
}

const (
	initialBuf = 512
	maxPooled  = 64 << 10
	maxRecs    = 1024
)

// Get returns an empty buffer.
func (p *Pool) Get() []byte {
	if p != nil {
		if b := p.bufs.get(); b != nil {
			return b[:0]
		}
	}
	return make([]byte, 0, initialBuf)
}

// Put returns b to the pool.
func (p *Pool) Put(b []byte) {
	if p == nil || b == nil || cap(b) > maxPooled {
		return
	}
	p.bufs.put(b[:0])
}

// getRecs returns an empty frame index, nil when the pool has none.
func (p *Pool) getRecs() []rec {
	if p == nil {
		return nil
	}
	return p.recs.get()
}

// putRecs returns a frame index, cleared (it holds presence keys).
func (p *Pool) putRecs(r []rec) {
	if p == nil || cap(r) == 0 || cap(r) > maxRecs {
		return
	}
	r = r[:cap(r)]
	clear(r)
	p.recs.put(r[:0])
}

// slicePool pools slices without an allocation per put: sync.Pool holds
// pointers, and the boxes that get empties are kept for the next put
// (boxing the slice afresh would allocate on every put).
type slicePool[T any] struct{ full, empty sync.Pool }

func (p *slicePool[T]) get() []T {
	b, ok := p.full.Get().(*[]T)
	if !ok {
		return nil
	}
	s := *b
	*b = nil
	p.empty.Put(b)
	return s
}

func (p *slicePool[T]) put(s []T) {
	b, _ := p.empty.Get().(*[]T)
	if b == nil {
		b = new([]T)
	}
	*b = s
	p.full.Put(b)
}

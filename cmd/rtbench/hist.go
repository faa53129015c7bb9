package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Hist is a lock-free log-linear latency histogram in microseconds (HDR
// style): values below 64 µs are exact, larger ones fall in buckets 1/64 of
// a power of two wide (under 1.6 % error), up to 2^37 µs (~38 h). Memory is
// fixed (about 16 KiB); Record is safe for concurrent use.
type Hist struct {
	b     [histBuckets]atomic.Uint64
	max   atomic.Uint64
	count atomic.Uint64
}

const (
	histSub     = 64 // buckets per power of two
	histShift   = 6  // log2(histSub)
	histMaxExp  = 31
	histBuckets = histSub + histMaxExp*histSub
)

func histIndex(us uint64) int {
	if us < histSub {
		return int(us)
	}
	e := bits.Len64(us) - histShift - 1 // us>>e is in [64,128)
	if e >= histMaxExp {
		return histBuckets - 1
	}
	return histSub + e*histSub + int(us>>e) - histSub
}

// histValue is the upper bound of bucket i, in µs.
func histValue(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	e := (i - histSub) / histSub
	m := uint64((i-histSub)%histSub + histSub)
	return (m+1)<<e - 1
}

// Record adds one latency.
func (h *Hist) Record(d time.Duration) {
	us := uint64(0)
	if d > 0 {
		us = uint64(d / time.Microsecond)
	}
	h.b[histIndex(us)].Add(1)
	h.count.Add(1)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			break
		}
	}
}

// Count is the number of recorded values.
func (h *Hist) Count() uint64 { return h.count.Load() }

// Quantile returns the value at quantile q (0..1), or 0 when empty.
func (h *Hist) Quantile(q float64) time.Duration {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i := range h.b {
		seen += h.b[i].Load()
		if seen >= rank {
			v := histValue(i)
			if m := h.max.Load(); v > m {
				v = m
			}
			return time.Duration(v) * time.Microsecond
		}
	}
	return time.Duration(h.max.Load()) * time.Microsecond
}

// Max is the largest recorded value.
func (h *Hist) Max() time.Duration { return time.Duration(h.max.Load()) * time.Microsecond }

package main

import (
	"testing"
	"time"
)

func TestHistQuantiles(t *testing.T) {
	var h Hist
	for i := 1; i <= 10000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5000 * time.Microsecond}, {0.99, 9900 * time.Microsecond}, {1, 10000 * time.Microsecond}} {
		got := h.Quantile(tc.q)
		if d := float64(got-tc.want) / float64(tc.want); d < -0.02 || d > 0.02 {
			t.Errorf("q%.2f = %v, want %v ±2%%", tc.q, got, tc.want)
		}
	}
	for us := uint64(0); us < 1<<30; us = us*3/2 + 1 {
		i := histIndex(us)
		if v := histValue(i); v < us || (us > 64 && float64(v-us)/float64(us) > 0.02) {
			t.Fatalf("bucket %d of %d has upper bound %d", i, us, v)
		}
	}
}

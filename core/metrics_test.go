package core

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestHotCounters: the pre-bound counters and the fallback count into the
// same labelled series.
func TestHotCounters(t *testing.T) {
	m := newMetrics()
	m.messageIn("direct")
	m.messageIn("direct")
	m.messageIn("group_transient")
	m.messageOut("group")
	m.messageOut("rcp") // not pre-bound
	for _, tc := range []struct {
		got  float64
		want float64
		name string
	}{
		{testutil.ToFloat64(m.MessagesIn.WithLabelValues("direct")), 2, "in direct"},
		{testutil.ToFloat64(m.MessagesIn.WithLabelValues("group_transient")), 1, "in group_transient"},
		{testutil.ToFloat64(m.MessagesIn.WithLabelValues("group")), 0, "in group"},
		{testutil.ToFloat64(m.MessagesOut.WithLabelValues("group")), 1, "out group"},
		{testutil.ToFloat64(m.MessagesOut.WithLabelValues("rcp")), 1, "out rcp"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

package pushhook

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func value(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// Counts reads the hook's counters, for tests.
func (h *Hook) Counts() (sent, retries, rejected, exhausted, full, closed float64) {
	return value(h.sent), value(h.retries),
		value(h.failed.WithLabelValues(FailRejected)), value(h.failed.WithLabelValues(FailExhausted)),
		value(h.dropped.WithLabelValues(DropQueueFull)), value(h.dropped.WithLabelValues(DropClosed))
}

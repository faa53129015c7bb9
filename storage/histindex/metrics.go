package histindex

import "github.com/prometheus/client_golang/prometheus"

// Metrics are an Indexer's collectors; the caller registers them.
type Metrics struct {
	Lag      prometheus.Gauge       // stream messages not yet applied
	Applied  prometheus.Gauge       // last stream sequence applied
	Messages prometheus.Counter     // stream messages applied (deletes included)
	Requests *prometheus.CounterVec // requests answered, by op and result
	Wait     prometheus.Histogram   // time a request waited for the index to catch up
	Gaps     prometheus.Counter     // messages read from the stream, not the consumer
}

func newMetrics() *Metrics {
	return &Metrics{
		Lag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "rtgate_hist_indexer_lag_messages",
			Help: "History stream messages this indexer has not applied yet (at its last fetch)."}),
		Applied: prometheus.NewGauge(prometheus.GaugeOpts{Name: "rtgate_hist_indexer_applied_seq",
			Help: "Last history stream sequence this indexer has applied."}),
		Messages: prometheus.NewCounter(prometheus.CounterOpts{Name: "rtgate_hist_indexer_applied_total",
			Help: "History stream messages applied by this indexer (delete records included)."}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rtgate_hist_indexer_requests_total",
			Help: "History requests answered by this indexer, by op (query, delete) and result (ok, notfound, invalid, behind, busy, internal)."},
			[]string{"op", "result"}),
		Wait: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "rtgate_hist_indexer_wait_seconds",
			Help:    "Time a history request waited for the indexer to apply the stream as far as it needed.",
			Buckets: []float64{0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 3}}),
		Gaps: prometheus.NewCounter(prometheus.CounterOpts{Name: "rtgate_hist_indexer_gap_messages_total",
			Help: "History messages read from the stream directly: delivered to an earlier run's pull request that died unacknowledged."}),
	}
}

// Collectors returns the metrics to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Lag, m.Applied, m.Messages, m.Requests, m.Wait, m.Gaps}
}

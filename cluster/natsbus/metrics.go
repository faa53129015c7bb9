package natsbus

import "github.com/prometheus/client_golang/prometheus"

// Metrics are a Bus's collectors; the caller registers them.
type Metrics struct {
	RTT         prometheus.Gauge       // last NATS round trip, seconds
	PresenceKV  *prometheus.CounterVec // presence KV writes, by op: put, delete, lease, rejoin
	KVErrors    prometheus.Counter
	Fences      prometheus.Counter // times the node fenced itself
	Transitions prometheus.Counter // presence transitions applied from the watch
	Deliveries  prometheus.Counter // deliveries published to other nodes
	Forwarded   prometheus.Counter // requests forwarded to other nodes
	Reconnects  prometheus.Counter // forced reconnects after repeated JetStream failures
	SeenRounds  prometheus.Counter // rounds of the seen barrier (registrations wait for every node's watch)
	SeenMissed  prometheus.Counter // nodes a seen round did not wait for (no confirmation within SeenTimeout, or late from an earlier round)
}

// NewMetrics returns unregistered collectors.
func NewMetrics() *Metrics {
	return &Metrics{
		RTT: prometheus.NewGauge(prometheus.GaugeOpts{Name: "rtgate_nats_rtt_seconds",
			Help: "Round trip to the NATS server, measured every lease refresh."}),
		PresenceKV: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rtgate_presence_kv_writes_total",
			Help: "Writes to the presence bucket, by op (put, delete, lease, rejoin)."}, []string{"op"}),
		KVErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "rtgate_presence_kv_errors_total",
			Help: "Failed writes to the presence bucket."}),
		Fences: prometheus.NewCounter(prometheus.CounterOpts{Name: "rtgate_node_fences_total",
			Help: "Times this node fenced itself off the cluster (lease not refreshed)."}),
		Transitions: prometheus.NewCounter(prometheus.CounterOpts{Name: "rtgate_presence_transitions_total",
			Help: "Cluster-wide presence transitions applied from the ordered watch."}),
		Deliveries: prometheus.NewCounter(prometheus.CounterOpts{Name: "rtgate_nats_deliveries_total",
			Help: "Deliveries published to node subjects (one per node per frame)."}),
		Forwarded: prometheus.NewCounter(prometheus.CounterOpts{Name: "rtgate_forwarded_requests_total",
			Help: "Requests forwarded to another node (long-poll)."}),
		Reconnects: prometheus.NewCounter(prometheus.CounterOpts{Name: "rtgate_nats_forced_reconnects_total",
			Help: "Times the node left its nats-server for another after repeated JetStream timeouts or no responders (a minority server)."}),
		SeenRounds: prometheus.NewCounter(prometheus.CounterOpts{Name: "rtgate_presence_seen_rounds_total",
			Help: "Rounds in which this node asked every other live node to confirm that its watch applied this node's latest presence writes (before answering opens and open-group joins)."}),
		SeenMissed: prometheus.NewCounter(prometheus.CounterOpts{Name: "rtgate_presence_seen_timeouts_total",
			Help: "Nodes a seen round answered without: no confirmation within SeenTimeout, or late since an earlier round (a message sent to the peer at once from that node may miss it)."}),
	}
}

// Collectors returns the metrics to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.RTT, m.PresenceKV, m.KVErrors, m.Fences, m.Transitions, m.Deliveries, m.Forwarded, m.Reconnects, m.SeenRounds, m.SeenMissed}
}

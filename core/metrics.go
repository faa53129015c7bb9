package core

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the hub's Prometheus collectors. The hub owns them; the caller
// registers them (Metrics.Collectors, reached through Hub.Metrics) wherever it serves /metrics.
type Metrics struct {
	Connections   prometheus.Gauge
	Sessions      prometheus.Gauge
	Watches       prometheus.Gauge       // watch entries (session, watched peer) on this node
	WatchRefusals prometheus.Counter     // connections closed at the app's watch bound (MaxWatchPerApp)
	MessagesIn    *prometheus.CounterVec // by kind: direct, direct_transient, group, group_transient
	MessagesOut   *prometheus.CounterVec // by kind: direct, offline, presence, rcp, group_event
	Undelivered   *prometheus.CounterVec // by reason: unwatched, not_member
	Acked         prometheus.Counter     // messages removed from inboxes by client acks
	InboxDepth    prometheus.Histogram   // pending messages redelivered at session open
	SlowConsumers prometheus.Counter     // connections closed because they did not read
	Closes        *prometheus.CounterVec // connections closed by the core, by close code
	StoreErrors   prometheus.Counter
	Deduplicated  prometheus.Counter   // repeated sends acked without storing them again (sendDedupe)
	ClusterOut    prometheus.Counter   // deliveries sent to other nodes (one per node per frame)
	ClusterIn     prometheus.Counter   // deliveries received from other nodes
	ClusterErrors prometheus.Counter   // failed presence or delivery calls to the cluster
	Fenced        prometheus.Counter   // sessions closed because the node lost the cluster
	Redrains      prometheus.Counter   // second inbox reads 1 s after an open (cluster)
	DrainSeconds  prometheus.Histogram // time to read a peer's inbox at open

	hot hotCounters
}

// hotCounters are the counters of the per-message path bound to their
// labels once: WithLabelValues hashes the labels and takes a lock on
// every call, once per delivery on a group send.
type hotCounters struct {
	in  map[string]prometheus.Counter // MessagesIn by kind
	out map[string]prometheus.Counter // MessagesOut by kind: direct, group
}

// messageIn counts a message received, by kind (see MessagesIn).
func (m *Metrics) messageIn(kind string) {
	if c, ok := m.hot.in[kind]; ok {
		c.Inc()
		return
	}
	m.MessagesIn.WithLabelValues(kind).Inc()
}

// messageOut counts a frame pushed, by kind (see MessagesOut).
func (m *Metrics) messageOut(kind string) {
	if c, ok := m.hot.out[kind]; ok {
		c.Inc()
		return
	}
	m.MessagesOut.WithLabelValues(kind).Inc()
}

func newMetrics() *Metrics {
	m := &Metrics{
		Connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rtgate_connections", Help: "Open client connections, all transports."}),
		Sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rtgate_sessions", Help: "Open sessions (connection, peer)."}),
		Watches: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rtgate_watches", Help: "Watch entries (session, watched peer) on this node."}),
		WatchRefusals: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rtgate_watch_app_limit_closes_total", Help: "Connections closed because their app reached its watch bound on this node."}),
		MessagesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rtgate_messages_in_total", Help: "Messages received from clients, by kind."}, []string{"kind"}),
		MessagesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rtgate_messages_out_total", Help: "Frames pushed to sessions, by kind."}, []string{"kind"}),
		Undelivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rtgate_messages_undelivered_total", Help: "Message recipients skipped, by reason."}, []string{"reason"}),
		Acked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rtgate_inbox_acked_total", Help: "Messages removed from inboxes by client acks."}),
		InboxDepth: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rtgate_inbox_depth", Help: "Pending inbox messages redelivered when a session opens.",
			Buckets: []float64{0, 1, 2, 5, 10, 20, 50, 100}}),
		SlowConsumers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rtgate_slow_consumer_disconnects_total", Help: "Connections closed because their outbound queue was full."}),
		Closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rtgate_core_closes_total", Help: "Connections closed by the core, by close code."}, []string{"code"}),
		StoreErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rtgate_store_errors_total", Help: "Failed storage calls."}),
		Deduplicated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rtgate_messages_deduplicated_total", Help: "Repeated sends (same client id) acked without storing or delivering them again."}),
		ClusterOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rtgate_cluster_deliveries_out_total", Help: "Deliveries sent to other nodes (one per node per frame)."}),
		ClusterIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rtgate_cluster_deliveries_in_total", Help: "Deliveries received from other nodes."}),
		ClusterErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rtgate_cluster_errors_total", Help: "Failed presence or delivery calls to the cluster."}),
		Fenced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rtgate_fenced_sessions_total", Help: "Connections closed because the node lost the cluster (fencing)."}),
		Redrains: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rtgate_inbox_redrains_total", Help: "Second inbox reads a second after an open (cluster mode)."}),
		DrainSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rtgate_inbox_drain_seconds", Help: "Time to read a peer's pending inbox at open.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}}),
	}
	m.hot.in = map[string]prometheus.Counter{}
	for _, k := range []string{"direct", "direct_transient", "group", "group_transient"} {
		m.hot.in[k] = m.MessagesIn.WithLabelValues(k)
	}
	m.hot.out = map[string]prometheus.Counter{}
	for _, k := range []string{"direct", "group"} {
		m.hot.out[k] = m.MessagesOut.WithLabelValues(k)
	}
	return m
}

// Collectors returns the metrics to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Connections, m.Sessions, m.Watches, m.WatchRefusals, m.MessagesIn, m.MessagesOut,
		m.Undelivered, m.Acked, m.InboxDepth, m.SlowConsumers, m.Closes, m.StoreErrors, m.Deduplicated,
		m.ClusterOut, m.ClusterIn, m.ClusterErrors, m.Fenced, m.Redrains, m.DrainSeconds}
}

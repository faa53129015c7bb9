package framed

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rtgate/rtgate/transports/internal/outq"
)

// Metrics are one transport's collectors, shared by its connections.
type Metrics struct {
	Conns             prometheus.Gauge
	FramesIn          prometheus.Counter
	BytesIn           prometheus.Counter
	FramesOut         prometheus.Counter // frames written to streams
	BytesOut          prometheus.Counter // stream bytes written (with prefixes)
	DatagramsOut      prometheus.Counter
	DatagramFallbacks prometheus.Counter     // transient messages a datagram could not carry, sent on the stream
	Closes            *prometheus.CounterVec // by close code sent; "abort" when the connection was lost
	Queue             *outq.Metrics          // outbound queue drops and slow consumers
}

// NewMetrics returns collectors named prefix_* ("rtgate_quic").
func NewMetrics(prefix, what string) *Metrics {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: prefix + "_" + name, Help: help})
	}
	return &Metrics{
		Conns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: prefix + "_connections", Help: "Open " + what + " connections with a stream."}),
		FramesIn:          c("frames_in_total", "Frames read from "+what+" clients."),
		BytesIn:           c("bytes_in_total", "Frame body bytes read from "+what+" clients."),
		FramesOut:         c("frames_out_total", "Frames written to "+what+" streams."),
		BytesOut:          c("bytes_out_total", "Bytes written to "+what+" streams."),
		DatagramsOut:      c("datagrams_out_total", "Transient messages sent as "+what+" datagrams."),
		DatagramFallbacks: c("datagram_fallbacks_total", "Transient messages sent on the stream because no datagram could carry them."),
		Closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: prefix + "_closes_total",
			Help: what + " connections ended, by the close code sent (\"abort\": the connection was lost)."}, []string{"code"}),
		Queue: outq.NewMetrics(prefix, what),
	}
}

// Collectors returns the collectors, to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return append([]prometheus.Collector{m.Conns, m.FramesIn, m.BytesIn, m.FramesOut, m.BytesOut,
		m.DatagramsOut, m.DatagramFallbacks, m.Closes}, m.Queue.Collectors()...)
}

func (m *Metrics) closed(code int) {
	if m == nil {
		return
	}
	if code == 0 {
		m.Closes.WithLabelValues("abort").Inc()
		return
	}
	m.Closes.WithLabelValues(strconv.Itoa(code)).Inc()
}

// BufPool pools queue buffers across a transport's connections so an idle
// connection holds none.
type BufPool = outq.Pool

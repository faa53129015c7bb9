package ws

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rtgate/rtgate/transports/internal/outq"
)

// metrics are the handler's collectors, by dialect where it matters.
type metrics struct {
	conns     prometheus.Gauge
	rejected  *prometheus.CounterVec // failed upgrades, by reason
	framesIn  [dialectCount]prometheus.Counter
	framesOut [dialectCount]prometheus.Counter
	bytesIn   [dialectCount]prometheus.Counter
	bytesOut  [dialectCount]prometheus.Counter
	closes    *prometheus.CounterVec // by code sent; "abort" when no close frame could be sent
	queue     *outq.Metrics          // outbound queue drops and slow consumers

	framesInVec, framesOutVec, bytesInVec, bytesOutVec *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		conns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rtgate_ws_connections", Help: "Open WebSocket connections."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rtgate_ws_upgrades_rejected_total", Help: "WebSocket upgrades refused, by reason."}, []string{"reason"}),
		framesInVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rtgate_ws_frames_in_total", Help: "Data frames read from clients, by dialect."}, []string{"dialect"}),
		framesOutVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rtgate_ws_frames_out_total", Help: "Data frames written to clients, by dialect."}, []string{"dialect"}),
		bytesInVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rtgate_ws_bytes_in_total", Help: "Payload bytes of data frames read, by dialect."}, []string{"dialect"}),
		bytesOutVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rtgate_ws_bytes_out_total", Help: "Bytes written to sockets (frames with headers), by dialect."}, []string{"dialect"}),
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rtgate_ws_closes_total", Help: "Connections ended, by the close code the server sent (\"abort\": none could be sent)."}, []string{"code"}),
		queue: outq.NewMetrics("rtgate_ws", "WebSocket"),
	}
	for d := range dialectCount {
		name := d.String()
		m.framesIn[d] = m.framesInVec.WithLabelValues(name)
		m.framesOut[d] = m.framesOutVec.WithLabelValues(name)
		m.bytesIn[d] = m.bytesInVec.WithLabelValues(name)
		m.bytesOut[d] = m.bytesOutVec.WithLabelValues(name)
	}
	return m
}

func (m *metrics) closed(code int) {
	if code == 0 {
		m.closes.WithLabelValues("abort").Inc()
		return
	}
	m.closes.WithLabelValues(strconv.Itoa(code)).Inc()
}

func (m *metrics) collectors() []prometheus.Collector {
	return append([]prometheus.Collector{m.conns, m.rejected, m.framesInVec, m.framesOutVec,
		m.bytesInVec, m.bytesOutVec, m.closes}, m.queue.Collectors()...)
}

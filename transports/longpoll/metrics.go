package longpoll

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rtgate/rtgate/transports/internal/outq"
)

// metrics are the handler's collectors.
type metrics struct {
	sessions     prometheus.Gauge       // sessions in the table
	opened       prometheus.Counter     // sessions opened
	held         prometheus.Gauge       // polls being held
	polls        *prometheus.CounterVec // poll responses, by result
	framesIn     prometheus.Counter     // commands applied from sends
	duplicates   prometheus.Counter     // send items skipped as already applied
	framesOut    prometheus.Counter     // frames in poll responses (resends included)
	framesResent prometheus.Counter     // frames answered again to a retried poll
	expiries     prometheus.Counter     // sessions ended for want of a poll
	closes       *prometheus.CounterVec // sessions closed, by close code
	rejected     *prometheus.CounterVec // error responses, by API error code
	queue        *outq.Metrics          // outbound queue drops and slow consumers
	forwarded    prometheus.Counter     // requests forwarded to the session's node (cluster)
}

func newMetrics() *metrics {
	return &metrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rtgate_longpoll_sessions", Help: "Long-poll sessions in the table (open, or closed and lingering)."}),
		opened: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rtgate_longpoll_sessions_opened_total", Help: "Long-poll sessions opened."}),
		held: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rtgate_longpoll_polls_held", Help: "Polls being held, waiting for frames."}),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rtgate_longpoll_polls_total", Help: "Poll results: data, ping (timeout), close, replaced (by a newer poll), gone (client left)."}, []string{"result"}),
		framesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rtgate_longpoll_frames_in_total", Help: "Commands received in sends and handed to the core."}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rtgate_longpoll_frames_in_duplicate_total", Help: "Send items skipped because their cseq was already applied (retried sends)."}),
		framesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rtgate_longpoll_frames_out_total", Help: "Frames in poll responses, resends included."}),
		framesResent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rtgate_longpoll_frames_resent_total", Help: "Frames answered again because a poll did not acknowledge them."}),
		expiries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rtgate_longpoll_expiries_total", Help: "Sessions ended because no poll came for pingInterval+pingTimeout."}),
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rtgate_longpoll_closes_total", Help: "Sessions closed, by close code."}, []string{"code"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rtgate_longpoll_requests_rejected_total", Help: "Requests answered with an error, by API error code."}, []string{"code"}),
		queue: outq.NewMetrics("rtgate_longpoll", "long-poll"),
		forwarded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rtgate_longpoll_forwarded_total", Help: "Requests for sessions of other nodes, forwarded to them (cluster)."}),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return append([]prometheus.Collector{m.sessions, m.opened, m.held, m.polls, m.framesIn, m.duplicates,
		m.framesOut, m.framesResent, m.expiries, m.closes, m.rejected, m.forwarded}, m.queue.Collectors()...)
}

package pushqueue

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rtgate/rtgate/compat/pushhook"
	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/storage"
)

// ErrConfig is returned by Open for an unusable Config.
var ErrConfig = errors.New("pushqueue: invalid config")

// Config configures a Queue. Conn and Hook are required.
type Config struct {
	Conn *nats.Conn     // not owned
	Hook *pushhook.Hook // sends the notices; not owned
	// Namespace prefixes the stream and subjects; "" means "rt".
	Namespace string
	// Replicas of the stream; 0 means 3.
	Replicas int
	// Workers is how many notices this node sends at once; 0 means 4.
	Workers int
	// AckWait is how long a notice taken by a node that stopped answering
	// waits before another node gets it; 0 means 30 s. A node sending a
	// notice for longer (retries) tells the server it is still at it.
	AckWait time.Duration
	// MaxPending bounds the publishes in flight; beyond it Notify drops.
	// 0 means 4096.
	MaxPending int
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// Queue is a node's end of the cluster's push queue.
type Queue struct {
	cfg     Config
	log     *slog.Logger
	js      jetstream.JetStream
	cons    jetstream.Consumer
	subj    string
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	queued  prometheus.Counter
	dropped prometheus.Counter
	handled prometheus.Counter
}

var _ core.OfflineNotifier = (*Queue)(nil)

// Open creates (or checks) the stream and the shared consumer and starts
// taking notices.
func Open(ctx context.Context, cfg Config) (*Queue, error) {
	if cfg.Conn == nil || cfg.Hook == nil {
		return nil, fmt.Errorf("%w: Conn and Hook are required", ErrConfig)
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "rt"
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 3
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = 30 * time.Second
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 4096
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	js, err := jetstream.New(cfg.Conn, jetstream.WithPublishAsyncMaxPending(cfg.MaxPending))
	if err != nil {
		return nil, err
	}
	name := strings.ToUpper(cfg.Namespace) + "_PUSH"
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: name, Subjects: []string{cfg.Namespace + ".push.*"}, Retention: jetstream.WorkQueuePolicy,
		Storage: jetstream.FileStorage, Replicas: cfg.Replicas, Duplicates: 2 * time.Minute,
		MaxAge: 24 * time.Hour, Description: "rtgate offline push notices (compat/pushqueue)",
	})
	if err != nil {
		return nil, fmt.Errorf("pushqueue: stream %s: %w", name, err)
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: "push", AckPolicy: jetstream.AckExplicitPolicy, AckWait: cfg.AckWait,
		MaxAckPending: 1024, Description: "rtgate push senders, shared by every node",
	})
	if err != nil {
		return nil, fmt.Errorf("pushqueue: consumer: %w", err)
	}
	q := &Queue{cfg: cfg, log: cfg.Logger, js: js, cons: cons, subj: cfg.Namespace + ".push.",
		queued: prometheus.NewCounter(prometheus.CounterOpts{Name: "rtgate_pushqueue_published_total",
			Help: "Offline push notices published to the cluster's push queue."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "rtgate_pushqueue_dropped_total",
			Help: "Offline push notices not published (too many publishes in flight, or a publish error)."}),
		handled: prometheus.NewCounter(prometheus.CounterOpts{Name: "rtgate_pushqueue_handled_total",
			Help: "Notices this node took from the push queue and finished (sent, refused or given up)."}),
	}
	runCtx, cancel := context.WithCancel(context.Background())
	q.cancel = cancel
	q.wg.Add(cfg.Workers)
	for range cfg.Workers {
		go q.work(runCtx)
	}
	return q, nil
}

// Collectors returns the queue's metrics.
func (q *Queue) Collectors() []prometheus.Collector {
	return []prometheus.Collector{q.queued, q.dropped, q.handled}
}

// Notify implements core.OfflineNotifier: it publishes the notice to the
// push queue without waiting for the server.
func (q *Queue) Notify(app *core.App, m *storage.Message, offline []string) {
	n, ok := q.cfg.Hook.NoticeFor(app.ID, m, offline)
	if !ok {
		return
	}
	b, _ := json.Marshal(n) // strings and an int always encode
	msg := &nats.Msg{Subject: q.subj + base64.RawURLEncoding.EncodeToString([]byte(app.ID)), Data: b}
	if _, err := q.js.PublishMsgAsync(msg, jetstream.WithMsgID("push."+app.ID+"."+m.ID)); err != nil {
		q.dropped.Inc()
		q.log.Warn("push queue: notice dropped", "app", app.ID, "msg", m.ID, "err", err)
		return
	}
	q.queued.Inc()
}

// work takes one notice at a time from the shared consumer and sends it,
// until ctx ends. A worker fetches only when it is free, so no notice
// waits on this node while its AckWait runs out.
func (q *Queue) work(ctx context.Context) {
	defer q.wg.Done()
	for ctx.Err() == nil {
		fctx, cancel := context.WithTimeout(ctx, time.Second)
		batch, err := q.cons.Fetch(1, jetstream.FetchContext(fctx))
		if err != nil {
			cancel()
			if ctx.Err() == nil {
				q.log.Warn("push queue: fetch failed", "err", err)
				t := time.NewTimer(time.Second)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
				}
			}
			continue
		}
		for m := range batch.Messages() {
			q.send(m)
		}
		cancel()
	}
}

// send sends one notice and acknowledges it once the hook is done with it.
func (q *Queue) send(m jetstream.Msg) {
	var n pushhook.Notice
	if err := json.Unmarshal(m.Data(), &n); err != nil {
		q.log.Error("push queue: bad notice, dropped", "err", err)
		m.Term()
		return
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // keep the notice ours while the hook retries
		defer wg.Done()
		t := time.NewTicker(q.cfg.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				m.InProgress()
			case <-done:
				return
			}
		}
	}()
	ok := q.cfg.Hook.Send(n)
	close(done)
	wg.Wait()
	if !ok {
		return // the hook closed: another node sends it after AckWait
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err := m.DoubleAck(ctx)
	cancel()
	if err != nil {
		q.log.Warn("push queue: ack failed (the notice may be sent again)", "app", n.App, "msg", n.MsgID, "err", err)
	}
	q.handled.Inc()
}

// Close stops taking notices and waits for the ones being sent (the Hook
// must be closed first to abandon their retries). Notices taken and not
// finished go to other nodes after AckWait.
func (q *Queue) Close() {
	q.cancel()
	q.wg.Wait()
}

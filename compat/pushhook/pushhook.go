// Package pushhook is the offline push webhook: it implements
// core.OfflineNotifier by POSTing, for each persistent message stored for
// peers without an open session, a signed JSON notice to the app's URL, so
// the app's own server can send APNs/FCM pushes (the v1 service sent a
// static app-configured text over APNs; protocol-v1.md §5.4, §5.9).
//
// The request body is
//
//	{"app":"APPID","from":"alice","to":["bob"],"group":"","msgId":"…","timestamp":1415000000000,"text":"<push text>"}
//
// with headers X-Rtgate-Signature: sha256=<hex HMAC-SHA256(secret, body)>,
// X-Rtgate-Timestamp (unix seconds of the attempt) and Idempotency-Key:
// <app>:<msgId> (the same on every retry). The message content itself is
// never sent: text is the app's static push text.
//
// Delivery is best effort and never affects messaging: Notify only queues
// (a bounded queue; a full queue drops the notice and counts it), worker
// goroutines owned by the Hook send, retrying network errors and 5xx (and
// 408/429) with exponential backoff up to MaxAttempts; other 4xx are not
// retried. Failures are logged and counted.
//
// Concurrency: Notify and Close are safe for concurrent use; Close stops
// the workers after they drained the queue, or when its ctx ends.
//
// Imports: the standard library, core (App, OfflineNotifier), storage
// (Message) and the Prometheus client.
package pushhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/storage"
)

// Header names of a webhook request.
const (
	HeaderSignature   = "X-Rtgate-Signature" // "sha256=" + hex HMAC-SHA256(secret, body)
	HeaderTimestamp   = "X-Rtgate-Timestamp" // unix seconds of this attempt
	HeaderIdempotency = "Idempotency-Key"    // app + ":" + msgId, stable across retries
	DefaultText       = "You have a new message"
)

// Drop reasons (label of rtgate_pushhook_dropped_total) and failure reasons
// (label of rtgate_pushhook_failed_total).
const (
	DropQueueFull = "queue_full" // Notify found the queue full
	DropClosed    = "closed"     // Notify after Close, or queued work abandoned when Close's ctx ended
	FailRejected  = "rejected"   // a 4xx answer (not 408/429): not retried
	FailExhausted = "exhausted"  // MaxAttempts network errors or 5xx
)

// ErrBadConfig is returned by New for an unusable Config.
var ErrBadConfig = errors.New("pushhook: bad config")

// Target is where one app's notices go.
type Target struct {
	// URL receives the POSTs (http or https). Required.
	URL string
	// Secret keys the HMAC-SHA256 signature. Empty means unsigned (the
	// header is then omitted); set one in production.
	Secret string
	// Text is the static push text put in every notice. Empty means
	// DefaultText.
	Text string
}

// Config configures a Hook. The zero value of every field is its
// documented default.
type Config struct {
	// Apps maps app ids to their targets; apps not listed get no notices
	// unless Default is set.
	Apps map[string]Target
	// Default, when non-nil, is the target of apps not in Apps.
	Default *Target
	// QueueSize bounds the notices waiting to be sent. Zero means 1024.
	QueueSize int
	// Workers is the number of sending goroutines. Zero means 2.
	Workers int
	// MaxAttempts bounds the tries of one notice. Zero means 5.
	MaxAttempts int
	// Backoff is the wait after the first failed try; it doubles after
	// each further one, up to MaxBackoff. Zero means 500 ms.
	Backoff time.Duration
	// MaxBackoff caps the wait between tries. Zero means 30 s.
	MaxBackoff time.Duration
	// Timeout bounds one try. Zero means 10 s.
	Timeout time.Duration
	// Client sends the requests. Nil means a client without redirects
	// (a redirect is answered as a failure, not followed).
	Client *http.Client
	// Logger receives failures. Nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock of X-Rtgate-Timestamp. Nil means time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.QueueSize <= 0 {
		c.QueueSize = 1024
	}
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.Backoff <= 0 {
		c.Backoff = 500 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 30 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Client == nil {
		c.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Notice is the JSON body of a webhook request.
type Notice struct {
	App       string   `json:"app"`
	From      string   `json:"from"`
	To        []string `json:"to"`    // the offline recipients
	Group     string   `json:"group"` // group id; "" for direct messages
	MsgID     string   `json:"msgId"`
	Timestamp int64    `json:"timestamp"` // message time, ms
	Text      string   `json:"text"`      // the app's static push text
}

// job is one queued notice.
type job struct {
	target *Target
	notice Notice
}

// Hook sends offline push notices. Create it with New; Close it once.
type Hook struct {
	cfg Config
	log *slog.Logger

	mu     sync.RWMutex
	closed bool     // guarded by mu
	queue  chan job // closed by Close under mu; drained by the workers

	runCtx    context.Context // cancelled when Close gives up waiting
	cancelRun context.CancelFunc
	wg        sync.WaitGroup // the workers

	sent    prometheus.Counter
	retries prometheus.Counter
	failed  *prometheus.CounterVec // by reason: rejected, exhausted
	dropped *prometheus.CounterVec // by reason: queue_full, closed
}

var _ core.OfflineNotifier = (*Hook)(nil)

// New validates cfg and starts the workers.
func New(cfg Config) (*Hook, error) {
	cfg = cfg.withDefaults()
	cfg.Apps = maps.Clone(cfg.Apps)
	for app, t := range cfg.Apps {
		if err := checkTarget(t); err != nil {
			return nil, fmt.Errorf("%w: app %q: %v", ErrBadConfig, app, err)
		}
	}
	if cfg.Default != nil {
		if err := checkTarget(*cfg.Default); err != nil {
			return nil, fmt.Errorf("%w: default target: %v", ErrBadConfig, err)
		}
	}
	h := &Hook{
		cfg:   cfg,
		log:   cfg.Logger,
		queue: make(chan job, cfg.QueueSize),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rtgate_pushhook_sent_total", Help: "Offline push notices accepted (2xx) by the app's webhook."}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rtgate_pushhook_retries_total", Help: "Webhook tries after a network error or 5xx."}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rtgate_pushhook_failed_total", Help: "Offline push notices given up, by reason."}, []string{"reason"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rtgate_pushhook_dropped_total", Help: "Offline push notices never sent, by reason."}, []string{"reason"}),
	}
	h.runCtx, h.cancelRun = context.WithCancel(context.Background())
	h.wg.Add(cfg.Workers)
	for range cfg.Workers {
		go h.work()
	}
	return h, nil
}

func checkTarget(t Target) error {
	if !(len(t.URL) > 7 && t.URL[:7] == "http://" || len(t.URL) > 8 && t.URL[:8] == "https://") {
		return fmt.Errorf("URL %q must be http:// or https://", t.URL)
	}
	return nil
}

// Collectors returns the hook's metrics, to register.
func (h *Hook) Collectors() []prometheus.Collector {
	return []prometheus.Collector{h.sent, h.retries, h.failed, h.dropped}
}

// target returns the app's target, or nil.
func (h *Hook) target(app string) *Target {
	if t, ok := h.cfg.Apps[app]; ok {
		return &t
	}
	return h.cfg.Default
}

// NoticeFor returns the notice of m for its offline recipients, false if
// the app has no target or nobody is offline.
func (h *Hook) NoticeFor(app string, m *storage.Message, offline []string) (Notice, bool) {
	t := h.target(app)
	if t == nil || len(offline) == 0 {
		return Notice{}, false
	}
	text := t.Text
	if text == "" {
		text = DefaultText
	}
	return Notice{App: app, From: m.From, To: slices.Clone(offline), Group: m.Room,
		MsgID: m.ID, Timestamp: m.Time, Text: text}, true
}

// Send delivers n now in the caller's goroutine, with the hook's retries,
// signature and idempotency key; a cluster's shared push queue calls it.
// It reports false only when the hook closed before it was done (the
// notice should be tried again elsewhere); sent, rejected and given up
// notices are done.
func (h *Hook) Send(n Notice) bool {
	t := h.target(n.App)
	if t == nil {
		h.failed.WithLabelValues(FailRejected).Inc()
		h.log.Warn("push hook: no target for app", "app", n.App, "msg", n.MsgID)
		return true
	}
	return h.deliver(job{target: t, notice: n})
}

// Notify implements core.OfflineNotifier: it queues a notice and never
// blocks; a full queue (or a closed hook) drops it.
func (h *Hook) Notify(app *core.App, m *storage.Message, offline []string) {
	n, ok := h.NoticeFor(app.ID, m, offline)
	if !ok {
		return
	}
	j := job{target: h.target(app.ID), notice: n}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed {
		h.dropped.WithLabelValues(DropClosed).Inc()
		return
	}
	select {
	case h.queue <- j:
	default:
		h.dropped.WithLabelValues(DropQueueFull).Inc()
		h.log.Warn("push hook queue full: notice dropped", "app", app.ID, "msg", m.ID)
	}
}

// Close stops accepting notices and waits until the workers sent what was
// queued, or until ctx ends: then it aborts the tries under way, counts
// the rest as dropped and returns ctx.Err().
func (h *Hook) Close(ctx context.Context) error {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.queue)
	}
	h.mu.Unlock()
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		h.cancelRun()
		return nil
	case <-ctx.Done():
		h.cancelRun()
		<-done
		return ctx.Err()
	}
}

// work is one worker: it sends queued notices until the queue is closed
// and drained, or the run is cancelled.
func (h *Hook) work() {
	defer h.wg.Done()
	for j := range h.queue {
		if h.runCtx.Err() != nil {
			h.dropped.WithLabelValues(DropClosed).Inc()
			continue
		}
		h.deliver(j)
	}
}

// deliver tries one notice up to MaxAttempts times. It reports false if
// the run was cancelled (Close gave up) before the notice was sent or
// refused (it is counted exhausted then, as before).
func (h *Hook) deliver(j job) bool {
	body, err := json.Marshal(j.notice)
	if err != nil { // cannot happen for Notice
		h.failed.WithLabelValues(FailRejected).Inc()
		return true
	}
	wait := h.cfg.Backoff
	var last string
	for attempt := 1; ; attempt++ {
		status, err := h.try(j.target, j.notice, body)
		switch {
		case err == nil && status/100 == 2:
			h.sent.Inc()
			return true
		case err == nil && !retryable(status):
			h.failed.WithLabelValues(FailRejected).Inc()
			h.log.Warn("push hook rejected notice", "app", j.notice.App, "msg", j.notice.MsgID, "status", status)
			return true
		case err != nil:
			last = err.Error()
		default:
			last = "status " + strconv.Itoa(status)
		}
		if attempt >= h.cfg.MaxAttempts || h.runCtx.Err() != nil {
			h.failed.WithLabelValues(FailExhausted).Inc()
			h.log.Warn("push hook gave up", "app", j.notice.App, "msg", j.notice.MsgID, "attempts", attempt, "last", last)
			return h.runCtx.Err() == nil
		}
		h.retries.Inc()
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-h.runCtx.Done():
			t.Stop()
		}
		wait = min(2*wait, h.cfg.MaxBackoff)
	}
}

// retryable reports whether an answer status is worth another try.
func retryable(status int) bool {
	return status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests
}

// try sends one request and returns the answer status.
func (h *Hook) try(t *Target, n Notice, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(h.runCtx, h.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "rtgate-pushhook/1")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(h.cfg.Now().Unix(), 10))
	req.Header.Set(HeaderIdempotency, n.App+":"+n.MsgID)
	if t.Secret != "" {
		req.Header.Set(HeaderSignature, Sign(t.Secret, body))
	}
	resp, err := h.cfg.Client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Sign returns the X-Rtgate-Signature value of body: "sha256=" and the
// lower hex HMAC-SHA256 keyed by secret.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether header is a valid X-Rtgate-Signature of body, for
// receivers written in Go.
func Verify(secret string, body []byte, header string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(header))
}

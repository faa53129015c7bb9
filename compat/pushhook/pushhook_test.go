package pushhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtgate/rtgate/compat/pushhook"
	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/memory"
)

type hit struct {
	header http.Header
	body   []byte
}

// server answers each request with the next status of statuses (the last
// one repeats) and reports every request on hits.
func server(t *testing.T, statuses ...int) (*httptest.Server, chan hit) {
	t.Helper()
	hits := make(chan hit, 64)
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		i := int(n.Add(1)) - 1
		hits <- hit{r.Header.Clone(), b}
		w.WriteHeader(statuses[min(i, len(statuses)-1)])
	}))
	t.Cleanup(srv.Close)
	return srv, hits
}

func newHook(t *testing.T, cfg pushhook.Config) *pushhook.Hook {
	t.Helper()
	cfg.Backoff = time.Millisecond
	h, err := pushhook.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	return h
}

var (
	app = &core.App{ID: "app1"}
	msg = &storage.Message{App: "app1", ID: "m1", From: "alice", Text: "secret words", Time: 1415000000000}
)

func closeHook(t *testing.T, h *pushhook.Hook) {
	t.Helper()
	if err := h.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

type counts struct{ sent, retries, rejected, exhausted, full, closed float64 }

func assertCounts(t *testing.T, h *pushhook.Hook, want counts) {
	t.Helper()
	var got counts
	got.sent, got.retries, got.rejected, got.exhausted, got.full, got.closed = h.Counts()
	if got != want {
		t.Fatalf("counts %+v, want %+v", got, want)
	}
}

func TestSignedNotice(t *testing.T) {
	srv, hits := server(t, 200)
	now := time.Unix(1415000001, 0)
	h := newHook(t, pushhook.Config{Apps: map[string]pushhook.Target{"app1": {URL: srv.URL, Secret: "s3cret", Text: "New message"}},
		Now: func() time.Time { return now }})
	h.Notify(app, msg, []string{"bob", "carol"})
	h.Notify(&core.App{ID: "other"}, msg, []string{"bob"}) // no target: ignored
	closeHook(t, h)

	got := <-hits
	if !pushhook.Verify("s3cret", got.body, got.header.Get(pushhook.HeaderSignature)) {
		t.Fatalf("signature %q does not verify", got.header.Get(pushhook.HeaderSignature))
	}
	if pushhook.Verify("other", got.body, got.header.Get(pushhook.HeaderSignature)) {
		t.Fatal("verifies with another secret")
	}
	if got.header.Get(pushhook.HeaderTimestamp) != "1415000001" || got.header.Get("Idempotency-Key") != "app1:m1" ||
		got.header.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", got.header)
	}
	want := `{"app":"app1","from":"alice","to":["bob","carol"],"group":"","msgId":"m1","timestamp":1415000000000,"text":"New message"}`
	if string(got.body) != want {
		t.Fatalf("body %s\nwant %s", got.body, want)
	}
	if len(hits) != 0 {
		t.Fatalf("%d extra requests", len(hits))
	}
	assertCounts(t, h, counts{sent: 1})
	if n := len(h.Collectors()); n != 4 {
		t.Fatalf("%d collectors", n)
	}
}

func TestRetryThenSuccess(t *testing.T) {
	srv, hits := server(t, 503, 500, 204)
	h := newHook(t, pushhook.Config{Apps: map[string]pushhook.Target{"app1": {URL: srv.URL, Secret: "k"}}})
	h.Notify(app, msg, []string{"bob"})
	closeHook(t, h)
	if len(hits) != 3 {
		t.Fatalf("%d requests, want 3", len(hits))
	}
	var keys []string
	for range 3 {
		hh := <-hits
		keys = append(keys, hh.header.Get("Idempotency-Key"))
		var n pushhook.Notice
		if err := json.Unmarshal(hh.body, &n); err != nil || n.Text != pushhook.DefaultText || n.Text == msg.Text {
			t.Fatalf("notice %s", hh.body)
		}
	}
	if !slices.Equal(keys, []string{"app1:m1", "app1:m1", "app1:m1"}) {
		t.Fatalf("idempotency keys %v", keys)
	}
	assertCounts(t, h, counts{sent: 1, retries: 2})
}

func TestNoRetryOn4xx(t *testing.T) {
	srv, hits := server(t, 400)
	h := newHook(t, pushhook.Config{Default: &pushhook.Target{URL: srv.URL}})
	h.Notify(app, msg, []string{"bob"})
	closeHook(t, h)
	if len(hits) != 1 {
		t.Fatalf("%d requests, want 1", len(hits))
	}
	if hh := <-hits; hh.header.Get(pushhook.HeaderSignature) != "" {
		t.Fatal("signed without a secret")
	}
	assertCounts(t, h, counts{rejected: 1})
}

func TestGiveUpAfterMaxAttempts(t *testing.T) {
	srv, hits := server(t, 502)
	h := newHook(t, pushhook.Config{Default: &pushhook.Target{URL: srv.URL}, MaxAttempts: 3})
	h.Notify(app, msg, []string{"bob"})
	closeHook(t, h)
	if len(hits) != 3 {
		t.Fatalf("%d requests, want 3", len(hits))
	}
	assertCounts(t, h, counts{exhausted: 1, retries: 2})
}

func TestNetworkErrorRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	h := newHook(t, pushhook.Config{Default: &pushhook.Target{URL: url}, MaxAttempts: 2})
	h.Notify(app, msg, []string{"bob"})
	closeHook(t, h)
	assertCounts(t, h, counts{exhausted: 1, retries: 1})
}

func TestQueueFullDrops(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	}))
	t.Cleanup(srv.Close)
	h := newHook(t, pushhook.Config{Default: &pushhook.Target{URL: srv.URL}, QueueSize: 1, Workers: 1})
	h.Notify(app, msg, []string{"bob"})
	<-arrived                           // the worker is busy with the first
	h.Notify(app, msg, []string{"bob"}) // queued
	h.Notify(app, msg, []string{"bob"}) // dropped: queue full
	close(release)
	closeHook(t, h)
	h.Notify(app, msg, []string{"bob"}) // dropped: closed
	assertCounts(t, h, counts{sent: 2, full: 1, closed: 1})
}

func TestCloseDeadlineAbandons(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	h := newHook(t, pushhook.Config{Default: &pushhook.Target{URL: srv.URL}, Workers: 1})
	h.Notify(app, msg, []string{"bob"})
	h.Notify(app, msg, []string{"bob"})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := h.Close(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Close = %v", err)
	}
	assertCounts(t, h, counts{exhausted: 1, closed: 1})
}

// TestHubNotifies wires the hook into a hub: a persistent message to an
// offline peer produces one notice naming it.
func TestHubNotifies(t *testing.T) {
	srv, hits := server(t, 200)
	h := newHook(t, pushhook.Config{Apps: map[string]pushhook.Target{"app1": {URL: srv.URL, Secret: "k"}}})
	hub, err := core.New(core.Config{Store: memory.New(memory.Config{}), Offline: h,
		Apps: core.StaticApps{"app1": &core.App{ID: "app1", AllowUnwatched: true}}})
	if err != nil {
		t.Fatal(err)
	}
	alice := coretest.Dial(hub, false)
	alice.Open(t, "app1", "alice")
	if err := alice.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: "alice", Msg: "hi", ToPeerIDs: []string{"bob"}, I: 1}); err != nil {
		t.Fatal(err)
	}
	ack := alice.Expect(t, protocol.KindAck)
	got := <-hits
	var n pushhook.Notice
	if err := json.Unmarshal(got.body, &n); err != nil || n.MsgID != ack.UID || !slices.Equal(n.To, []string{"bob"}) || n.From != "alice" {
		t.Fatalf("notice %s (ack %+v)", got.body, *ack)
	}
}

func TestBadConfig(t *testing.T) {
	for _, cfg := range []pushhook.Config{
		{Apps: map[string]pushhook.Target{"a": {URL: "ftp://x"}}},
		{Default: &pushhook.Target{}},
	} {
		if _, err := pushhook.New(cfg); err == nil {
			t.Fatalf("New(%+v) succeeded", cfg)
		}
	}
}

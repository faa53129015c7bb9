package pushqueue_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rtgate/rtgate/compat/pushhook"
	"github.com/rtgate/rtgate/compat/pushqueue"
	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/internal/natsembed/natstest"
	"github.com/rtgate/rtgate/storage"
)

const secret = "s3cret"

// receiver is the app's webhook: it counts calls by Idempotency-Key and
// checks each signature; calls to /a wait until block is closed.
type receiver struct {
	t       *testing.T
	mu      sync.Mutex
	calls   map[string]int
	atA     []string
	block   chan struct{}
	arrived chan struct{} // one value per call
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if !pushhook.Verify(secret, body, req.Header.Get(pushhook.HeaderSignature)) {
		r.t.Errorf("bad signature on %s", body)
	}
	key := req.Header.Get(pushhook.HeaderIdempotency)
	r.mu.Lock()
	r.calls[key]++
	if req.URL.Path == "/a" {
		r.atA = append(r.atA, key)
	}
	r.mu.Unlock()
	r.arrived <- struct{}{}
	if req.URL.Path == "/a" {
		<-r.block
	}
}

func node(t *testing.T, nc *nats.Conn, url string) (*pushhook.Hook, *pushqueue.Queue) {
	t.Helper()
	hook, err := pushhook.New(pushhook.Config{Default: &pushhook.Target{URL: url, Secret: secret},
		Backoff: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q, err := pushqueue.Open(ctx, pushqueue.Config{Conn: nc, Hook: hook, AckWait: 2 * time.Second, Workers: 2,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return hook, q
}

// TestOnePushPerMessage: two nodes share the push queue on a three-server
// cluster; each notice is sent once, by one node, signed and with its
// idempotency key. Node A dies (its connection closed) while its webhook
// calls hang: the notices it held are sent by node B, with the same keys,
// and nothing else is sent twice.
func TestOnePushPerMessage(t *testing.T) {
	c := natstest.Start(t, 3)
	r := &receiver{t: t, calls: map[string]int{}, block: make(chan struct{}), arrived: make(chan struct{}, 1000)}
	srv := httptest.NewServer(r)
	defer srv.Close()
	defer close(r.block)

	ncA := c.Connect(0)
	hookA, qA := node(t, ncA, srv.URL+"/a")
	hookB, qB := node(t, c.Connect(1), srv.URL+"/b")
	defer func() { qB.Close(); hookB.Close(context.Background()) }()

	app := &core.App{ID: "app"}
	const n = 60
	for i := range n {
		m := &storage.Message{App: "app", ID: fmt.Sprint("m", i), From: "alice", Time: int64(i)}
		q := qA
		if i%2 == 1 {
			q = qB
		}
		q.Notify(app, m, []string{"bob"})
		if i%10 == 0 { // the same message notified again (a retried store) is queued once
			q.Notify(app, m, []string{"bob"})
		}
	}
	// Wait for every key, or for node A's workers to hang on /a.
	deadline := time.After(60 * time.Second)
	waitCalls := func(want int) {
		t.Helper()
		for got := 0; got < want; got++ {
			select {
			case <-r.arrived:
			case <-deadline:
				r.mu.Lock()
				defer r.mu.Unlock()
				t.Fatalf("%d webhook calls of %d: %v", got, want, r.calls)
			}
		}
	}
	waitCalls(n)
	// Node A dies mid-delivery: connection gone, sends abandoned, no ack.
	ncA.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	hookA.Close(ctx)
	qA.Close()
	r.mu.Lock()
	stuck := append([]string(nil), r.atA...)
	r.mu.Unlock()
	if len(stuck) == 0 {
		t.Fatal("node A sent nothing: the test does not kill a node mid-delivery")
	}
	waitCalls(len(stuck)) // node B sends them after AckWait
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.calls) != n {
		t.Fatalf("%d keys called, want %d", len(r.calls), n)
	}
	twice := map[string]bool{}
	for _, k := range stuck {
		twice[k] = true
	}
	for k, got := range r.calls {
		if want := map[bool]int{false: 1, true: 2}[twice[k]]; got != want {
			t.Errorf("key %s called %d times, want %d (held by the dead node: %v)", k, got, want, twice[k])
		}
	}
}

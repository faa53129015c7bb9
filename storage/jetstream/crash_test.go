package jetstream_test

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/rtgate/rtgate/internal/natsembed/natstest"
	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/jetstream"
)

func TestMain(m *testing.M) {
	natstest.ServeIfChild()
	os.Exit(m.Run())
}

// TestStreamLeaderCrash runs three nats-servers as child processes and
// persists messages from four writers; then it kills the server leading
// the inbox stream with SIGKILL. Writes resume within 10 s, every
// acknowledged message is in the inbox afterwards (leader reads, after
// the killed server is back), and none is stored twice (the retries kept
// their Nats-Msg-Id).
func TestStreamLeaderCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills nats-server processes")
	}
	procs := natstest.StartProcs(t, 3)
	nc := procs.Connect(0)
	ctx := ctxT(t, 120*time.Second)
	s := open(t, nc, jetstream.Config{Namespace: "crash", Limits: storage.Limits{InboxSize: 100_000}, InboxDelay: -1})

	const writers, before, after = 4, 50, 50 // acks per writer before the kill and after
	var (
		mu      sync.Mutex
		acked   = map[int][]string{} // writer -> ids acknowledged
		killed  time.Time            // guarded by mu; zero before the kill
		resumed time.Duration        // first ack completed after the kill
		failed  []error
	)
	kill := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := 0; ; i++ {
				mu.Lock()
				n, k := len(acked[w]), killed
				mu.Unlock()
				if n >= before+after && !k.IsZero() {
					return
				}
				if n == before && w == 0 {
					select {
					case kill <- struct{}{}:
					default:
					}
				}
				if ctx.Err() != nil {
					return
				}
				id := fmt.Sprintf("w%d-%04d", w, i)
				err := s.Persist(ctx, &storage.Message{App: "app", ID: id, From: "a", Text: "x", Time: time.Now().UnixMilli()}, []string{fmt.Sprint("peer", w)})
				mu.Lock()
				if err != nil {
					failed = append(failed, err)
				} else {
					acked[w] = append(acked[w], id)
					if !killed.IsZero() && resumed == 0 {
						resumed = time.Since(killed)
					}
				}
				mu.Unlock()
			}
		})
	}
	select {
	case <-kill:
	case <-ctx.Done():
		t.Fatal("writers did not get going")
	}
	leader := procs.StreamLeader(ctx, nc, "CRASH_INBOX")
	if leader < 0 {
		t.Fatal("no leader for CRASH_INBOX")
	}
	mu.Lock()
	killed = time.Now()
	mu.Unlock()
	procs.Kill(leader)
	t.Logf("killed %s (SIGKILL), the CRASH_INBOX leader", procs.Names[leader])
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("writers did not finish: %v", ctx.Err())
	}
	t.Logf("first acknowledged write %v after the kill; %d writes failed (not acknowledged)", resumed, len(failed))
	if resumed > 10*time.Second {
		t.Errorf("writes resumed %v after the leader's crash, want < 10 s", resumed)
	}
	procs.Restart(leader)

	js, err := njs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, "CRASH_INBOX")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx, njs.WithSubjectFilter("crash.inbox.>"))
	if err != nil {
		t.Fatal(err)
	}
	for w := range writers {
		ms, err := s.Pending(ctx, "app", fmt.Sprint("peer", w))
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, m := range ms {
			have[m.ID] = true
		}
		for _, id := range acked[w] {
			if !have[id] {
				t.Errorf("acknowledged %s lost", id)
			}
		}
		// Every copy on the subject is a distinct message: no retry
		// stored a second copy.
		total := info.State.Subjects["crash.inbox."+jetstream.Tok("app")+"."+jetstream.Tok(fmt.Sprint("peer", w))]
		if total != uint64(len(ms)) {
			t.Errorf("peer%d: %d stored copies of %d messages: a retry was stored twice", w, total, len(ms))
		}
		if len(ms) < len(acked[w]) {
			t.Errorf("peer%d: %d pending, %d acknowledged", w, len(ms), len(acked[w]))
		}
	}
}

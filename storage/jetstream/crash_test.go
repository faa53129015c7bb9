package jetstream_test

import (
	"fmt"
	"os"
	"strings"
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
// the stream the writes wait on with SIGKILL: RT_INBOX when every entry is
// published with its message (InboxDelay -1), RT_HIST when entries are
// held (the default: a Persist then writes only the history record).
// Writes resume within 10 s, every acknowledged message is in the inbox
// afterwards (leader reads, after the killed server is back, once the
// held entries are published), and none is stored twice (the retries
// kept their Nats-Msg-Id).
func TestStreamLeaderCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills nats-server processes")
	}
	t.Run("inbox leader", func(t *testing.T) { streamLeaderCrash(t, "crash", "CRASH_INBOX", -1) })
	t.Run("history leader, held entries", func(t *testing.T) { streamLeaderCrash(t, "crashh", "CRASHH_HIST", 0) })
}

func streamLeaderCrash(t *testing.T, ns, victim string, delay time.Duration) {
	procs := natstest.StartProcs(t, 3)
	nc := procs.Connect(0)
	ctx := ctxT(t, 120*time.Second)
	s := open(t, nc, jetstream.Config{Namespace: ns, Limits: storage.Limits{InboxSize: 100_000}, InboxDelay: delay})

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
	leader := procs.StreamLeader(ctx, nc, victim)
	if leader < 0 {
		t.Fatalf("no leader for %s", victim)
	}
	mu.Lock()
	killed = time.Now()
	mu.Unlock()
	procs.Kill(leader)
	t.Logf("killed %s (SIGKILL), the %s leader", procs.Names[leader], victim)
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("writers did not finish: %v", ctx.Err())
	}
	t.Logf("first acknowledged write %v after the kill; %d writes failed (not acknowledged)", resumed, len(failed))
	if resumed > 10*time.Second {
		t.Errorf("writes resumed %v after the leader's crash, want < 10 s", resumed)
	}
	procs.Restart(leader)
	for { // the held entries are published after InboxDelay
		if _, held, _ := s.Stats(); held == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("held entries not published")
		case <-time.After(20 * time.Millisecond):
		}
	}

	js, err := njs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, strings.ToUpper(ns)+"_INBOX")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx, njs.WithSubjectFilter(ns+".inbox.>"))
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
		total := info.State.Subjects[ns+".inbox."+jetstream.Tok("app")+"."+jetstream.Tok(fmt.Sprint("peer", w))]
		if total != uint64(len(ms)) {
			t.Errorf("peer%d: %d stored copies of %d messages: a retry was stored twice", w, total, len(ms))
		}
		if len(ms) < len(acked[w]) {
			t.Errorf("peer%d: %d pending, %d acknowledged", w, len(ms), len(acked[w]))
		}
	}
}

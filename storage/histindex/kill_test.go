package histindex

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtgate/rtgate/internal/natsembed/natstest"
	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/badger"
	jsstore "github.com/rtgate/rtgate/storage/jetstream"
)

// Environment of the indexer child process (TestMain).
const (
	envChildURL   = "RTGATE_HISTINDEX_CHILD_URL"
	envChildDir   = "RTGATE_HISTINDEX_CHILD_DIR"
	envChildBatch = "RTGATE_HISTINDEX_CHILD_BATCH"
)

// TestMain runs an indexer instead of the tests when the environment
// names one: the process TestIndexerSIGKILL kills.
func TestMain(m *testing.M) {
	if url := os.Getenv(envChildURL); url != "" {
		os.Exit(runChild(url))
	}
	os.Exit(m.Run())
}

func runChild(url string) int {
	nc, err := nats.Connect(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	batch, _ := strconv.Atoi(os.Getenv(envChildBatch))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	ix, err := Open(ctx, Config{Conn: nc, Dir: os.Getenv(envChildDir), Name: "killed", Batch: batch,
		MemTableSize: 4 << 20, Logger: slog.New(slog.DiscardHandler)})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer ix.Close()
	select {} // until killed
}

// startChild starts an indexer process on dir.
func startChild(t *testing.T, url, dir string, batch int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChildURL+"="+url, envChildDir+"="+dir, envChildBatch+"="+strconv.Itoa(batch))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// TestIndexerSIGKILL: an indexer process killed with SIGKILL in the middle
// of its catch-up, while more messages arrive, then started again on its
// directory, answers every page as a single node does: no message missing
// or repeated.
func TestIndexerSIGKILL(t *testing.T) {
	c := natstest.Start(t, 3)
	nc := c.Connect(0)
	st, err := jsstore.Open(ctxT(t, 30*time.Second), nc, jsstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ref, err := badger.New(badger.Config{Dir: t.TempDir(), MemTableSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	persist := func(ms []*storage.Message) {
		t.Helper()
		persistAll(t, ms, ref)
		var wg sync.WaitGroup
		errs := make(chan error, len(ms))
		sem := make(chan struct{}, 32)
		for _, m := range ms {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if err := st.Persist(context.Background(), m, nil); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	base := time.Now().UnixMilli()
	persist(messages(3000, base, "m"))

	dir := t.TempDir()
	child := startChild(t, c.URL(), dir, 1) // one message a batch: slow enough to kill mid-way
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// Kill it once it has applied some of the stream, not all.
	deadline := time.Now().Add(60 * time.Second)
	var floor uint64
	for floor < 200 {
		if time.Now().After(deadline) {
			t.Fatal("the indexer process applied nothing in a minute")
		}
		if cons, err := js.Consumer(context.Background(), jsstore.HistStream(""), ConsumerName("killed")); err == nil {
			if info, err := cons.Info(context.Background()); err == nil {
				floor = info.AckFloor.Stream
			}
		}
		time.Sleep(10 * time.Millisecond) // polling another process's progress
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	if floor >= 3000 {
		t.Fatalf("killed after applying everything (%d): not mid catch-up", floor)
	}
	t.Logf("killed at ack floor %d of 3000", floor)
	persist(messages(500, base+5000, "n"))

	startChild(t, c.URL(), dir, 0)
	cl, err := NewClient(ClientConfig{Conn: nc, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// The restarted indexer answers once it has applied the whole stream
	// (read-your-writes); until it subscribes there is no responder.
	for {
		_, err := cl.Query(ctxT(t, 30*time.Second), storage.HistoryQuery{App: "a", Limit: 1})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted indexer: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // waiting for another process to start
	}
	same(t, "after SIGKILL", ref, cl, base)
}

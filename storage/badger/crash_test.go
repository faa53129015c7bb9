package badger_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/badger"
)

// crashDirEnv names the store directory of the crash child process;
// crashAckEnv, if set, makes it acknowledge (Remove) each message once
// persisted.
const (
	crashDirEnv = "RTGATE_BADGER_CRASH_DIR"
	crashAckEnv = "RTGATE_BADGER_CRASH_ACK"
	// crashReopenEnv, if set, makes it persist one message ("w-first") and
	// close the store cleanly before it reopens it and starts.
	crashReopenEnv = "RTGATE_BADGER_CRASH_REOPEN"
	// crashScriptEnv, if set, makes it run crashScript instead.
	crashScriptEnv = "RTGATE_BADGER_CRASH_SCRIPT"
)

// crashAckDelay is the InboxDelay of the acknowledging crash test.
const crashAckDelay = 50 * time.Millisecond

// crashConfig is the store configuration of both sides of the crash test.
func crashConfig(dir string) badger.Config {
	return badger.Config{
		Dir:    dir,
		Limits: storage.Limits{InboxSize: 1 << 20},
		Logger: slog.New(slog.DiscardHandler),
	}
}

// TestCrashChild is the process TestCrash kills: it persists messages from
// a few goroutines and prints each id once Persist has returned.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("runs only as TestCrash's child")
	}
	if os.Getenv(crashScriptEnv) != "" {
		crashScript(dir)
	}
	ack := os.Getenv(crashAckEnv) != ""
	cfg := crashConfig(dir)
	if ack {
		cfg.InboxDelay = crashAckDelay
	}
	if os.Getenv(crashReopenEnv) != "" {
		s, err := badger.New(cfg)
		if err == nil {
			m := &storage.Message{App: "app", ID: "w-first", From: "x", ConvID: "conv", Time: time.Now().UnixMilli()}
			err = errors.Join(s.Persist(context.Background(), m, []string{"peer"}), s.Close())
		}
		if err != nil {
			fmt.Println("first open:", err)
			os.Exit(2)
		}
		fmt.Println("w-first") // acknowledged, like the others
	}
	s, err := badger.New(cfg)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	out := make(chan string, 64)
	for w := range 4 {
		go func() {
			for i := 0; ; i++ {
				m := &storage.Message{App: "app", ID: fmt.Sprintf("w%d-%06d", w, i), From: "x",
					ConvID: "conv", Time: time.Now().UnixMilli(), Text: "crash test"}
				if err := s.Persist(context.Background(), m, []string{"peer"}); err != nil {
					out <- "error " + err.Error()
					return
				}
				if ack {
					if _, err := s.Remove(context.Background(), "app", "peer", []string{m.ID}); err != nil {
						out <- "error " + err.Error()
						return
					}
				}
				out <- m.ID
			}
		}()
	}
	for line := range out {
		fmt.Println(line) // unbuffered: the parent sees it at once
	}
}

// startCrashChild starts TestCrashChild in a process of its own with env
// added; the scanner reads the ids it prints.
func startCrashChild(t *testing.T, env ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v=false")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, bufio.NewScanner(stdout)
}

// TestCrash SIGKILLs a process in the middle of a stream of Persists and
// checks that every message it acknowledged is in the history and in the
// inbox after reopening.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	// Round 3 runs after a clean close and reopen: the delayed entries
	// must not be taken for written because the last stop was clean.
	for round := range 4 {
		t.Run(strconv.Itoa(round), func(t *testing.T) {
			dir := t.TempDir()
			env := []string{crashDirEnv + "=" + dir}
			if round == 3 {
				env = append(env, crashReopenEnv+"=1")
			}
			cmd, sc := startCrashChild(t, env...)
			acked := map[string]bool{}
			kill := 200 + 150*(round%3) // acknowledgements to see before the kill
			for sc.Scan() {
				line := sc.Text()
				if len(line) > 0 && line[0] != 'w' {
					t.Fatalf("child: %s", line)
				}
				acked[line] = true
				if len(acked) == kill {
					if err := cmd.Process.Kill(); err != nil {
						t.Fatal(err)
					}
				}
			}
			_ = cmd.Wait()
			if len(acked) < kill {
				t.Fatalf("child printed %d ids before exiting, want at least %d", len(acked), kill)
			}

			s, err := badger.New(crashConfig(dir))
			if err != nil {
				t.Fatalf("reopen after kill: %v", err)
			}
			defer s.Close()
			ctx := context.Background()
			pending, err := s.Pending(ctx, "app", "peer")
			if err != nil {
				t.Fatal(err)
			}
			inbox := map[string]bool{}
			for _, m := range pending {
				inbox[m.ID] = true
			}
			for what, have := range map[string]map[string]bool{
				"history by conversation": historyIDs(t, s, storage.HistoryQuery{App: "app", ConvID: "conv"}),
				"history by sender":       historyIDs(t, s, storage.HistoryQuery{App: "app", From: "x"}),
				"inbox":                   inbox,
			} {
				if missing := countMissing(acked, have); missing > 0 {
					t.Errorf("%s lacks %d of %d acknowledged messages", what, missing, len(acked))
				}
				t.Logf("%s: %d messages, %d acknowledged before the kill", what, len(have), len(acked))
			}
		})
	}
}

// TestCrashAfterAcks SIGKILLs a process that persists and acknowledges
// messages, with a 50 ms InboxDelay: after reopening, every message is in
// the history, and only those acknowledged just before the kill (whose
// removal was still in memory) may be pending again, never older ones.
func TestCrashAfterAcks(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	dir := t.TempDir()
	cmd, sc := startCrashChild(t, crashDirEnv+"="+dir, crashAckEnv+"=1")
	acked := map[string]time.Time{}
	var start, killed time.Time
	for sc.Scan() {
		line := sc.Text()
		if len(line) > 0 && line[0] != 'w' {
			t.Fatalf("child: %s", line)
		}
		now := time.Now()
		acked[line] = now
		if start.IsZero() {
			start = now
		}
		// Run long enough for many flushes of delayed entries.
		if killed.IsZero() && now.Sub(start) > 800*time.Millisecond {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = now
		}
	}
	_ = cmd.Wait()
	if killed.IsZero() {
		t.Fatalf("child exited after %d acknowledgements", len(acked))
	}

	s, err := badger.New(crashConfig(dir))
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	// Both history indexes, paged: every message once.
	for _, q := range []storage.HistoryQuery{{App: "app", ConvID: "conv"}, {App: "app", From: "x"}} {
		if missing := countMissing(acked, historyIDs(t, s, q)); missing > 0 {
			t.Errorf("history %+v lacks %d of %d acknowledged messages", q, missing, len(acked))
		}
	}
	pending, err := s.Pending(ctx, "app", "peer")
	if err != nil {
		t.Fatal(err)
	}
	// An acknowledgement older than the delay plus the committer's flush
	// interval (a quarter of the delay), with a wide margin, was written.
	old := 0
	for _, m := range pending {
		if at, ok := acked[m.ID]; ok && killed.Sub(at) > 10*crashAckDelay {
			old++
		}
	}
	if old > 0 {
		t.Errorf("%d messages acknowledged more than %v before the kill are pending again", old, 10*crashAckDelay)
	}
	if len(pending) == len(acked) {
		t.Errorf("all %d acknowledged messages are pending again", len(acked))
	}
	t.Logf("%d acknowledged in %v; %d pending again after the kill", len(acked), killed.Sub(start), len(pending))
}

// historyIDs pages through the history q selects (a page of 100 at a
// time) and returns the ids; a message seen twice is an error.
func historyIDs(t *testing.T, s *badger.Store, q storage.HistoryQuery) map[string]bool {
	t.Helper()
	q.Limit = 100
	have := map[string]bool{}
	for {
		page, err := s.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page {
			if have[m.ID] {
				t.Errorf("history %+v returns %s twice", q, m.ID)
			}
			have[m.ID] = true
		}
		if len(page) < q.Limit {
			return have
		}
		q.Before, q.BeforeID = page[len(page)-1].Time, page[len(page)-1].ID
	}
}

// crashScriptDelay is the InboxDelay of crashScript.
const crashScriptDelay = 200 * time.Millisecond

// crashScript persists z and a to an online peer 180 ms apart, then, 120
// ms later, b to an offline peer, so that b's history index entries are
// the only delayed thing left once a's inbox entry is written (at about
// 1.1 delays after z, while b's index is written at 1.5): the checkpoint
// written with a's entry must not pass b. It prints "ready" after b and
// waits to be killed.
func crashScript(dir string) {
	cfg := crashConfig(dir)
	cfg.InboxDelay = crashScriptDelay
	s, err := badger.New(cfg)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	persist := func(id string, offline []string) {
		m := &storage.Message{App: "app", ID: id, From: "x", ConvID: "conv", Time: time.Now().UnixMilli()}
		if err := s.PersistOffline(ctx, m, []string{"peer"}, offline); err != nil {
			fmt.Println("persist:", err)
			os.Exit(2)
		}
	}
	persist("z", nil)
	time.Sleep(180 * time.Millisecond)
	persist("a", nil)
	time.Sleep(120 * time.Millisecond)
	persist("b", []string{"peer"})
	fmt.Println("ready")
	select {}
}

// TestCrashDelayedIndexOnly kills crashScript between the write of the
// last delayed inbox entry and that of the last delayed history index
// entries: after reopening, the history holds all three messages.
func TestCrashDelayedIndexOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	for round := range 3 {
		t.Run(strconv.Itoa(round), func(t *testing.T) {
			dir := t.TempDir()
			cmd, sc := startCrashChild(t, crashDirEnv+"="+dir, crashScriptEnv+"=1")
			if !sc.Scan() || sc.Text() != "ready" {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("child: %q", sc.Text())
			}
			time.Sleep(150 * time.Millisecond)
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			s, err := badger.New(crashConfig(dir))
			if err != nil {
				t.Fatalf("reopen after kill: %v", err)
			}
			defer s.Close()
			for _, q := range []storage.HistoryQuery{{App: "app", ConvID: "conv"}, {App: "app", From: "x"}} {
				have := historyIDs(t, s, q)
				if !have["z"] || !have["a"] || !have["b"] || len(have) != 3 {
					t.Errorf("history %+v after the kill = %v, want z, a, b", q, have)
				}
			}
		})
	}
}

// countMissing returns how many of the ids acked are not in have.
func countMissing[V any](acked map[string]V, have map[string]bool) int {
	n := 0
	for id := range acked {
		if !have[id] {
			n++
		}
	}
	return n
}

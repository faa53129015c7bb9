package badger_test

import (
	"bufio"
	"context"
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

// crashDirEnv names the store directory of the crash child process.
const crashDirEnv = "RTGATE_BADGER_CRASH_DIR"

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
	s, err := badger.New(crashConfig(dir))
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
				out <- m.ID
			}
		}()
	}
	for line := range out {
		fmt.Println(line) // unbuffered: the parent sees it at once
	}
}

// TestCrash SIGKILLs a process in the middle of a stream of Persists and
// checks that every message it acknowledged is in the history and in the
// inbox after reopening.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	for round := range 3 {
		t.Run(strconv.Itoa(round), func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v=false")
			cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
			cmd.Stderr = os.Stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			acked := map[string]bool{}
			sc := bufio.NewScanner(stdout)
			kill := 200 + 150*round // acknowledgements to see before the kill
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
			hist, err := s.Query(ctx, storage.HistoryQuery{App: "app", ConvID: "conv", Limit: storage.MaxHistoryLimit})
			if err != nil {
				t.Fatal(err)
			}
			pending, err := s.Pending(ctx, "app", "peer")
			if err != nil {
				t.Fatal(err)
			}
			for what, ms := range map[string][]*storage.Message{"history": hist, "inbox": pending} {
				have := map[string]bool{}
				for _, m := range ms {
					have[m.ID] = true
				}
				missing := 0
				for id := range acked {
					if !have[id] {
						missing++
					}
				}
				if missing > 0 {
					t.Errorf("%s lacks %d of %d acknowledged messages", what, missing, len(acked))
				}
				t.Logf("%s: %d messages, %d acknowledged before the kill", what, len(ms), len(acked))
			}
		})
	}
}

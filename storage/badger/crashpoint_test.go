package badger

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	bdg "github.com/dgraph-io/badger/v4"

	"github.com/rtgate/rtgate/storage"
)

// crashEnv is one store directory that a test opens, crashes at a chosen
// point, and reopens. InboxDelay is an hour, so nothing is flushed but
// when the test says so (flushDelayed, Close). The crashes are process
// crashes (badger's logs survive), so the store does not fsync (NoSync).
type crashEnv struct {
	t    *testing.T
	dir  string
	ctx  context.Context
	base int64 // the time of the first message
	n    int   // messages persisted
	// stopped is set when the committer of the last store opened with a
	// crash point has been asked to stop there.
	stopped atomic.Bool
}

func newCrashEnv(t *testing.T) *crashEnv {
	return &crashEnv{t: t, dir: t.TempDir(), ctx: context.Background(), base: time.Now().UnixMilli()}
}

// open opens the store; it stops at the times-th pass at point (never if
// point is 0).
func (e *crashEnv) open(point crashPoint, times int) (*Store, error) {
	var seen atomic.Int32
	cfg := Config{Dir: e.dir, InboxDelay: time.Hour, Logger: slog.New(slog.DiscardHandler), GCInterval: -1,
		MemTableSize: testMemTable, NoSync: true}
	e.stopped.Store(false)
	if point != 0 {
		cfg.crashAt = func(p crashPoint) bool {
			if p == point && int(seen.Add(1)) == times {
				e.stopped.Store(true)
				return true
			}
			return false
		}
	}
	return New(cfg)
}

// reopen opens the store after the crash and checks its invariants.
func (e *crashEnv) reopen() *Store {
	e.t.Helper()
	s, err := e.open(0, 0)
	if err != nil {
		e.t.Fatalf("reopen after the crash: %v", err)
	}
	e.t.Cleanup(func() { s.Close() })
	if err := s.checkInvariants(e.ctx); err != nil {
		e.t.Errorf("after the reopen: %v", err)
	}
	return s
}

// persist persists message id from "a" in conversation "c" to inbox, its
// peers in offline offline; old makes it older than lazyMargin (so
// nothing of it is delayed). It returns Persist's error.
func (e *crashEnv) persist(s *Store, id string, inbox, offline []string, old bool) error {
	e.n++
	m := &storage.Message{App: "app", ID: id, From: "a", ConvID: "c", Time: e.base + int64(e.n), Text: "text " + id}
	if old {
		m.Time = e.base - 2*lazyMargin + int64(e.n)
	}
	if id[0] == 'k' {
		m.ClientID, m.ClientSum = "client-"+id, 7
	}
	return s.PersistOffline(e.ctx, m, inbox, offline)
}

func (e *crashEnv) mustPersist(s *Store, id string, inbox, offline []string) {
	e.t.Helper()
	if err := e.persist(s, id, inbox, offline, false); err != nil {
		e.t.Fatal(err)
	}
}

// flush makes the committer write every delayed entry (it may stop on
// the way, at the crash point).
func (e *crashEnv) flush(s *Store) {
	e.t.Helper()
	if err := s.flushDelayed(e.ctx, true); err != nil {
		e.t.Fatal(err)
	}
}

// crashed closes a store whose committer has stopped; the test fails if
// it has not: the crash point was not reached.
func (e *crashEnv) crashed(s *Store) {
	e.t.Helper()
	if !e.stopped.Load() {
		e.t.Fatal("the committer did not reach the crash point")
	}
	if err := e.persist(s, "probe", []string{"nobody"}, nil, false); !errors.Is(err, errCrashed) {
		e.t.Fatalf("the committer did not stop at the crash point: Persist = %v", err)
	}
	if err := s.Close(); err != nil {
		e.t.Fatal(err)
	}
}

// want checks b's inbox and both history indexes (each message once, in
// pages of one and of all) after the reopen.
func (e *crashEnv) want(s *Store, inbox, history []string) {
	e.t.Helper()
	ms, err := s.Pending(e.ctx, "app", "b")
	if err != nil || !slices.Equal(idsOf(ms), inbox) {
		e.t.Errorf("Pending(b) = %v, %v; want %v", idsOf(ms), err, inbox)
	}
	newest := slices.Clone(history)
	slices.Reverse(newest)
	for _, q := range []storage.HistoryQuery{{App: "app", ConvID: "c"}, {App: "app", From: "a"}, {App: "app"}} {
		q.Limit = 100
		ms, err := s.Query(e.ctx, q)
		if err != nil || !slices.Equal(idsOf(ms), newest) {
			e.t.Errorf("Query(%+v) = %v, %v; want %v", q, idsOf(ms), err, newest)
		}
		var paged []string
		q.Limit = 1
		for range len(history) + 2 {
			ms, err := s.Query(e.ctx, q)
			if err != nil {
				e.t.Fatal(err)
			}
			if len(ms) == 0 {
				break
			}
			paged = append(paged, ms[0].ID)
			q.Before, q.BeforeID = ms[0].Time, ms[0].ID
		}
		if !slices.Equal(paged, newest) {
			e.t.Errorf("Query(%+v) paged one by one = %v; want %v", q, paged, newest)
		}
	}
}

// record reads the record of message id (its Seq tells whether it was
// sealed with delayed entries).
func (e *crashEnv) record(s *Store, id string) msgRecord {
	e.t.Helper()
	var r msgRecord
	found := false
	err := s.db.View(func(tx *bdg.Txn) error {
		return recordsSince(tx, -1<<62, func(_, rid string, v []byte) error {
			if rid == id {
				found = true
				return decodeRecord(v, &r)
			}
			return nil
		})
	})
	if err != nil || !found {
		e.t.Fatalf("record %s: found %v, %v", id, found, err)
	}
	return r
}

// TestRecoveryPaths stops the committer at each crash point (crash.go)
// in a scenario that needs that point's recovery, reopens the store and
// checks what the reopened store holds, how many records New replayed,
// and the store's invariants.
func TestRecoveryPaths(t *testing.T) {
	b, bc := []string{"b"}, []string{"b", "c"}
	for _, tc := range []struct {
		name  string
		point crashPoint
		times int
		// run does the steps; the last one reaches the crash point.
		run     func(e *crashEnv, s *Store)
		inbox   []string // b's inbox after the reopen
		history []string // the history after the reopen, oldest first
		// replayed is how many records New recreated entries of.
		replayed int
		check    func(e *crashEnv, s *Store)
	}{{
		name:  "committed, not synced: the process crash keeps it",
		point: crashAfterCommit, times: 1,
		run: func(e *crashEnv, s *Store) {
			if err := e.persist(s, "m1", b, nil, false); !errors.Is(err, errCrashed) {
				t.Fatalf("Persist = %v, want errCrashed", err)
			}
		},
		inbox: []string{"m1"}, history: []string{"m1"}, replayed: 1,
	}, {
		name:  "delayed inbox entries: recreated",
		point: crashBeforeInboxFlush, times: 1,
		run: func(e *crashEnv, s *Store) {
			e.mustPersist(s, "m1", bc, nil)
			e.mustPersist(s, "m2", b, nil)
			e.flush(s)
		},
		inbox: []string{"m1", "m2"}, history: []string{"m1", "m2"}, replayed: 2,
		check: func(e *crashEnv, s *Store) {
			if ms, err := s.Pending(e.ctx, "app", "c"); err != nil || !slices.Equal(idsOf(ms), []string{"m1"}) {
				t.Errorf("Pending(c) = %v, %v; want m1", idsOf(ms), err)
			}
		},
	}, {
		name:  "acknowledged within the delay: pending again",
		point: crashBeforeInboxFlush, times: 1,
		run: func(e *crashEnv, s *Store) {
			e.mustPersist(s, "m1", b, nil)
			e.mustPersist(s, "m2", b, nil)
			if ms, err := s.Remove(e.ctx, "app", "b", []string{"m1"}); err != nil || len(ms) != 1 {
				t.Fatalf("Remove(m1) = %v, %v", idsOf(ms), err)
			}
			e.flush(s)
		},
		inbox: []string{"m1", "m2"}, history: []string{"m1", "m2"}, replayed: 2,
	}, {
		name:  "acknowledged after the write: stays acknowledged",
		point: crashBeforeInboxFlush, times: 2,
		run: func(e *crashEnv, s *Store) {
			e.mustPersist(s, "m1", b, nil)
			e.flush(s) // written, with the checkpoint past m1
			if ms, err := s.Remove(e.ctx, "app", "b", []string{"m1"}); err != nil || len(ms) != 1 {
				t.Fatalf("Remove(m1) = %v, %v", idsOf(ms), err)
			}
			e.mustPersist(s, "m2", b, nil)
			e.flush(s)
		},
		inbox: []string{"m2"}, history: []string{"m1", "m2"}, replayed: 1,
	}, {
		name:  "inbox entries written with their checkpoint: nothing to replay",
		point: crashAfterInboxFlush, times: 1,
		run: func(e *crashEnv, s *Store) {
			e.mustPersist(s, "m1", b, nil)
			e.flush(s)
		},
		inbox: []string{"m1"}, history: []string{"m1"}, replayed: 0,
	}, {
		name:  "inbox written while newer index entries wait: the checkpoint does not pass them",
		point: crashAfterInboxFlush, times: 1,
		run: func(e *crashEnv, s *Store) {
			e.mustPersist(s, "m1", b, nil)
			e.mustPersist(s, "m2", b, b) // b offline: only its index entries wait
			// The inbox entries alone, as when only they are due.
			s.onCommitter(e.ctx, func() { s.flushLazy(time.Time{}, true) })
		},
		inbox: []string{"m1", "m2"}, history: []string{"m1", "m2"}, replayed: 2,
	}, {
		name:  "delayed history index entries: recreated",
		point: crashBeforeIndexFlush, times: 1,
		run: func(e *crashEnv, s *Store) {
			e.mustPersist(s, "m1", b, b)
			e.mustPersist(s, "m2", b, b)
			e.flush(s)
		},
		inbox: []string{"m1", "m2"}, history: []string{"m1", "m2"}, replayed: 2,
	}, {
		name:  "index group written, checkpoint not: lone entries beside it, each shown once",
		point: crashAfterIndexKeys, times: 1,
		run: func(e *crashEnv, s *Store) {
			for _, id := range []string{"m1", "m2", "m3"} {
				e.mustPersist(s, id, b, b)
			}
			e.flush(s)
		},
		inbox: []string{"m1", "m2", "m3"}, history: []string{"m1", "m2", "m3"}, replayed: 3,
		check: func(e *crashEnv, s *Store) {
			if keys, groups := countKeys(t, s, tConv); keys != 3 || groups != 1 {
				t.Errorf("conversation index: %d keys, %d groups; want the group and 2 lone repeats", keys, groups)
			}
		},
	}, {
		name:  "index written and checkpointed, inbox entries not",
		point: crashAfterIndexFlush, times: 1,
		run: func(e *crashEnv, s *Store) {
			e.mustPersist(s, "m1", b, nil)
			e.mustPersist(s, "m2", b, nil)
			e.flush(s)
		},
		inbox: []string{"m1", "m2"}, history: []string{"m1", "m2"}, replayed: 2,
		check: func(e *crashEnv, s *Store) {
			// m2's key (the group) is there; m1, inside it, gets a lone
			// key too, which Query drops as a repeat.
			if keys, groups := countKeys(t, s, tConv); keys != 2 || groups != 1 {
				t.Errorf("conversation index: %d keys, %d groups; want the group and a lone repeat", keys, groups)
			}
		},
	}, {
		name:  "Close wrote everything but its clean mark",
		point: crashBeforeClean, times: 1,
		run: func(e *crashEnv, s *Store) {
			e.mustPersist(s, "m1", b, nil)
			e.mustPersist(s, "m2", b, nil)
			if ms, err := s.Remove(e.ctx, "app", "b", []string{"m2"}); err != nil || len(ms) != 1 {
				t.Fatalf("Remove(m2) = %v, %v", idsOf(ms), err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		},
		inbox: []string{"m1"}, history: []string{"m1", "m2"}, replayed: 0,
	}, {
		name: "clean Close: nothing to replay",
		run: func(e *crashEnv, s *Store) {
			e.mustPersist(s, "m1", b, nil)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		},
		inbox: []string{"m1"}, history: []string{"m1"}, replayed: 0,
	}, {
		name:  "sealed records: a record without delayed entries has no Seq and is not replayed",
		point: crashBeforeInboxFlush, times: 1,
		run: func(e *crashEnv, s *Store) {
			if err := e.persist(s, "m1", b, nil, true); err != nil {
				t.Fatal(err)
			}
			e.mustPersist(s, "m2", b, nil)
			e.flush(s)
		},
		inbox: []string{"m1", "m2"}, history: []string{"m1", "m2"}, replayed: 1,
		check: func(e *crashEnv, s *Store) {
			if r := e.record(s, "m1"); r.Seq != 0 || r.Inbox != nil {
				t.Errorf("old record: Seq %d, Inbox %v; want neither", r.Seq, r.Inbox)
			}
			if r := e.record(s, "m2"); r.Seq == 0 || !slices.Equal(r.Inbox, b) {
				t.Errorf("delayed record: Seq %d, Inbox %v; want a Seq and [b]", r.Seq, r.Inbox)
			}
		},
	}, {
		name:  "client sends are read back after the crash",
		point: crashBeforeInboxFlush, times: 1,
		run: func(e *crashEnv, s *Store) {
			e.mustPersist(s, "k1", b, nil)
			e.mustPersist(s, "m2", b, nil)
			e.mustPersist(s, "k3", b, b)
			e.flush(s)
		},
		inbox: []string{"k1", "m2", "k3"}, history: []string{"k1", "m2", "k3"}, replayed: 3,
		check: func(e *crashEnv, s *Store) {
			var got []string
			err := s.ClientSends(e.ctx, e.base, func(m *storage.Message) error {
				if m.ClientID != "client-"+m.ID || m.ClientSum != 7 {
					t.Errorf("ClientSends: %s with client id %q, sum %d", m.ID, m.ClientID, m.ClientSum)
				}
				got = append(got, m.ID)
				return nil
			})
			if err != nil || !slices.Equal(got, []string{"k1", "k3"}) {
				t.Errorf("ClientSends = %v, %v; want k1, k3", got, err)
			}
		},
	}, {
		name:  "deleted while delayed: not recreated",
		point: crashBeforeInboxFlush, times: 1,
		run: func(e *crashEnv, s *Store) {
			e.mustPersist(s, "m1", b, nil)
			e.mustPersist(s, "m2", b, nil)
			if err := s.Delete(e.ctx, "app", "c", "m1", e.base+1); err != nil {
				t.Fatal(err)
			}
			e.flush(s)
		},
		inbox: []string{"m2"}, history: []string{"m2"}, replayed: 1,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newCrashEnv(t)
			s, err := e.open(tc.point, tc.times)
			if err != nil {
				t.Fatal(err)
			}
			tc.run(e, s)
			switch tc.point {
			case 0:
				s.Close()
			case crashBeforeClean: // run closed it
				if !e.stopped.Load() {
					t.Fatal("Close did not reach the crash point")
				}
			default:
				e.crashed(s)
			}
			s = e.reopen()
			if s.replayed != tc.replayed {
				t.Errorf("New replayed %d records, want %d", s.replayed, tc.replayed)
			}
			e.want(s, tc.inbox, tc.history)
			if tc.check != nil {
				tc.check(e, s)
			}
		})
	}
}

// TestCrashDuringReplay stops New itself in the middle of its replay
// (crashInReplay): the next New replays again, and every entry is there
// once.
func TestCrashDuringReplay(t *testing.T) {
	e := newCrashEnv(t)
	s, err := e.open(crashBeforeInboxFlush, 1)
	if err != nil {
		t.Fatal(err)
	}
	e.mustPersist(s, "m1", []string{"b"}, nil)
	e.mustPersist(s, "m2", []string{"b"}, []string{"b"})
	e.flush(s)
	e.crashed(s)
	if _, err := e.open(crashInReplay, 1); !errors.Is(err, errCrashed) {
		t.Fatalf("New with a crash in the replay = %v, want errCrashed", err)
	}
	s = e.reopen()
	if s.replayed != 2 {
		t.Errorf("New replayed %d records, want 2", s.replayed)
	}
	e.want(s, []string{"m1", "m2"}, []string{"m1", "m2"})
}

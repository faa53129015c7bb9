// Package badger is rtgate's embedded default storage.Store, on
// github.com/dgraph-io/badger/v4 in one directory.
//
// # Durability and group commit
//
// Every write (Persist, Remove, Delete and the group calls) goes through one
// committer goroutine that packs the writes waiting at that moment into a
// single badger transaction: one commit, and at most one fsync of badger's
// logs (db.Sync, called by the committer: badger itself runs with
// SyncWrites off), acknowledges all of them (group commit). A write whose
// operation fails without writing (ErrNotFound, ErrGroupFull, ...) fails
// alone; if the packed transaction fails as a whole (too big, conflict) its
// writes are retried one by one. Reads use their own read-only transactions
// and never wait for the committer.
//
// Persist, Delete and the group writes are durable: the committer syncs
// after a batch that holds one of them, before they return (unless
// Config.NoSync); with Config.SyncInterval, a durable write that comes
// sooner than that after the last sync waits for the rest of it, so that
// one sync covers more writes. Remove (an inbox acknowledgement) is not
// durable: a batch of Removes only is committed without a sync, and its
// Removes return once committed; they reach the disk with the next sync
// (or memtable flush). A process crash loses no message that was
// persisted; it may bring back the acknowledgements of the last
// Config.InboxDelay (delayed inbox entries, below), and a machine crash
// or power failure may lose recent Removes too, so those messages are
// pending again and get redelivered, which clients de-duplicate by message
// id. Between a commit and its sync nothing else writes to badger (the
// value-log GC holds the same lock), so the sync covers the memtable the
// batch went to.
//
// The committer keeps the key sets of recently used inboxes in memory
// (Config.InboxCache, an LRU, loaded from the database on first use and
// updated on commit; the committer is the only writer of inbox keys), so
// Persist enforces the inbox limits and Remove finds its entries without
// iterating the inbox.
//
// A new inbox entry stays in memory only for Config.InboxDelay (1 s), and
// is written only if it is still pending then: most messages are
// acknowledged sooner, and cost neither the entry nor its deletion. The
// message record carries the entry's peers and a sequence number, so
// that New recreates such entries after a crash (lazy.go). Acknowledged
// entries may thus come back after a crash too, as after a power failure.
// A Remove that finds all its entries still in memory only drops them
// there and returns, without the committer (removeLazy); the committer
// applies such removals to its inbox key sets later.
//
// A new message's two history index entries (by conversation, by sender)
// are delayed the same way, then written grouped: one key per
// conversation and per sender for all their new messages of that
// InboxDelay (index.go). Queries read the entries still in memory too, so
// a message is in the history as soon as Persist returns; the checkpoint
// and the replay after a crash cover these entries as well.
//
// # Key layout
//
// Strings inside keys are length-prefixed (uvarint length, then the bytes);
// a time is 8 bytes big-endian of uint64(ms) with the sign bit flipped, so
// keys sort by time; an id ending a key is raw bytes, so equal times sort by
// id byte-wise. Values are msgpack arrays (see keys.go).
//
//	v                          -> format version (uvarint), 3; see format.go
//	m app time id              -> message record (history and inbox body);
//	                              in key order, the app-wide history
//	c app conv time id         -> history index by conversation: "" for
//	                              the entry time/id alone, or a group of
//	                              older entries besides it (index.go)
//	f app from time id         -> history index by sender, the same way
//	i app peer time id         -> "" inbox entry (badger TTL = wall clock + InboxTTL)
//	g app gid                  -> group record
//	p app peer gid             -> "" group membership index
//	o app created gid          -> "" groups in creation order (created = UnixNano)
//
// Every index entry ends with the time and id of the message record it
// refers to (or holds them, inside a group), so a group message is stored
// once however many inboxes hold it. A persistent message acknowledged
// within InboxDelay costs one key of its own (its record) and a share of
// its conversation's and sender's index keys; one still pending then
// costs an inbox key per recipient too. A database of format 1
// (records keyed by id, plus an app-wide index "a app time id") is
// migrated when opened. Persist trims each inbox it
// writes to (expired entries, and the oldest beyond Limits.InboxSize);
// Pending filters by the store's clock as well, so it never returns an
// expired message whatever badger's TTL sweep has done.
//
// # Concurrency
//
// A Store is safe for concurrent use. It owns two goroutines, the committer
// and the value-log garbage collector; Close waits for calls in flight,
// stops both and closes the database.
//
// Its state is split by owner, each part with its one lock:
//
//   - Store.mu, the call gate: every call holds it for reading while it
//     runs; Close takes it for writing.
//   - committer (commit.go): the state of the committer goroutine, which
//     owns it without a lock (the inbox cache, the next sequence number,
//     the newest message time, sync pacing), and committer.writeMu, held
//     by the committer from a commit to its sync and by the value-log GC.
//   - delayedInbox (lazy.go): the inbox entries in memory only, by inbox,
//     and the acknowledgements of them not yet applied to the cache,
//     under delayedInbox.mu; their queue in commit order is the
//     committer's.
//   - delayedIndex (index.go): the history index entries in memory only,
//     under delayedIndex.mu; only the committer changes them.
//
// Lock order (a lock may be taken while holding those before it, never
// one before it; lockorder.txt says the same):
//
//	Store.mu (read) -> committer.writeMu -> delayedInbox.mu
//	                                     -> delayedIndex.mu
//
// delayedInbox.mu and delayedIndex.mu are leaves: never held together,
// and nothing blocks (no channel, no badger call) while either is held.
// The committer takes writeMu without Store.mu (Close waits for it), and
// readers (Pending, Query) take a leaf without Store.mu, then Store.mu
// alone for their read transaction.
//
// # Testing
//
// invariants.go lists the invariants of the committer and the delayed
// entries (what the checkpoint must cover, what the inbox cache must
// match); the model-based tests check them after every step. crash.go
// lists the points where a test can stop the committer as a crash would,
// one per recovery path of New; crashpoint_test.go tests each.
//
// Imports: the standard library, badger, msgpack and rtgate/storage only.
package badger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	bdg "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/ristretto/v2/z"

	"github.com/rtgate/rtgate/storage"
)

// Config configures a Store. Every field but Dir has a usable zero value.
type Config struct {
	// Dir is the database directory; required. It is created if missing.
	// One process at a time may open it.
	Dir string
	// Limits bounds the inboxes; zero fields mean the storage defaults.
	Limits storage.Limits
	// Now is the clock for inbox expiry and group times; nil means time.Now.
	Now func() time.Time
	// Logger receives the store's and badger's messages (badger's errors
	// and warnings at Warn, the rest at Debug); nil means slog.Default().
	Logger *slog.Logger
	// NoSync skips the fsync on commit: faster, and a machine crash loses
	// recent writes (a process crash does not). The default (false) syncs
	// every commit before the call returns.
	NoSync bool
	// GCInterval is how often badger's value-log GC runs; 0 means 10
	// minutes, a negative value disables it.
	GCInterval time.Duration
	// InboxCache is how many inboxes' key sets the store keeps in memory
	// (so that Persist and Remove find inbox entries without iterating);
	// 0 means 100 000, a negative value disables the cache.
	InboxCache int
	// MemTableSize is badger's memtable size in bytes; 0 means 64 MiB.
	// Small values suit tests.
	MemTableSize int64
	// ValueThreshold is the size from which a value goes to badger's
	// value log, with only a pointer in the LSM tree: message and group
	// records (a message's is its text and about 95 bytes); the empty
	// values of inbox and index keys stay in the tree. 0 means 32 bytes; a
	// negative value means badger's default (1 MiB: every value in the
	// tree). Records in the value log make the memtables fill several
	// times more slowly, so their rotations and flushes, which stall
	// writes, are rarer and smaller (docs/performance.md).
	ValueThreshold int64
	// InboxDelay is how long a new inbox entry may stay in memory only,
	// so that an acknowledgement within it costs no write (see lazy.go),
	// and how long new history index entries are gathered before they are
	// written, grouped (index.go); 0 means 1 s, a negative value (or
	// InboxCache < 0) writes both with their message. After a crash, what
	// was acknowledged within about this long before it may be delivered
	// again.
	InboxDelay time.Duration
	// SyncInterval is the least time between the starts of two syncs: a
	// durable write that comes sooner waits for the rest of it, so that
	// one sync covers more writes. 0 means none.
	SyncInterval time.Duration

	// crashAt, for this package's tests only, is asked at each crash
	// point the committer passes (crash.go); true stops it there. nil
	// means never.
	crashAt func(crashPoint) bool
	// flushed, for this package's tests only, is called by the committer
	// after each of its periodic flushes of delayed entries, so that a
	// test waits for that event instead of polling. nil means none.
	flushed func()
}

// defaultValueThreshold is Config.ValueThreshold's default: above the
// empty values of index keys, below any record.
const defaultValueThreshold = 32

// valueLogFileSize is the size of badger's value-log files when records
// go there (badger's default is 1 GiB).
const valueLogFileSize = 256 << 20

// populate fills in the defaults.
func (c Config) populate() Config {
	c.Limits = c.Limits.WithDefaults()
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.InboxCache == 0 {
		c.InboxCache = defaultInboxCache
	}
	if c.GCInterval == 0 {
		c.GCInterval = 10 * time.Minute
	}
	if c.InboxDelay == 0 {
		c.InboxDelay = defaultInboxDelay
	}
	if c.ValueThreshold == 0 {
		c.ValueThreshold = defaultValueThreshold
	}
	if c.InboxCache < 0 {
		c.InboxDelay = -1
	}
	return c
}

// Store is the badger storage.Store. Create it with New.
//
// Its state is split by owner, each part with its own lock (see the lock
// order in the package doc): the call gate (mu), the committer's state
// (committer, commit.go), the delayed inbox entries (delayedInbox,
// lazy.go) and the delayed history index entries (delayedIndex,
// index.go).
type Store struct {
	db         *bdg.DB
	limits     storage.Limits
	now        func() time.Time
	log        *slog.Logger
	sync       bool          // sync after durable writes (!Config.NoSync)
	inboxDelay time.Duration // Config.InboxDelay; <= 0: nothing is delayed
	replayed   int           // records whose delayed entries New recreated

	// mu guards closed; every call holds it for reading while it runs, so
	// Close (which takes it for writing) waits for calls in flight.
	mu     sync.RWMutex
	closed bool

	c     committer    // the committer goroutine's state
	inbox delayedInbox // inbox entries in memory only
	index delayedIndex // history index entries in memory only

	stopGC chan struct{} // closed by Close
	wg     sync.WaitGroup
}

var _ storage.Store = (*Store)(nil)

// emptyMemtable reports whether err is Badger's open failing on an empty
// memtable file (see New). Badger wraps the sentinel as text, not with %w,
// so it is recognised by its message.
func emptyMemtable(err error) bool {
	return strings.Contains(err.Error(), "while opening memtables") && strings.Contains(err.Error(), z.NewFile.Error())
}

// New opens (or creates) the store in cfg.Dir.
func New(cfg Config) (*Store, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("%w: badger: Config.Dir is empty", storage.ErrInvalid)
	}
	cfg = cfg.populate()
	opts := bdg.DefaultOptions(cfg.Dir).
		WithSyncWrites(false). // the committer syncs (see commitAndSync)
		// The committer is the only writer and runs one transaction at a
		// time: there is nothing for badger's conflict detection to find.
		WithDetectConflicts(false).
		WithLogger(logger{cfg.Logger}).
		WithMetricsEnabled(false)
	if cfg.MemTableSize > 0 {
		opts = opts.WithMemTableSize(cfg.MemTableSize)
	}
	if cfg.ValueThreshold > 0 {
		opts = opts.WithValueThreshold(cfg.ValueThreshold)
		// The value-log GC rewrites a file's live records under the
		// committer's lock (gcLoop); smaller files bound that stall. Only
		// history deletes and records persisted again leave garbage.
		opts = opts.WithValueLogFileSize(valueLogFileSize)
	}
	// Badger refuses a value threshold above its batch size (15% of the
	// memtable).
	opts = opts.WithValueThreshold(min(opts.ValueThreshold, opts.MemTableSize/10))
	db, err := bdg.Open(opts)
	if err != nil && emptyMemtable(err) {
		// A crash between creating a memtable file and its first write
		// leaves it empty; Badger's open sizes the file and then fails with
		// ristretto's z.NewFile sentinel ("Create a new file"), and a second
		// open succeeds (upstream badger#2207, open in v4.9.6). The file
		// held nothing, so nothing is lost.
		cfg.Logger.Warn("badger: an empty memtable file was left by a crash; opening again", "dir", cfg.Dir, "err", err)
		db, err = bdg.Open(opts)
	}
	if err != nil {
		return nil, fmt.Errorf("badger: open %s: %w", cfg.Dir, err)
	}
	if err := checkFormat(db, cfg.Logger); err != nil {
		db.Close()
		return nil, fmt.Errorf("badger: open %s: %w", cfg.Dir, err)
	}
	s := &Store{
		db:     db,
		limits: cfg.Limits,
		now:    cfg.Now,
		log:    cfg.Logger,
		stopGC: make(chan struct{}),

		sync:       !cfg.NoSync,
		inboxDelay: cfg.InboxDelay,
		c: committer{
			ops:       make(chan *op, maxBatchOps),
			calls:     make(chan func()),
			cache:     newInboxCache(cfg.InboxCache),
			syncEvery: cfg.SyncInterval,
			crashAt:   cfg.crashAt,
			flushed:   cfg.flushed,
		},
		inbox: delayedInbox{lazy: map[string][]inboxEntry{}, acks: map[string][]inboxEntry{}},
		index: delayedIndex{prepared: make(chan *indexFlush, 1)},
	}
	if err := s.replayLazy(cfg.crashAt); err != nil {
		db.Close()
		return nil, err
	}
	s.wg.Add(1)
	go s.commitLoop()
	if cfg.GCInterval > 0 {
		s.wg.Add(1)
		go s.gcLoop(cfg.GCInterval)
	}
	return s, nil
}

// InboxDelay returns how long new inbox entries stay in memory only; <= 0
// if they are written with their message.
func (s *Store) InboxDelay() time.Duration { return s.inboxDelay }

// MemTableSize returns the size of badger's memtables in bytes.
func (s *Store) MemTableSize() int64 { return s.db.Opts().MemTableSize }

// Close waits for the calls in flight, stops the store's goroutines and
// closes the database. Later calls fail with storage.ErrClosed; a second
// Close returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.c.ops)
	close(s.stopGC)
	s.wg.Wait()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("badger: close: %w", err)
	}
	return nil
}

// Stats counts the committer's work since New.
type Stats struct {
	Commits uint64 // write transactions committed
	Ops     uint64 // write calls they carried; Ops/Commits is the group-commit factor
	Syncs   uint64 // fsyncs: one per commit that carried a durable write, none with NoSync
	// InboxWrites counts the delayed inbox entries written (still pending
	// after InboxDelay); Delayed is how many new entries are not settled
	// yet (written or dropped): what a crash now could redeliver.
	InboxWrites uint64
	Delayed     int
	// IndexWrites counts the keys that delayed history index entries
	// were written in: one per index (conversation or sender) per flush.
	IndexWrites uint64
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	return Stats{Commits: s.c.commits.Load(), Ops: s.c.written.Load(), Syncs: s.c.syncs.Load(),
		InboxWrites: s.inbox.writes.Load(), Delayed: int(s.inbox.pending.Load()), IndexWrites: s.index.writes.Load()}
}

// gcLoop runs the value-log GC every interval until Close.
func (s *Store) gcLoop(interval time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stopGC:
			return
		case <-t.C:
		}
		n := 0
		var err error
		for err == nil {
			s.c.writeMu.Lock()
			err = s.db.RunValueLogGC(0.5)
			s.c.writeMu.Unlock()
			if err == nil {
				n++
			}
		}
		if !errors.Is(err, bdg.ErrNoRewrite) && !errors.Is(err, bdg.ErrRejected) {
			s.log.Warn("badger value-log GC failed", "err", err)
		}
		s.log.Debug("badger value-log GC", "files_rewritten", n)
	}
}

// read runs fn in a read-only transaction.
func (s *Store) read(ctx context.Context, fn func(*bdg.Txn) error) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	return s.db.View(fn)
}

// enter begins a call: it checks ctx, then holds s.mu for reading, which
// the caller releases, unless the store is closed (ErrClosed, not held).
func (s *Store) enter(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return storage.ErrClosed
	}
	return nil
}

// logger routes badger's log to slog: errors and warnings at Warn,
// the rest at Debug.
type logger struct{ l *slog.Logger }

func (g logger) logf(level slog.Level, format string, args []any) {
	ctx := context.Background()
	if g.l.Enabled(ctx, level) {
		g.l.Log(ctx, level, strings.TrimSpace(fmt.Sprintf(format, args...)), "component", "badger")
	}
}

func (g logger) Errorf(f string, a ...any)   { g.logf(slog.LevelWarn, f, a) }
func (g logger) Warningf(f string, a ...any) { g.logf(slog.LevelWarn, f, a) }
func (g logger) Infof(f string, a ...any)    { g.logf(slog.LevelDebug, f, a) }
func (g logger) Debugf(f string, a ...any)   { g.logf(slog.LevelDebug, f, a) }

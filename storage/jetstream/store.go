package jetstream

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/rtgate/rtgate/storage"
)

// Store is storage.Store on JetStream. Create it with Open.
type Store struct {
	cfg    Config
	n      names
	nc     *nats.Conn // not owned
	js     jetstream.JetStream
	hist   jetstream.Stream // for ClientSends' consumer
	inbox  jetstream.Stream // for deletes and purges
	log    *slog.Logger
	seqs   seqCache
	closed atomic.Bool

	// Held inbox entries (lazy.go) and their recovery (recover.go).
	writer     string               // this store's id: a NUID
	writers    jetstream.KeyValue   // <NS>_WRITERS
	lazy       lazyInbox            // entries held in memory
	hseqs      histSeqs             // RT_HIST sequences for the checkpoint
	subs       []*nats.Subscription // forwarded acks, announcements
	stop       chan struct{}        // closed by Close
	wg         sync.WaitGroup       // flushLoop, writerLoop, forwarded deletes
	bgMu       sync.Mutex
	bgClosed   bool          // guarded by bgMu: set by Close before it waits for wg
	lazyWrites atomic.Uint64 // held entries published after all
	recovered  atomic.Uint64 // entries of dead stores this one published
	onNewMu    sync.Mutex
	onNew      func(app string, peers []string) // guarded by onNewMu
	others     atomic.Pointer[[]string]         // other live stores, as writerLoop sees them
}

// otherWriters is the other stores that are alive (their writer keys
// changed within WriterStale).
func (s *Store) otherWriters() []string {
	if p := s.others.Load(); p != nil {
		return *p
	}
	return nil
}

var (
	_ storage.Store         = (*Store)(nil)
	_ storage.ClientSends   = (*Store)(nil)
	_ storage.SendClaims    = (*Store)(nil)
	_ storage.OfflineHinter = (*Store)(nil)
	_ storage.InboxNotifier = (*Store)(nil)
)

// Open checks the server's version, creates or checks the streams and
// the buckets, and returns the store. It fails with ErrServerVersion,
// ErrConfig or ErrAssetMismatch (wrapped, with the details). While
// JetStream cannot answer yet (no meta leader, fewer servers up than
// replicas) it waits, until ctx ends.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*Store, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := checkVersion(nc.ConnectedServerVersion()); err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	s := &Store{cfg: cfg, n: namesOf(cfg.Namespace), nc: nc, js: js, log: cfg.Logger}
	if s.inbox, err = ensureStream(ctx, js, cfg.inboxConfig(s.n), s.log); err != nil {
		return nil, err
	}
	if s.hist, err = ensureStream(ctx, js, cfg.histConfig(s.n), s.log); err != nil {
		return nil, err
	}
	if _, err = ensureStream(ctx, js, cfg.groupsConfig(s.n), s.log); err != nil {
		return nil, err
	}
	if _, err = ensureStream(ctx, js, cfg.sendsConfig(s.n), s.log); err != nil {
		return nil, err
	}
	if _, err = ensureStream(ctx, js, cfg.writersConfig(s.n), s.log); err != nil {
		return nil, err
	}
	if err := s.startWriter(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// startWriter registers this store in <NS>_WRITERS, subscribes to the
// forwarded acknowledgements and announcements, and starts the flusher
// and the writers' watch.
func (s *Store) startWriter(ctx context.Context) error {
	var err error
	if s.writers, err = s.js.KeyValue(ctx, s.n.writers); err != nil {
		return fmt.Errorf("jetstream: bucket %s: %w", s.n.writers, err)
	}
	s.writer = nuid.Next()
	s.stop = make(chan struct{})
	for _, sub := range []struct {
		subj string
		fn   nats.MsgHandler
	}{{s.n.ackSubject(s.writer), s.onAck}, {s.n.ackSubject("all"), s.onAck}, {s.n.newSubject(), s.onNewMsg}, {s.n.flushSubject(s.writer), s.onFlush}} {
		ns, err := s.nc.Subscribe(sub.subj, sub.fn)
		if err != nil {
			s.unsubscribe()
			return fmt.Errorf("jetstream: subscribe %s: %w", sub.subj, err)
		}
		s.subs = append(s.subs, ns)
	}
	if err := s.heartbeat(ctx); err != nil {
		s.unsubscribe()
		return fmt.Errorf("jetstream: register in %s: %w", s.n.writers, err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	w, err := s.writers.WatchAll(wctx)
	if err != nil {
		cancel()
		s.unsubscribe()
		return fmt.Errorf("jetstream: watch %s: %w", s.n.writers, err)
	}
	s.wg.Add(2)
	go s.flushLoop()
	go func() {
		defer cancel()
		s.writerLoop(w)
	}()
	return nil
}

func (s *Store) unsubscribe() {
	for _, sub := range s.subs {
		_ = sub.Unsubscribe()
	}
	s.subs = nil
}

// checkVersion refuses a server version below MinServerVersion.
func checkVersion(v string) error {
	have, ok := parseVersion(v)
	min, _ := parseVersion(MinServerVersion)
	if !ok {
		return fmt.Errorf("%w: cannot read the server version %q", ErrServerVersion, v)
	}
	for i := range have {
		if have[i] != min[i] {
			if have[i] < min[i] {
				return fmt.Errorf("%w: nats-server %s, need %s or newer", ErrServerVersion, v, MinServerVersion)
			}
			break
		}
	}
	return nil
}

// parseVersion reads "major.minor.patch" (anything after a '-' or '+'
// ignored).
func parseVersion(v string) ([3]int, bool) {
	var out [3]int
	if i := strings.IndexAny(v, "-+"); i >= 0 {
		v = v[:i]
	}
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return out, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return out, false
		}
		out[i] = n
	}
	return out, true
}

// Close marks the store closed: later calls return storage.ErrClosed.
// It publishes the inbox entries it holds and removes its writer key; if
// it cannot (NATS unreachable), another store publishes them later
// (recover.go). The NATS connection stays open (the caller owns it).
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	close(s.stop)
	s.bgMu.Lock()
	s.bgClosed = true // no goroutine is added to wg after this
	s.bgMu.Unlock()
	s.wg.Wait()
	s.unsubscribe()
	if !s.nc.IsConnected() {
		return nil
	}
	s.flushDue(time.Now(), true)
	if s.lazy.count() > 0 {
		return nil // left for another store to recover
	}
	ctx, cancel := s.reqCtx(context.Background())
	defer cancel()
	if err := s.writers.Delete(ctx, writerKey(s.writer)); err != nil {
		s.log.Debug("jetstream: remove the writer key", "err", err)
	}
	return nil
}

// Stats returns how many held inbox entries this store published after
// their delay, how many it holds now, and how many entries of dead stores
// it recovered.
func (s *Store) Stats() (published uint64, held int, recovered uint64) {
	return s.lazyWrites.Load(), s.lazy.count(), s.recovered.Load()
}

// check returns ErrClosed after Close, else ctx's error.
func (s *Store) check(ctx context.Context) error {
	if s.closed.Load() {
		return storage.ErrClosed
	}
	return ctx.Err()
}

// reqCtx bounds one request by RequestTimeout.
func (s *Store) reqCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.RequestTimeout)
}

// msgID is the Nats-Msg-Id of one write: a digest of what makes it this
// write, so that a retry of it is recognised and another write is not.
func msgID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18])
}

// pub is one message to publish.
type pub struct {
	subj, id string
	data     []byte
	hdr      nats.Header
}

// publishAll publishes every message and waits for each PubAck; it
// returns the stream sequence of each (in the order of ps). Failed
// publishes (timeouts while a leader is elected, a lost connection) are
// retried with the same Nats-Msg-Id until PersistTimeout has passed since
// start; JetStream stores a retried message once.
func (s *Store) publishAll(ps []pub) ([]uint64, error) {
	deadline := time.Now().Add(s.cfg.PersistTimeout)
	futures := make([]jetstream.PubAckFuture, len(ps))
	seqs := make([]uint64, len(ps))
	var retry []int
	for i, p := range ps {
		f, err := s.js.PublishMsgAsync(&nats.Msg{Subject: p.subj, Data: p.data, Header: p.hdr}, jetstream.WithMsgID(p.id))
		if err != nil {
			retry = append(retry, i)
			continue
		}
		futures[i] = f
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.PublishTimeout)
	defer cancel()
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case ack := <-f.Ok():
			seqs[i] = ack.Sequence
		case <-f.Err():
			retry = append(retry, i)
		case <-ctx.Done():
			select {
			case ack := <-f.Ok():
				seqs[i] = ack.Sequence
			default:
				retry = append(retry, i)
			}
		}
	}
	for _, i := range retry {
		seq, err := s.publishSync(ps[i], deadline)
		if err != nil {
			return nil, err
		}
		seqs[i] = seq
	}
	return seqs, nil
}

// publishSync publishes p until it is acknowledged or deadline passes.
func (s *Store) publishSync(p pub, deadline time.Time) (uint64, error) {
	var last error
	for attempt := 0; time.Now().Before(deadline); attempt++ {
		end := time.Now().Add(s.cfg.PublishTimeout)
		if deadline.Before(end) {
			end = deadline
		}
		ctx, cancel := context.WithDeadline(context.Background(), end)
		ack, err := s.js.PublishMsg(ctx, &nats.Msg{Subject: p.subj, Data: p.data, Header: p.hdr}, jetstream.WithMsgID(p.id))
		cancel()
		if err == nil {
			if attempt > 0 {
				s.log.Info("jetstream: publish went through after a retry", "subject", p.subj, "attempts", attempt+1)
			}
			return ack.Sequence, nil
		}
		last = err
		// Do not spin on an answer that comes at once (no responders
		// while the connection moves to another server).
		time.Sleep(min(50*time.Millisecond, time.Until(deadline)))
	}
	return 0, fmt.Errorf("jetstream: publish to %s not acknowledged within %v: %w", p.subj, s.cfg.PersistTimeout, last)
}

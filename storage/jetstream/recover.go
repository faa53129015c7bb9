package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Recovering a dead store's held inbox entries.
//
// Every store keeps a key w.<writer> in the bucket <NS>_WRITERS and
// writes it every Config.WriterHeartbeat with its checkpoint: the lowest
// RT_HIST sequence of a record whose held entries it has not published or
// seen acknowledged yet (or the next sequence, when it holds none). A
// store that closes cleanly publishes what it holds and deletes its key.
//
// Every store watches the bucket. A key that has not changed for
// Config.WriterStale (its store died, or lost NATS for that long) is
// claimed by compare-and-swap by one of the others, which reads RT_HIST
// from the checkpoint to its end, publishes to RT_INBOX the held entries
// of every record the dead store wrote (record.Lazy, header Rt-Writer),
// with the Nats-Msg-Id Persist's flusher would have used (so an entry it
// did publish within the 2-minute window is stored once), deletes the
// key, and tells every store which peers got entries (<ns>.inew), so
// that their nodes send them to those peers' open sessions.
//
// An entry that was acknowledged while held comes back this way, as
// after a crash of the single-node store: its recipient gets it once more
// with the same id, and clients drop the repeat.

// writerRecord is a writer key's value.
type writerRecord struct {
	Checkpoint uint64 `json:"cp"`           // RT_HIST sequence to recover from
	By         string `json:"by,omitempty"` // the store recovering it
}

// writerKey is the key of writer in the writers bucket.
func writerKey(writer string) string { return "w." + writer }

// histSeqs tracks RT_HIST sequences for the checkpoint: the highest seen
// in a PubAck, and the Persist calls under way with the highest seen when
// each began (its record comes after that).
type histSeqs struct {
	mu       sync.Mutex
	last     uint64            // guarded by mu
	inflight map[uint64]uint64 // call token -> last when it began; guarded by mu
	next     uint64            // guarded by mu
}

func (h *histSeqs) begin() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.inflight == nil {
		h.inflight = map[uint64]uint64{}
	}
	h.next++
	h.inflight[h.next] = h.last
	return h.next
}

func (h *histSeqs) end(token, seq uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.inflight, token)
	h.last = max(h.last, seq)
}

// floor is the lowest sequence a record of a Persist under way can have,
// or last+1.
func (h *histSeqs) floor() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := h.last + 1
	for _, l := range h.inflight {
		f = min(f, l+1)
	}
	return f
}

// checkpoint is this store's recovery point (see writerRecord).
func (s *Store) checkpoint() uint64 {
	f := s.hseqs.floor()
	if cp := s.lazy.checkpoint(); cp != 0 && cp < f {
		return cp
	}
	return f
}

// heartbeat writes this store's writer key.
func (s *Store) heartbeat(ctx context.Context) error {
	data, _ := json.Marshal(writerRecord{Checkpoint: s.checkpoint()})
	ctx, cancel := s.reqCtx(ctx)
	defer cancel()
	_, err := s.writers.Put(ctx, writerKey(s.writer), data)
	return err
}

// seenWriter is what this store's watch saw of another store's key.
type seenWriter struct {
	rev  uint64
	rec  writerRecord
	seen time.Time // when this store saw the revision (its own clock)
}

// writerLoop writes the heartbeat, watches the other writers' keys and
// recovers the stale ones, until stop.
func (s *Store) writerLoop(w jetstream.KeyWatcher) {
	defer s.wg.Done()
	defer w.Stop()
	t := time.NewTicker(s.cfg.WriterHeartbeat)
	defer t.Stop()
	others := map[string]*seenWriter{}
	for {
		select {
		case <-s.stop:
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil {
				continue // the end of the initial values
			}
			writer := strings.TrimPrefix(e.Key(), "w.")
			if writer == s.writer {
				continue
			}
			if e.Operation() != jetstream.KeyValuePut {
				delete(others, writer)
				s.others.Store(live(others, s.cfg.WriterStale))
				continue
			}
			var rec writerRecord
			if json.Unmarshal(e.Value(), &rec) != nil {
				continue
			}
			others[writer] = &seenWriter{rev: e.Revision(), rec: rec, seen: time.Now()}
			s.others.Store(live(others, s.cfg.WriterStale))
		case <-t.C:
			if err := s.heartbeat(context.Background()); err != nil {
				s.log.Debug("jetstream: writer heartbeat", "err", err)
			}
			s.others.Store(live(others, s.cfg.WriterStale))
			for writer, sw := range others {
				if time.Since(sw.seen) < s.cfg.WriterStale {
					continue
				}
				if err := s.recoverWriter(writer, sw); err != nil {
					s.log.Warn("jetstream: recover a dead node's held inbox entries", "writer", writer, "err", err)
					sw.seen = time.Now() // try again after another WriterStale
				}
			}
		}
	}
}

// recoverWriter claims writer's key and publishes the held entries of
// its records from the checkpoint on. Losing the claim is no error.
func (s *Store) recoverWriter(writer string, sw *seenWriter) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*s.cfg.WriterStale+s.cfg.PersistTimeout)
	defer cancel()
	claim, _ := json.Marshal(writerRecord{Checkpoint: sw.rec.Checkpoint, By: s.writer})
	rev, err := s.writers.Update(ctx, writerKey(writer), claim, sw.rev)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil // changed meanwhile: alive, or claimed by another store
		}
		return err
	}
	s.log.Info("jetstream: recovering the held inbox entries of a node gone silent", "writer", writer, "from_seq", sw.rec.Checkpoint)
	n, peers, err := s.republish(ctx, writer, sw.rec.Checkpoint)
	if err != nil {
		return err
	}
	if err := s.writers.Delete(ctx, writerKey(writer), jetstream.LastRevision(rev)); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return err
	}
	s.recovered.Add(uint64(n))
	s.log.Info("jetstream: recovered held inbox entries", "writer", writer, "entries", n, "apps", len(peers))
	for app, ps := range peers {
		s.notifyNew(app, ps)
	}
	return nil
}

// republish reads RT_HIST from seq from to its last message and publishes
// the held entries of writer's records; it returns how many and the peers
// by app.
func (s *Store) republish(ctx context.Context, writer string, from uint64) (int, map[string][]string, error) {
	info, err := s.hist.Info(ctx)
	if err != nil {
		return 0, nil, fmt.Errorf("history stream: %w", err)
	}
	last := info.State.LastSeq
	peers := map[string][]string{}
	if from == 0 {
		from = 1
	}
	if last < from {
		return 0, peers, nil
	}
	cons, err := s.hist.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from,
	})
	if err != nil {
		return 0, nil, fmt.Errorf("history stream consumer: %w", err)
	}
	n := 0
	var ps []pub
	flush := func() error {
		if len(ps) == 0 {
			return nil
		}
		if _, err := s.publishAll(ps); err != nil {
			return err
		}
		n += len(ps)
		ps = ps[:0]
		return nil
	}
	seenPeer := map[string]bool{}
	for {
		batch, err := cons.Fetch(256, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return n, nil, fmt.Errorf("read the history stream: %w", err)
		}
		got, done := 0, false
		for msg := range batch.Messages() {
			got++
			meta, err := msg.Metadata()
			if err != nil {
				return n, nil, err
			}
			if meta.Sequence.Stream >= last || meta.NumPending == 0 {
				done = true
			}
			if msg.Headers().Get(hdrWriter) != writer {
				continue
			}
			var r record
			if json.Unmarshal(msg.Data(), &r) != nil || len(r.Lazy) == 0 {
				continue
			}
			m := r.message()
			data := encodeMessage(m)
			sum := msgID(string(data))
			for _, peer := range r.Lazy {
				ps = append(ps, pub{subj: s.n.inboxSubject(m.App, peer), id: msgID("i", m.App, m.ID, peer, sum), data: data})
				if k := m.App + "\x00" + peer; !seenPeer[k] {
					seenPeer[k] = true
					peers[m.App] = append(peers[m.App], peer)
				}
			}
			if len(ps) >= 256 {
				if err := flush(); err != nil {
					return n, nil, err
				}
			}
			if done {
				break
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
			return n, nil, fmt.Errorf("read the history stream: %w", err)
		}
		if done || got == 0 {
			break
		}
		if ctx.Err() != nil {
			return n, nil, ctx.Err()
		}
	}
	if err := flush(); err != nil {
		return n, nil, err
	}
	return n, peers, nil
}

// newMsg tells every store that peers of app got inbox entries outside a
// Persist (core NATS, JSON).
type newMsg struct {
	App   string   `json:"a"`
	Peers []string `json:"p"`
}

func (s *Store) notifyNew(app string, peers []string) {
	for len(peers) > 0 {
		k := min(len(peers), 500)
		data, _ := json.Marshal(newMsg{App: app, Peers: peers[:k]})
		peers = peers[k:]
		if err := s.nc.Publish(s.n.newSubject(), data); err != nil {
			s.log.Debug("jetstream: announce recovered entries", "err", err)
		}
	}
}

// OnInboxAdded implements storage.InboxNotifier.
func (s *Store) OnInboxAdded(fn func(app string, peers []string)) {
	s.onNewMu.Lock()
	s.onNew = fn
	s.onNewMu.Unlock()
}

func (s *Store) onNewMsg(msg *nats.Msg) {
	var m newMsg
	if json.Unmarshal(msg.Data, &m) != nil || m.App == "" || len(m.Peers) == 0 {
		return
	}
	s.onNewMu.Lock()
	fn := s.onNew
	s.onNewMu.Unlock()
	if fn != nil {
		fn(m.App, m.Peers)
	}
}

// live is those of others that changed their key within stale.
func live(others map[string]*seenWriter, stale time.Duration) *[]string {
	var ids []string
	for w, sw := range others {
		if time.Since(sw.seen) < stale {
			ids = append(ids, w)
		}
	}
	return &ids
}

package jetstream

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtgate/rtgate/storage"
)

// Persist writes m to RT_HIST and puts it in the inbox of every peer in
// inbox, and returns once every write has its PubAck (a quorum of servers
// has it, fsynced). The inbox entries are held in memory for InboxDelay
// (lazy.go); the RT_HIST record names them, so they survive this
// process (recover.go). Writes are retried with the same Nats-Msg-Id for
// up to PersistTimeout. Persisting the same message again stores it once;
// persisting a changed message with the same ID adds a copy that readers
// take instead of the older one.
func (s *Store) Persist(ctx context.Context, m *storage.Message, inbox []string) error {
	return s.PersistOffline(ctx, m, inbox, nil)
}

// PersistOffline implements storage.OfflineHinter: it is Persist, but the
// entries of the peers in offline are published with the message (no
// acknowledgement will come soon).
func (s *Store) PersistOffline(ctx context.Context, m *storage.Message, inbox, offline []string) error {
	if m == nil || m.App == "" || m.ID == "" {
		return fmt.Errorf("%w: message needs App and ID", storage.ErrInvalid)
	}
	if err := s.check(ctx); err != nil {
		return err
	}
	data := encodeMessage(m)
	sum := msgID(string(data))
	ps := make([]pub, 0, len(inbox)+1)
	seen := make(map[string]bool, len(inbox))
	peers := make([]string, 0, len(inbox))
	hold := s.cfg.InboxDelay > 0 && s.lazy.room(len(inbox))
	var lazy []string
	var held []*lazyEntry
	for _, peer := range inbox {
		if seen[peer] {
			continue
		}
		seen[peer] = true
		peers = append(peers, peer)
		p := pub{subj: s.n.inboxSubject(m.App, peer), id: msgID("i", m.App, m.ID, peer, sum), data: data}
		if hold && !slices.Contains(offline, peer) {
			lazy = append(lazy, peer)
			held = append(held, &lazyEntry{subj: p.subj, pub: p})
			continue
		}
		ps = append(ps, p)
	}
	// The history record also names the inboxes (Recipients), so its id
	// covers them: persisting the message again for other peers records
	// those too. Which of them are held does not change the id.
	hist := encodeHist(m, peers, nil)
	hp := pub{subj: s.n.histSubject(m.App, m.ConvID, m.From), id: msgID("h", m.App, m.ID, msgID(string(hist))), data: hist}
	if len(lazy) > 0 {
		hp.data = encodeHist(m, peers, lazy)
		hp.hdr = nats.Header{hdrWriter: []string{s.writer}}
	}
	ps = append(ps, hp)
	token := s.hseqs.begin()
	seqs, err := s.publishAll(ps)
	if err != nil {
		s.hseqs.end(token, 0)
		return err
	}
	histSeq := seqs[len(seqs)-1]
	stored := m.Clone()
	for i, p := range ps[:len(ps)-1] {
		s.seqs.note(p.subj, stored, seqs[i])
	}
	if len(held) > 0 {
		for _, e := range held {
			e.m, e.histSeq = stored, histSeq
		}
		s.lazy.hold(held, s.cfg.InboxDelay, s.cfg.Limits.InboxSize)
	}
	s.hseqs.end(token, histSeq)
	return nil
}

// entry is one pending message and the stream sequences holding it (more
// than one if it was persisted again changed).
type entry struct {
	m    *storage.Message
	seqs []uint64
	// writer, when set, is the store holding the entry in memory (a ref
	// from another node said so; seqs is empty then).
	writer string
}

// pending reads the peer's inbox subject through the stream leader and
// returns its pending messages, oldest first (Time, then ID), the newest
// copy of each ID, without those older than InboxTTL by the store's clock.
func (s *Store) pending(ctx context.Context, app, peer string) ([]*entry, error) {
	byID := map[string]*entry{}
	limit := 2*s.cfg.Limits.InboxSize + 16
	subj := s.n.inboxSubject(app, peer)
	err := s.scan(ctx, s.n.inbox, subj, limit, func(sm *storedMsg) error {
		m, err := decodeMessage(sm.Data)
		if err != nil {
			return err
		}
		s.seqs.note(subj, m, sm.Seq)
		if e := byID[m.ID]; e != nil {
			e.m = m // stream order: a later copy replaces the earlier
			e.seqs = append(e.seqs, sm.Seq)
			return nil
		}
		byID[m.ID] = &entry{m: m, seqs: []uint64{sm.Seq}}
		return nil
	})
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now().UnixMilli()
	ttl := s.cfg.Limits.InboxTTL.Milliseconds()
	out := make([]*entry, 0, len(byID))
	for _, e := range byID {
		if now-e.m.Time < ttl {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b *entry) int {
		return cmp.Or(cmp.Compare(a.m.Time, b.m.Time), cmp.Compare(a.m.ID, b.m.ID))
	})
	return out, nil
}

// Pending returns the peer's pending messages, oldest first, read through
// the stream leader, with the entries this store holds; the other stores
// are asked to publish theirs first (askFlush).
func (s *Store) Pending(ctx context.Context, app, peer string) ([]*storage.Message, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	s.askFlush(ctx, app, peer)
	es, err := s.pending(ctx, app, peer)
	if err != nil {
		return nil, err
	}
	es = s.mergeHeld(s.n.inboxSubject(app, peer), es)
	out := make([]*storage.Message, len(es))
	for i, e := range es {
		out[i] = e.m
	}
	return out, nil
}

// Count returns how many messages the peer has pending (direct: those
// without a Room only).
func (s *Store) Count(ctx context.Context, app, peer string, direct bool) (int, error) {
	ms, err := s.Pending(ctx, app, peer)
	if err != nil {
		return 0, err
	}
	if !direct {
		return len(ms), nil
	}
	n := 0
	for _, m := range ms {
		if m.Room == "" {
			n++
		}
	}
	return n, nil
}

// Remove deletes the pending messages among ids from the peer's inbox and
// returns them, oldest first.
//
// When this store knows where every one of them is (it persisted them,
// or read them in Pending), it deletes them by sequence without reading
// the inbox, and returns those a delete found. Otherwise it reads the
// inbox through the leader; then, when the messages are all the pending
// messages up to the newest of them (a cumulative or bare ack), one purge
// of the subject up to that sequence removes them, and else each is
// deleted by sequence.
func (s *Store) Remove(ctx context.Context, app, peer string, ids []string) ([]*storage.Message, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	subj := s.n.inboxSubject(app, peer)
	held, ids := s.lazy.remove(subj, ids)
	now, ttl := s.cfg.Now().UnixMilli(), s.cfg.Limits.InboxTTL.Milliseconds()
	held = slices.DeleteFunc(held, func(m *storage.Message) bool { return now-m.Time >= ttl })
	if len(ids) == 0 {
		return sortMessages(held), nil
	}
	if known, ok := s.seqs.lookup(subj, ids); ok {
		removed, err := s.removeKnown(ctx, subj, known)
		if err != nil {
			return nil, err
		}
		return sortMessages(append(held, removed...)), nil
	}
	removed, err := s.removePending(ctx, app, peer, subj, ids)
	if err != nil {
		return nil, err
	}
	return sortMessages(append(held, removed...)), nil
}

// sortMessages sorts ms oldest first (Time, then ID) and returns it.
func sortMessages(ms []*storage.Message) []*storage.Message {
	slices.SortFunc(ms, func(a, b *storage.Message) int {
		return cmp.Or(cmp.Compare(a.Time, b.Time), cmp.Compare(a.ID, b.ID))
	})
	return ms
}

// removePending is Remove for ids this store knows nothing about: it
// reads the inbox through the leader. The ids not found there may be held
// by another store: they go to every store.
func (s *Store) removePending(ctx context.Context, app, peer, subj string, ids []string) ([]*storage.Message, error) {
	es, err := s.pending(ctx, app, peer)
	if err != nil {
		return nil, err
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	var removed []*storage.Message
	var seqs []uint64
	var maxSeq uint64
	for _, e := range es {
		if want[e.m.ID] {
			removed = append(removed, e.m)
			seqs = append(seqs, e.seqs...)
			maxSeq = max(maxSeq, slices.Max(e.seqs))
		}
	}
	if len(removed) < len(ids) {
		elsewhere := slices.DeleteFunc(slices.Clone(ids), func(id string) bool {
			return slices.ContainsFunc(removed, func(m *storage.Message) bool { return m.ID == id })
		})
		if len(elsewhere) > 0 {
			s.forwardAck("", app, peer, elsewhere)
		}
	}
	if len(removed) == 0 {
		return nil, nil
	}
	prefix := true // every pending message at or below maxSeq is removed
	for _, e := range es {
		if !want[e.m.ID] && slices.Min(e.seqs) <= maxSeq {
			prefix = false
			break
		}
	}
	if prefix && len(seqs) > 1 {
		rctx, cancel := s.reqCtx(ctx)
		err = s.inbox.Purge(rctx, jetstream.WithPurgeSubject(subj), jetstream.WithPurgeSequence(maxSeq+1))
		cancel()
	} else {
		_, err = s.deleteSeqs(ctx, seqs)
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream: remove from the inbox: %w", err)
	}
	s.seqs.forget(subj, ids)
	return removed, nil
}

// removeKnown deletes the messages of es by sequence and returns, oldest
// first, those that were pending (not older than InboxTTL, and still
// there).
func (s *Store) removeKnown(ctx context.Context, subj string, es []*entry) ([]*storage.Message, error) {
	now := s.cfg.Now().UnixMilli()
	ttl := s.cfg.Limits.InboxTTL.Milliseconds()
	var removed []*storage.Message
	var ids []string
	forward := map[string][]string{} // writer -> ids it holds
	for _, e := range es {
		ids = append(ids, e.m.ID)
		if now-e.m.Time >= ttl {
			continue // expired: left to MaxAge, as if gone
		}
		if e.writer != "" {
			forward[e.writer] = append(forward[e.writer], e.m.ID)
			removed = append(removed, e.m)
			continue
		}
		n, err := s.deleteSeqs(ctx, e.seqs)
		if err != nil {
			return nil, fmt.Errorf("jetstream: remove from the inbox: %w", err)
		}
		if n > 0 {
			removed = append(removed, e.m)
		}
	}
	s.seqs.forget(subj, ids)
	if len(forward) > 0 {
		app, peer := s.n.inboxPeer(subj)
		for w, wids := range forward {
			s.forwardAck(w, app, peer, wids)
		}
	}
	return sortMessages(removed), nil
}

// deleteSeqs deletes inbox messages by sequence and returns how many were
// there; one already gone is no error.
func (s *Store) deleteSeqs(ctx context.Context, seqs []uint64) (int, error) {
	n := 0
	for _, seq := range seqs {
		found, err := s.deleteMsg(ctx, s.n.inbox, seq)
		if err != nil {
			return n, err
		}
		if found {
			n++
		}
	}
	return n, nil
}

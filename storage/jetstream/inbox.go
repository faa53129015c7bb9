package jetstream

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtgate/rtgate/storage"
)

// Persist writes m to RT_HIST and to the inbox subject of every peer in
// inbox, and returns once every write has its PubAck (a quorum of servers
// has it, fsynced). Writes are retried with the same Nats-Msg-Id for up to
// PersistTimeout. Persisting the same message again stores it once;
// persisting a changed message with the same ID adds a copy that readers
// take instead of the older one.
func (s *Store) Persist(ctx context.Context, m *storage.Message, inbox []string) error {
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
	for _, peer := range inbox {
		if seen[peer] {
			continue
		}
		seen[peer] = true
		peers = append(peers, peer)
		ps = append(ps, pub{subj: s.n.inboxSubject(m.App, peer), id: msgID("i", m.App, m.ID, peer, sum), data: data})
	}
	// The history record also names the inboxes (Recipients), so its id
	// covers them: persisting the message again for other peers records
	// those too.
	hist := encodeHist(m, peers)
	ps = append(ps, pub{subj: s.n.histSubject(m.App, m.ConvID, m.From), id: msgID("h", m.App, m.ID, msgID(string(hist))), data: hist})
	seqs, err := s.publishAll(ps)
	if err != nil {
		return err
	}
	stored := m.Clone()
	for i, p := range ps[:len(ps)-1] {
		s.seqs.note(p.subj, stored, seqs[i])
	}
	return nil
}

// PersistOffline is Persist: JetStream writes every inbox entry at once.
func (s *Store) PersistOffline(ctx context.Context, m *storage.Message, inbox, _ []string) error {
	return s.Persist(ctx, m, inbox)
}

// entry is one pending message and the stream sequences holding it (more
// than one if it was persisted again changed).
type entry struct {
	m    *storage.Message
	seqs []uint64
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
// the stream leader.
func (s *Store) Pending(ctx context.Context, app, peer string) ([]*storage.Message, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	es, err := s.pending(ctx, app, peer)
	if err != nil {
		return nil, err
	}
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
	if known, ok := s.seqs.lookup(subj, ids); ok {
		return s.removeKnown(ctx, subj, known)
	}
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
	for _, e := range es {
		ids = append(ids, e.m.ID)
		if now-e.m.Time >= ttl {
			continue // expired: left to MaxAge, as if gone
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
	slices.SortFunc(removed, func(a, b *storage.Message) int {
		return cmp.Or(cmp.Compare(a.Time, b.Time), cmp.Compare(a.ID, b.ID))
	})
	return removed, nil
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

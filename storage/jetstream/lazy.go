package jetstream

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rtgate/rtgate/storage"
)

// Delayed inbox entries.
//
// Most persistent messages are acknowledged within milliseconds: their
// recipient is online. Publishing an inbox entry to RT_INBOX and deleting
// it at the ack costs two replicated writes that nobody reads. So the
// entry of a recipient the caller did not name offline (PersistOffline)
// is held in this store's memory for Config.InboxDelay and published only
// if it is still unacknowledged then; the message's RT_HIST record, which
// Persist always publishes before it returns, names these peers
// (record.Lazy) and this store (header Rt-Writer), so that when the
// process dies another store publishes them (recover.go).
//
// An acknowledgement that reaches another node finds the entry through
// the ref the live copy carried (InboxRef: "held by writer W") and is
// forwarded to W on core NATS (<ns>.iack.<W>); one for an id no node
// told this store about goes to every store (<ns>.iack.all). Pending and
// Count on the holding node include its held entries; other nodes see an
// entry once it is published, at most InboxDelay later.

// lazyEntry is one inbox entry held in memory.
type lazyEntry struct {
	subj    string
	m       *storage.Message // the store's own copy
	pub     pub
	at      time.Time // when Persist held it
	histSeq uint64    // RT_HIST sequence of its message's record
	due     time.Time
	state   lazyState
	acked   bool // removed while being published: delete it once published
}

type lazyState uint8

const (
	lazyHeld       lazyState = iota // in memory only
	lazyPublishing                  // being published by the flusher
	lazyGone                        // published or removed: skipped in the queue
)

// maxLazy bounds the entries held; past it Persist publishes at once.
const maxLazy = 200_000

// lazyInbox is the store's held entries. Safe for concurrent use.
type lazyInbox struct {
	mu     sync.Mutex
	bySubj map[string]map[string]*lazyEntry // inbox subject -> message id -> held or publishing; guarded by mu
	queue  []*lazyEntry                     // in due order (one delay for all); guarded by mu
	n      int                              // entries in bySubj; guarded by mu
}

// room reports whether k more entries may be held.
func (l *lazyInbox) room(k int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n+k <= maxLazy
}

// hold adds es, due after delay. Past limit entries held for one inbox,
// the oldest are dropped, as the stream would drop them.
func (l *lazyInbox) hold(es []*lazyEntry, delay time.Duration, limit int) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.bySubj == nil {
		l.bySubj = map[string]map[string]*lazyEntry{}
	}
	for _, e := range es {
		e.at, e.due = now, now.Add(delay)
		byID := l.bySubj[e.subj]
		if byID == nil {
			byID = map[string]*lazyEntry{}
			l.bySubj[e.subj] = byID
		}
		if old := byID[e.m.ID]; old != nil {
			// The same message persisted again: the newer copy is held;
			// the older one, if being published, stays published.
			if old.state == lazyHeld {
				old.state = lazyGone
			}
			l.n--
		}
		byID[e.m.ID] = e
		l.n++
		l.queue = append(l.queue, e)
		for len(byID) > limit {
			var oldest *lazyEntry
			for _, o := range byID {
				if o.state == lazyHeld && (oldest == nil || o.m.Time < oldest.m.Time || o.m.Time == oldest.m.Time && o.m.ID < oldest.m.ID) {
					oldest = o
				}
			}
			if oldest == nil {
				break
			}
			oldest.state = lazyGone
			delete(byID, oldest.m.ID)
			l.n--
		}
	}
}

// takeDue marks the held entries due by now as being published and
// returns them.
func (l *lazyInbox) takeDue(now time.Time, all bool) []*lazyEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*lazyEntry
	i := 0
	for ; i < len(l.queue); i++ {
		e := l.queue[i]
		if !all && e.due.After(now) {
			break
		}
		if e.state == lazyHeld {
			e.state = lazyPublishing
			out = append(out, e)
		}
	}
	l.queue = slices.Delete(l.queue, 0, i)
	return out
}

// published records the outcome of publishing es: ok entries leave the
// held set and those removed meanwhile are returned (to be deleted by
// sequence); failed ones are held again, due after delay.
func (l *lazyInbox) published(es []*lazyEntry, ok []bool, delay time.Duration) (acked []*lazyEntry) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, e := range es {
		if !ok[i] {
			if !e.acked {
				e.state, e.due = lazyHeld, now.Add(delay)
				l.queue = append(l.queue, e)
				continue
			}
		} else if e.acked {
			acked = append(acked, e)
		}
		e.state = lazyGone
		if byID := l.bySubj[e.subj]; byID[e.m.ID] == e {
			delete(byID, e.m.ID)
			l.n--
			if len(byID) == 0 {
				delete(l.bySubj, e.subj)
			}
		}
	}
	return acked
}

// remove takes ids out of subj's held entries and returns the messages it
// removed and the ids it does not hold. An entry being published is
// marked, to be deleted once published.
func (l *lazyInbox) remove(subj string, ids []string) (removed []*storage.Message, rest []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	byID := l.bySubj[subj]
	for _, id := range ids {
		e := byID[id]
		if e == nil || e.acked {
			rest = append(rest, id)
			continue
		}
		removed = append(removed, e.m)
		if e.state == lazyPublishing {
			e.acked = true
			continue
		}
		e.state = lazyGone
		delete(byID, id)
		l.n--
	}
	if byID != nil && len(byID) == 0 {
		delete(l.bySubj, subj)
	}
	return removed, rest
}

// takeSubject marks subj's held entries as being published and returns
// them.
func (l *lazyInbox) takeSubject(subj string) []*lazyEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*lazyEntry
	for _, e := range l.bySubj[subj] {
		if e.state == lazyHeld {
			e.state = lazyPublishing
			out = append(out, e)
		}
	}
	return out
}

// held returns subj's held entries' messages (the store's copies).
func (l *lazyInbox) held(subj string) []*storage.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*storage.Message
	for _, e := range l.bySubj[subj] {
		if !e.acked {
			out = append(out, e.m)
		}
	}
	return out
}

// holds reports whether id is held (not yet published) in subj, and the
// message.
func (l *lazyInbox) holds(subj, id string) (*storage.Message, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.bySubj[subj][id]
	if e == nil || e.acked {
		return nil, false
	}
	return e.m, true
}

// checkpoint is the lowest RT_HIST sequence of a record whose held
// entries are not all published or removed, or 0 when there is none.
func (l *lazyInbox) checkpoint() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var cp uint64
	for _, byID := range l.bySubj {
		for _, e := range byID {
			if cp == 0 || e.histSeq < cp {
				cp = e.histSeq
			}
		}
	}
	return cp
}

// count is the number of entries held or being published.
func (l *lazyInbox) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// flushLoop publishes the held entries as they fall due, until stop.
func (s *Store) flushLoop() {
	defer s.wg.Done()
	t := time.NewTicker(max(s.cfg.InboxDelay/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.flushDue(now, false)
		}
	}
}

// flushDue publishes the entries due by now (all of them with all).
func (s *Store) flushDue(now time.Time, all bool) {
	s.publishHeld(s.lazy.takeDue(now, all))
}

// publishHeld publishes es, taken from the held entries.
func (s *Store) publishHeld(es []*lazyEntry) {
	if len(es) == 0 {
		return
	}
	ps := make([]pub, len(es))
	for i, e := range es {
		ps[i] = e.pub
	}
	seqs, ok := s.publishEach(ps)
	var failed int
	for i, e := range es {
		if ok[i] {
			s.seqs.note(e.subj, e.m, seqs[i])
		} else {
			failed++
		}
	}
	for _, e := range s.lazy.published(es, ok, s.cfg.InboxDelay) {
		s.seqs.forget(e.subj, []string{e.m.ID})
		ctx, cancel := s.reqCtx(context.Background())
		if _, err := s.deleteMsg(ctx, s.n.inbox, seqs[slices.Index(es, e)]); err != nil {
			s.log.Warn("jetstream: delete an entry acknowledged while it was published", "err", err)
		}
		cancel()
	}
	s.lazyWrites.Add(uint64(len(es) - failed))
	if failed > 0 {
		s.log.Warn("jetstream: held inbox entries not published; trying again", "entries", failed)
	}
}

// publishEach publishes ps, each until acknowledged or PersistTimeout, and
// reports each one's sequence and success.
func (s *Store) publishEach(ps []pub) ([]uint64, []bool) {
	seqs, err := s.publishAll(ps)
	ok := make([]bool, len(ps))
	if err == nil {
		for i := range ok {
			ok[i] = true
		}
		return seqs, ok
	}
	// One failed for PersistTimeout: find out which, one at a time.
	seqs = make([]uint64, len(ps))
	deadline := time.Now().Add(s.cfg.PublishTimeout)
	for i, p := range ps {
		seq, err := s.publishSync(p, deadline)
		seqs[i], ok[i] = seq, err == nil
	}
	return seqs, ok
}

// ackMsg is a forwarded acknowledgement (core NATS, JSON).
type ackMsg struct {
	App  string   `json:"a"`
	Peer string   `json:"p"`
	IDs  []string `json:"i"`
}

// forwardAck sends an acknowledgement of ids to the store writer holds
// them ("" or "all": every store).
func (s *Store) forwardAck(writer, app, peer string, ids []string) {
	if writer == "" {
		writer = "all"
	}
	data, _ := json.Marshal(ackMsg{App: app, Peer: peer, IDs: ids})
	if err := s.nc.Publish(s.n.ackSubject(writer), data); err != nil {
		s.log.Debug("jetstream: forward an acknowledgement", "writer", writer, "err", err)
	}
}

// onAck handles an acknowledgement another store forwarded: held entries
// are dropped; entries this store published since are deleted by
// sequence (in a goroutine: a subscription's callback must not wait on
// JetStream).
func (s *Store) onAck(msg *nats.Msg) {
	var a ackMsg
	if json.Unmarshal(msg.Data, &a) != nil || a.App == "" || len(a.IDs) == 0 {
		return
	}
	subj := s.n.inboxSubject(a.App, a.Peer)
	_, rest := s.lazy.remove(subj, a.IDs)
	if len(rest) == 0 {
		return
	}
	known := slices.DeleteFunc(s.seqs.lookupSome(subj, rest), func(e *entry) bool { return e.writer != "" })
	if len(known) == 0 {
		return
	}
	s.background(func() {
		ctx, cancel := s.reqCtx(context.Background())
		defer cancel()
		if _, err := s.removeKnown(ctx, subj, known); err != nil {
			s.log.Warn("jetstream: forwarded acknowledgement", "err", err)
		}
	})
}

// mergeHeld adds subj's held entries to es (those published meanwhile are
// in es already), keeps the newest InboxSize, oldest first.
func (s *Store) mergeHeld(subj string, es []*entry) []*entry {
	held := s.lazy.held(subj)
	if len(held) == 0 {
		return es
	}
	have := make(map[string]bool, len(es))
	for _, e := range es {
		have[e.m.ID] = true
	}
	now := s.cfg.Now().UnixMilli()
	ttl := s.cfg.Limits.InboxTTL.Milliseconds()
	for _, m := range held {
		if !have[m.ID] && now-m.Time < ttl {
			es = append(es, &entry{m: m.Clone()})
		}
	}
	slices.SortFunc(es, func(a, b *entry) int {
		return cmp.Or(cmp.Compare(a.m.Time, b.m.Time), cmp.Compare(a.m.ID, b.m.ID))
	})
	if n := s.cfg.Limits.InboxSize; len(es) > n {
		es = es[len(es)-n:]
	}
	return es
}

// flushMsg asks another store to publish the entries it holds for one
// inbox (core NATS request to <ns>.iflush.<store>, JSON; it answers once
// it has).
type flushMsg struct {
	App  string `json:"a"`
	Peer string `json:"p"`
}

// askFlush makes the other live stores publish the entries they hold in
// peer's inbox, so that a read through the stream leader sees them: one
// request to each, in parallel, each waited for at most flushWait. A dead
// store's request fails at once (no responders: its subscription went
// with its connection); its entries come by recovery.
func (s *Store) askFlush(ctx context.Context, app, peer string) {
	others := s.otherWriters()
	if len(others) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, flushWait)
	defer cancel()
	data, _ := json.Marshal(flushMsg{App: app, Peer: peer})
	var wg sync.WaitGroup
	for _, w := range others {
		wg.Go(func() {
			if _, err := s.nc.RequestWithContext(ctx, s.n.flushSubject(w), data); err != nil {
				s.log.Debug("jetstream: a store did not publish its held entries", "writer", w, "peer", peer, "err", err)
			}
		})
	}
	wg.Wait()
}

// flushWait bounds each askFlush request: a live store answers within
// milliseconds.
const flushWait = 250 * time.Millisecond

// onFlush answers another store's askFlush once this store's held
// entries of that inbox are published.
func (s *Store) onFlush(msg *nats.Msg) {
	var f flushMsg
	if json.Unmarshal(msg.Data, &f) != nil || f.App == "" || msg.Reply == "" {
		return
	}
	es := s.lazy.takeSubject(s.n.inboxSubject(f.App, f.Peer))
	if len(es) == 0 {
		_ = msg.Respond(nil)
		return
	}
	s.background(func() {
		s.publishHeld(es)
		_ = msg.Respond(nil)
	})
}

// background runs f in a goroutine that Close waits for; once Close has
// begun, it runs f in the caller's.
func (s *Store) background(f func()) {
	s.bgMu.Lock()
	if s.bgClosed {
		s.bgMu.Unlock()
		f()
		return
	}
	s.wg.Add(1)
	s.bgMu.Unlock()
	go func() {
		defer s.wg.Done()
		f()
	}()
}

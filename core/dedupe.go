package core

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/storage"
)

// maxClientIDBytes bounds the client id (`id`) of a modern `direct`.
const maxClientIDBytes = 128

// sendDedupe makes a modern client's acknowledged sends idempotent. A
// `direct` (to peers or to a group) that carries a client id (`id`) is
// remembered by app, sender and id for Config.DedupeWindow; a repeat (the
// same id with the same text and recipients), which is what a client sends
// when its connection dropped before the ack came, is acked with the first
// message's uid and time and is neither stored nor delivered again. The
// same id on a different message is a new message: ids are only hints of
// a repeat, and a client that reuses them loses nothing. Legacy
// connections are left out: 2014 clients' ids only match acks. A stored
// message keeps its client id and checksum, so a hub on a store that can
// list them (storage.ClientSends) remembers the sends of the last window
// across a restart (Hub.loadSent). Safe for concurrent use.
type sendDedupe struct {
	window time.Duration // <= 0: off
	max    int           // entries kept at most

	mu    sync.Mutex
	sends map[string]*sentEntry // app\x00peer\x00id -> entry; guarded by mu
	order []*sentEntry          // entries by age, from head on; guarded by mu
	head  int                   // guarded by mu
}

// sentEntry is one remembered send. Its fields after sum are guarded by
// sendDedupe.mu; ok, uid and t are set when done is closed (and dropped,
// so that a remembered send holds no channel).
type sentEntry struct {
	key     string
	sum     uint64 // of the message (see messageSum): a repeat must match it
	expires time.Time
	done    chan struct{} // while the first send is being handled; nil after
	ok      bool          // it was acked (so a repeat gets the same ack)
	uid     string
	t       int64
	// claim is the send's key in the store's SendClaims when this node
	// claimed it there; owned by the first send's goroutine.
	claim *storage.SendKey
}

// begin returns the entry of key for a message with checksum sum, and
// whether it is new: then the caller handles the send and must call
// finish. Otherwise wait, when not nil, is closed once the first send has
// been handled. An entry of another message under the same key is
// replaced.
func (d *sendDedupe) begin(key string, sum uint64, now time.Time) (e *sentEntry, wait <-chan struct{}, first bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expire(now)
	if old := d.sends[key]; old != nil && old.sum == sum {
		return old, old.done, false
	}
	if d.sends == nil {
		d.sends = make(map[string]*sentEntry)
	}
	e = &sentEntry{key: key, sum: sum, expires: now.Add(d.window), done: make(chan struct{})}
	d.sends[key] = e
	d.order = append(d.order, e)
	return e, nil, true
}

// expire forgets the entries past their window, and the oldest beyond max.
// Called with mu held.
func (d *sendDedupe) expire(now time.Time) {
	for d.head < len(d.order) {
		e := d.order[d.head]
		if !now.After(e.expires) && len(d.sends) < d.max {
			break
		}
		if d.sends[e.key] == e {
			delete(d.sends, e.key)
		}
		d.order[d.head] = nil
		d.head++
	}
	if d.head > len(d.order)/2 {
		d.order = append(d.order[:0], d.order[d.head:]...)
		d.head = 0
	}
}

// finish records how the first send of e ended; a send that was not acked
// is forgotten, so that a repeat is handled as new. A nil e (a send that
// takes no part) is ignored.
func (d *sendDedupe) finish(e *sentEntry, ok bool, uid string, t int64) {
	if e == nil {
		return
	}
	d.mu.Lock()
	e.ok, e.uid, e.t = ok, uid, t
	if !ok && d.sends[e.key] == e {
		delete(d.sends, e.key)
	}
	done := e.done
	e.done = nil
	d.mu.Unlock()
	close(done)
}

// load remembers sends acked before a restart: the messages ms, which
// carry their ClientID and ClientSum, each until its Time plus the window.
// Call it before the hub takes connections.
func (d *sendDedupe) load(ms []*storage.Message, now time.Time) {
	slices.SortFunc(ms, func(a, b *storage.Message) int { return cmp.Compare(a.Time, b.Time) })
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sends == nil {
		d.sends = make(map[string]*sentEntry)
	}
	for _, m := range ms {
		e := &sentEntry{key: m.App + "\x00" + m.From + "\x00" + m.ClientID, sum: m.ClientSum,
			expires: time.UnixMilli(m.Time).Add(d.window), ok: true, uid: m.ID, t: m.Time}
		d.sends[e.key] = e
		d.order = append(d.order, e)
	}
	d.expire(now)
}

// loadSent fills the hub's send de-duplication from the store, if it can
// list the recent sends (storage.ClientSends): a client that repeats a
// send after a restart of the server gets the first send's ack.
func (h *Hub) loadSent() error {
	cs, ok := h.store.(storage.ClientSends)
	if !ok || h.sent.window <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.StoreTimeout)
	defer cancel()
	now := h.cfg.Now()
	var ms []*storage.Message
	err := cs.ClientSends(ctx, now.Add(-h.sent.window).UnixMilli(), func(m *storage.Message) error {
		ms = append(ms, m)
		return nil
	})
	if err != nil {
		return fmt.Errorf("core: load the recent sends: %w", err)
	}
	h.sent.load(ms, now)
	if len(ms) > 0 {
		h.log.Info("core: remembered the recent sends of modern clients", "sends", len(h.sent.sends))
	}
	return nil
}

// tag gives m, about to be stored, the client id of its send and the
// checksum, so that a restarted hub recognises a repeat (loadSent). A nil
// e (a send that takes no part) is ignored.
func (e *sentEntry) tag(m *storage.Message, id string) {
	if e != nil {
		m.ClientID, m.ClientSum = id, e.sum
	}
}

// result returns how the first send of e ended; call it after its wait.
func (d *sendDedupe) result(e *sentEntry) (ok bool, uid string, t int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return e.ok, e.uid, e.t
}

// dedupe looks up cmd, an acknowledged `direct` from s, in the hub's
// sendDedupe. It returns the entry to finish when cmd is a first send
// with a client id, nil when cmd takes no part, and done when cmd was
// answered here: a repeat acked like its first send, or an error reply.
func (c *Client) dedupe(s *session, cmd *protocol.Command) (e *sentEntry, done bool, err error) {
	h := c.hub
	if cmd.Transient || cmd.ID == "" || h.sent.window <= 0 || !c.conn.Info().Modern {
		return nil, false, nil
	}
	if len(cmd.ID) > maxClientIDBytes {
		return nil, true, c.fail(cmd.I, protocol.ClosePolicyViolation, protocol.ErrCodeBadCommand,
			fmt.Sprintf("id is %d bytes, over the %d-byte limit", len(cmd.ID), maxClientIDBytes))
	}
	key := s.app.ID + "\x00" + s.peer + "\x00" + cmd.ID
	sum := messageSum(cmd)
	ctx, cancel := h.storeCtx()
	defer cancel()
	for {
		e, wait, first := h.sent.begin(key, sum, h.cfg.Now())
		if first {
			return c.claimSend(ctx, s, cmd, e, sum)
		}
		if wait != nil {
			select {
			case <-wait:
			case <-ctx.Done(): // the first send is stuck in the store
				return nil, true, c.fail(cmd.I, protocol.CloseInternal, protocol.ErrCodeInternal, "message not stored")
			}
		}
		if ok, uid, t := h.sent.result(e); ok {
			h.metrics.Deduplicated.Inc()
			c.ackSent(s, cmd, uid, t)
			return nil, true, nil
		}
		// The first send failed and was forgotten: handle this one.
	}
}

// claimSendPoll is how often a repeat asks again about a send another node
// is still storing.
const claimSendPoll = 50 * time.Millisecond

// claimSend claims a first send (this node had not seen it) in the
// store's SendClaims, when it has them: a repeat that reached this node
// after its first send went to another is then acked like that one, and
// one still under way there is waited for. If the claims cannot be read
// the send is handled here (a repeat may then be stored twice, as on a
// store without claims).
func (c *Client) claimSend(ctx context.Context, s *session, cmd *protocol.Command, e *sentEntry, sum uint64) (*sentEntry, bool, error) {
	h := c.hub
	if h.claims == nil {
		return e, false, nil
	}
	k := storage.SendKey{App: s.app.ID, From: s.peer, ClientID: cmd.ID}
	for {
		cl, owned, err := h.claims.ClaimSend(ctx, k, sum)
		switch {
		case err != nil:
			h.metrics.StoreErrors.Inc()
			h.log.Warn("claim a send: handling it without the cluster-wide check", "app", k.App, "from", k.From, "err", err)
			return e, false, nil
		case owned:
			e.claim = &k
			return e, false, nil
		case cl.Done:
			h.sent.finish(e, true, cl.ID, cl.Time)
			h.metrics.Deduplicated.Inc()
			c.ackSent(s, cmd, cl.ID, cl.Time)
			return nil, true, nil
		}
		select { // under way on another node
		case <-ctx.Done():
			h.sent.finish(e, false, "", 0)
			return nil, true, c.fail(cmd.I, protocol.CloseInternal, protocol.ErrCodeInternal, "message not stored")
		case <-time.After(claimSendPoll):
		}
	}
}

// finishSent records how the first send of e ended, here and, when this
// node claimed it, in the store's SendClaims.
func (h *Hub) finishSent(e *sentEntry, ok bool, uid string, t int64) {
	if e == nil {
		return
	}
	k := e.claim
	h.sent.finish(e, ok, uid, t)
	if k == nil {
		return
	}
	ctx, cancel := h.storeCtx()
	defer cancel()
	if err := h.claims.FinishSend(ctx, *k, e.sum, uid, t, ok); err != nil {
		h.metrics.StoreErrors.Inc()
		h.log.Warn("record a send's outcome in the cluster", "app", k.App, "from", k.From, "err", err)
	}
}

// messageSum is a checksum (FNV-1a) of what makes cmd the message it is:
// text, recipients or group, and the receipt flag.
func messageSum(cmd *protocol.Command) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	add := func(s string) {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint64(s[i])) * prime
		}
		h = (h ^ 0xff) * prime // a separator no UTF-8 text contains
	}
	add(cmd.Msg)
	add(cmd.RoomID)
	for _, p := range cmd.ToPeerIDs {
		add(p)
	}
	if cmd.Receipt {
		add("r")
	}
	return h
}

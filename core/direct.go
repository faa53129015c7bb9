package core

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/storage"
)

const maxMessageBytes = protocol.MaxMessageBytes

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newMessageID returns a message id of 14 base62 characters: 11 for the
// hub's message sequence (fixed width, so string order is numeric order)
// and 3 random ones. The sequence starts at a random point so that ids of
// different hubs do not collide, and it comes first, so ids of one hub sort
// (as strings) in the order the messages arrived: stores order messages of
// the same millisecond by id.
func (h *Hub) newMessageID() string {
	var b [idLen]byte
	return string(appendID(b[:0], h.seq.Add(1)))
}

const idLen = 14

// appendID appends the id of sequence number n (see newMessageID).
func appendID(dst []byte, n uint64) []byte {
	var b [idLen]byte
	for i := 10; i >= 0; i-- {
		b[i] = base62[n%62]
		n /= 62
	}
	r := rand.Uint64()
	for i := 11; i < idLen; i++ {
		b[i] = base62[r%62]
		r /= 62
	}
	return append(dst, b[:]...)
}

// idsPerBlock is how many transient messages' ids share one string.
const idsPerBlock = 64

// idBlock is idsPerBlock ids of consecutive sequence numbers, back to
// back in one string; next is the index of the next one to hand out.
type idBlock struct {
	s    string
	next atomic.Int32
}

// transientID returns an id like newMessageID's for a message that is
// never stored: a substring of a shared block, so a transient message
// costs no allocation of its own for it. A kept id would keep its whole
// block alive, so stored messages take newMessageID's. A block's ids are
// all handed out before the next block reserves its sequence numbers, so
// transient ids follow the order of arrival among themselves (not with
// stored messages' ids, which are the ones stores order).
func (h *Hub) transientID() string {
	for {
		b := h.ids.Load()
		if b != nil {
			if i := int(b.next.Add(1)) - 1; i < idsPerBlock {
				return b.s[i*idLen : (i+1)*idLen]
			}
		}
		n := h.seq.Add(idsPerBlock) - idsPerBlock + 1
		buf := make([]byte, 0, idsPerBlock*idLen)
		for i := range uint64(idsPerBlock) {
			buf = appendID(buf, n+i)
		}
		h.ids.CompareAndSwap(b, &idBlock{s: string(buf)})
	}
}

// ConvID returns the v1 conversation id of a peer conversation: the lower
// hex md5 of the sorted, de-duplicated participants joined by ":".
func ConvID(participants []string) string {
	if len(participants) == 2 {
		return convID2(participants[0], participants[1])
	}
	p := slices.Clone(participants)
	slices.Sort(p)
	p = slices.Compact(p)
	sum := md5.Sum([]byte(strings.Join(p, ":")))
	return hex.EncodeToString(sum[:])
}

// convID2 is ConvID of two participants, the direct message's common case,
// without its slice work: one allocation instead of five.
func convID2(a, b string) string {
	var buf [128]byte
	p := append(buf[:0], a...)
	switch {
	case a == b:
	case b < a:
		p = append(append(append(buf[:0], b...), ':'), a...)
	default:
		p = append(append(p, ':'), b...)
	}
	sum := md5.Sum(p)
	var x [2 * md5.Size]byte
	hex.Encode(x[:], sum[:])
	return string(x[:])
}

// convIDOf is ConvID of a message from from to the peers to.
func convIDOf(from string, to []string) string {
	if len(to) == 1 {
		return convID2(from, to[0])
	}
	return ConvID(append([]string{from}, to...))
}

func remoteIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// direct handles a `direct` from session s: checks, durable store for
// persistent messages, live delivery, then the sender's `ack`.
func (c *Client) direct(s *session, cmd *protocol.Command) error {
	if len(cmd.Msg) > protocol.MaxMessageBytes {
		return c.fail(cmd.I, protocol.CloseTooLong, protocol.ErrCodeTooLong,
			fmt.Sprintf("message text is %d bytes, over the %d-byte limit", len(cmd.Msg), protocol.MaxMessageBytes))
	}
	if cmd.RoomID != "" {
		return c.groupDirect(s, cmd)
	}
	if len(cmd.ToPeerIDs) > c.hub.cfg.MaxRecipients {
		return c.fail(cmd.I, protocol.ClosePolicyViolation, protocol.ErrCodeBadCommand,
			fmt.Sprintf("at most %d recipients per message", c.hub.cfg.MaxRecipients))
	}
	h := c.hub
	kind := "direct"
	if cmd.Transient {
		kind = "direct_transient"
	}
	h.metrics.messageIn(kind)

	// The recipients and the message record stay on this stack for a
	// transient message; storeDirect copies both for the store.
	var toBuf [4]string
	to := toBuf[:0]
	for _, p := range cmd.ToPeerIDs {
		if e := checkPeerIDs("toPeerIds", p); e != nil {
			return c.fail(cmd.I, e.Code, protocol.ErrCodeBadCommand, e.Reason)
		}
		if slices.Contains(to, p) {
			continue
		}
		if !s.super && !s.app.AllowUnwatched {
			if _, ok := s.watch[p]; !ok {
				h.metrics.Undelivered.WithLabelValues("unwatched").Inc()
				continue
			}
		}
		to = append(to, p)
	}

	sent, done, err := c.dedupe(s, cmd)
	if done {
		return err
	}
	m := storage.Message{App: s.app.ID, From: s.peer, Text: cmd.Msg, Time: h.nowMs()}
	if cmd.Transient {
		m.ID = h.transientID()
	} else {
		m.ID = h.newMessageID()
	}
	if !cmd.Transient && len(to) > 0 {
		if stored, err := c.storeDirect(s, cmd, sent, &m, to); !stored {
			return err
		}
	}
	h.finishSent(sent, true, m.ID, m.Time)
	if !cmd.Transient {
		// The sender's ack goes out before the live copies: a recipient
		// that acks at once makes a receipt for the sender, which must not
		// overtake the ack that tells the sender the message's id.
		c.ackSent(s, cmd, m.ID, m.Time)
	}
	h.deliver(&m, to, cmd.Transient, s)
	return nil
}

// storeDirect stores m, a persistent message from s to the recipients
// to, before its delivery. The store keeps what it is given, so it gets a
// copy of m and of to on the heap (the caller's stay on its stack); m
// gets the stored record back. stored is false when the store failed: err
// is then what direct returns (nil after an `error` reply).
func (c *Client) storeDirect(s *session, cmd *protocol.Command, sent *sentEntry, m *storage.Message, to []string) (stored bool, err error) {
	h := c.hub
	pm := new(storage.Message)
	*pm = *m
	pm.To = slices.Clone(to)
	pm.FromIP = remoteIP(c.conn.Info().RemoteAddr)
	pm.Receipt = cmd.Receipt && len(to) == 1
	pm.ConvID = convIDOf(s.peer, to)
	sent.tag(pm, cmd.ID)
	ctx, cancel := h.storeCtx()
	err = h.persist(ctx, s.app, pm, pm.To)
	cancel()
	if err != nil {
		h.log.Error("persist message", "app", pm.App, "from", pm.From, "err", err)
		h.finishSent(sent, false, "", 0)
		return false, c.fail(cmd.I, protocol.CloseInternal, protocol.ErrCodeInternal, "message not stored")
	}
	*m = *pm
	return true, nil
}

// ackSent acknowledges cmd, a persistent message from s, as stored with
// server id uid at time t (ms).
func (c *Client) ackSent(s *session, cmd *protocol.Command, uid string, t int64) {
	ack := getCommand()
	*ack = protocol.Command{Kind: protocol.KindAck, PeerID: s.peer, I: cmd.I, ID: cmd.ID, UID: uid, Time: t}
	c.write(ack)
	putCommand(ack)
}

// cmdPool recycles the commands of the per-message hot path: Conn.Write
// encodes a command before it returns (see Conn), so it can be reused at
// once; a protocol.Command is large, and these two escaped on every
// message.
var cmdPool = sync.Pool{New: func() any { return new(protocol.Command) }}

func getCommand() *protocol.Command { return cmdPool.Get().(*protocol.Command) }

func putCommand(c *protocol.Command) {
	*c = protocol.Command{} // drop references to strings and slices
	cmdPool.Put(c)
}

// deliver writes m to every open session of each recipient (and, when
// configured, to the sender's other sessions). origin is the sending
// session, never sent a copy.
func (h *Hub) deliver(m *storage.Message, to []string, transient bool, origin *session) {
	out := getCommand()
	defer putCommand(out)
	*out = protocol.Command{
		Kind:       protocol.KindDirect,
		FromPeerID: m.From,
		Msg:        m.Text,
		ID:         m.ID,
		Timestamp:  m.Time,
		RoomID:     m.Room,
		Transient:  transient,
	}
	kind := "direct"
	if m.Room != "" {
		kind = "group"
	}
	var buf [8]*session
	var far remotes
	targets := to
	if h.cfg.CopyToSenderDevices && m.Room == "" && !slices.Contains(to, m.From) {
		targets = append(slices.Clip(to), m.From)
	}
	for _, p := range targets {
		h.addRemote(&far, m.App, p)
		sessions := h.reg.sessions(buf[:0], m.App, p)
		for _, rs := range sessions {
			if rs == origin {
				continue
			}
			out.PeerID = p
			// Before Write: the recipient's ack may be handled before
			// Write returns, and must find the id.
			if !transient && !rs.noteLive(m.ID, h.cfg.MaxDelivered) {
				continue // the inbox redelivery sent it to this session
			}
			if err := rs.push(out); err != nil {
				h.noteWrite(err)
				continue
			}
			h.metrics.messageOut(kind)
		}
		clear(sessions)
	}
	h.sendRemote(m.App, out, &far)
}

func (s *session) noteDeliveredLocked(id string, max int) {
	if len(s.delivered) >= max {
		s.overflowed = true
		n := copy(s.delivered, s.delivered[len(s.delivered)-max+1:])
		s.delivered = s.delivered[:n]
	}
	s.delivered = append(s.delivered, id)
}

// acked removes ids from the delivered list; with cumulative, everything
// delivered up to and including ids[0] (or all, when ids is empty).
func (s *session) acked(ids []string, cumulative bool) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cumulative {
		n := len(s.delivered)
		if len(ids) > 0 {
			i := slices.Index(s.delivered, ids[0])
			if i < 0 {
				if s.overflowed {
					return ids
				}
				return nil
			}
			n = i + 1
		}
		out := slices.Clone(s.delivered[:n])
		s.delivered = slices.Delete(s.delivered, 0, n)
		return out
	}
	// Exact ids: only those delivered here go to the store, so acks of
	// transient messages (the JS client acks every message) cost nothing.
	// Once the list overflowed, unknown ids may be old deliveries: keep them.
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if i := slices.Index(s.delivered, id); i >= 0 {
			s.delivered = slices.Delete(s.delivered, i, i+1)
			out = append(out, id)
		} else if s.overflowed {
			out = append(out, id)
		}
	}
	return out
}

// redeliver pushes the peer's pending inbox to s after `opened`.
func (c *Client) redeliver(s *session) error { return c.redeliverUpTo(s, 0) }

// redeliverUpTo pushes the pending inbox messages stored at or before upTo
// (ms; 0: all) that s has not been sent yet.
func (c *Client) redeliverUpTo(s *session, upTo int64) error {
	h := c.hub
	ctx, cancel := h.storeCtx()
	began := time.Now()
	pending, err := h.store.Pending(ctx, s.app.ID, s.peer)
	h.metrics.DrainSeconds.Observe(time.Since(began).Seconds())
	cancel()
	if err != nil {
		h.metrics.StoreErrors.Inc()
		h.log.Error("read inbox", "app", s.app.ID, "peer", s.peer, "err", err)
		return nil // the session stays open; the messages stay stored
	}
	if upTo == 0 {
		h.metrics.InboxDepth.Observe(float64(len(pending)))
	}
	for _, m := range pending {
		if upTo != 0 && m.Time > upTo {
			break // pending is oldest first
		}
		if !s.claimRedelivery(m.ID, m.Time, h) {
			continue // delivered live between attach and Pending
		}
		c.write(&protocol.Command{Kind: protocol.KindDirect, PeerID: s.peer, FromPeerID: m.From, Msg: m.Text,
			ID: m.ID, Timestamp: m.Time, RoomID: m.Room, Offline: true})
		h.metrics.MessagesOut.WithLabelValues("offline").Inc()
	}
	return nil
}

// ack handles a client `ack`: exact `ids`, a cumulative `id`, or bare (all
// delivered). Acked messages leave the peer's inbox; receipts go to their
// senders. No reply.
func (c *Client) ack(s *session, cmd *protocol.Command) error {
	var ids []string
	switch {
	case cmd.HasIDs:
		ids = s.acked(cmd.IDs, false)
	case cmd.ID != "":
		ids = s.acked([]string{cmd.ID}, true)
	default:
		ids = s.acked(nil, true)
	}
	if len(ids) == 0 {
		return nil
	}
	h := c.hub
	ctx, cancel := h.storeCtx()
	removed, err := h.store.Remove(ctx, s.app.ID, s.peer, ids)
	cancel()
	if err != nil {
		h.metrics.StoreErrors.Inc()
		h.log.Error("ack inbox", "app", s.app.ID, "peer", s.peer, "err", err)
		return nil // redelivered later; clients dedupe by id
	}
	h.metrics.Acked.Add(float64(len(removed)))
	now := h.nowMs()
	var buf [8]*session
	for _, m := range removed {
		if !m.Receipt {
			continue
		}
		rcp := protocol.Command{Kind: protocol.KindRcp, PeerID: m.From, ID: m.ID, Time: now}
		var far remotes
		h.addRemote(&far, m.App, m.From)
		h.sendRemote(m.App, &rcp, &far)
		sessions := h.reg.sessions(buf[:0], m.App, m.From)
		for _, ss := range sessions {
			if err := ss.push(&rcp); err != nil {
				h.noteWrite(err)
			} else {
				h.metrics.MessagesOut.WithLabelValues("rcp").Inc()
			}
		}
		clear(sessions)
	}
	return nil
}

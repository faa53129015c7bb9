package longpoll

import (
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/protocol"
)

// session is one long-poll session: the core.Conn the hub writes to.
//
// Inbound: POST /send handlers take turns (the turn semaphore) to be the
// session's reader: only the holder of the turn calls client.Handle,
// client.BadFrame or client.Disconnect, so the core sees one reader.
//
// Outbound: Write encodes each command into a frame with the next sequence
// number and appends it to frames; frames stay there until a poll
// acknowledges them (ack >= seq), so a lost poll response is answered again
// by the retried poll. At most one poll is held (poll); a newer poll
// replaces it.
//
// Lifecycle: Close (from the core, the handler, or an overflow) marks the
// session closing and starts finish, which takes the turn and calls
// client.Disconnect once. The session stays in the handler's table until
// its close was answered to a poll and PingTimeout passed, or no poll came
// for PollTimeout+PingTimeout (expiry, checked by timer).
type session struct {
	h    *Handler       // immutable
	sid  string         // immutable
	info core.ConnInfo  // immutable
	turn chan struct{}  // cap 1: held while calling the client (the "reader")
	dial sessionDialect // immutable

	client   *core.Client // set under the turn at open; then read under the turn
	lastCseq int64        // the last client sequence applied; guarded by the turn

	mu        sync.Mutex
	timer     *time.Timer        // expiry and linger (runs checkExpiry); guarded by mu
	frames    []frame            // unacknowledged frames, seq ascending; guarded by mu
	bytes     int                // sum of len(frames[i].b); guarded by mu
	nextSeq   uint64             // seq of the next frame written; guarded by mu
	sentSeq   uint64             // highest seq put in a poll response; guarded by mu
	poll      *waiter            // the held poll, if any; guarded by mu
	lastPoll  time.Time          // last time a poll arrived or was answered; guarded by mu
	closing   bool               // Close was called; guarded by mu
	closeCode protocol.CloseCode // guarded by mu
	closeWhy  string             // guarded by mu
	closeSent bool               // a poll response carried the close; guarded by mu
	removed   bool               // gone from the handler's table; guarded by mu
}

// sessionDialect is what the session speaks, fixed at open.
type sessionDialect uint8

const (
	dialectLegacy sessionDialect = iota // v1: no `error` command
	dialectJSON                         // rtgate.json.1
)

// frame is one encoded server frame: `{"seq":N,"d":<command>}`.
type frame struct {
	seq uint64
	b   []byte
}

// waiter is a held poll; wake (cap 1) is signalled when frames arrive, the
// session closes or a newer poll replaces this one.
type waiter struct {
	wake chan struct{}
}

// batch is what one poll response carries.
type batch struct {
	frames  [][]byte
	resent  int // frames of this batch that an earlier response carried
	closing bool
	code    protocol.CloseCode
	reason  string
}

var _ core.Conn = (*session)(nil)

func newSession(h *Handler, sid string, d sessionDialect, remote string) *session {
	s := &session{
		h:        h,
		sid:      sid,
		dial:     d,
		info:     core.ConnInfo{Transport: "longpoll", Modern: d == dialectJSON, RemoteAddr: remote},
		turn:     make(chan struct{}, 1),
		nextSeq:  1,
		lastPoll: time.Now(),
	}
	s.mu.Lock() // checkExpiry reads timer under mu
	s.timer = time.AfterFunc(h.expiry(), s.checkExpiry)
	s.mu.Unlock()
	return s
}

// Info implements core.Conn.
func (s *session) Info() core.ConnInfo { return s.info }

// Write implements core.Conn: it encodes cmd as the next frame of the
// buffer and wakes the held poll. Over the buffer's bounds it closes the
// session as a slow consumer (dropping the buffer) and returns
// core.ErrSlowConsumer; after a close it returns core.ErrConnClosed.
func (s *session) Write(cmd *protocol.Command) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return core.ErrConnClosed
	}
	b := make([]byte, 0, 96)
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, s.nextSeq, 10)
	b = append(b, `,"d":`...)
	b = protocol.AppendJSON(b, cmd)
	b = append(b, '}')
	cfg := &s.h.cfg
	if len(s.frames) > 0 && (len(s.frames) >= cfg.BufferFrames || s.bytes+len(b) > cfg.BufferBytes) {
		start := s.closeLocked(protocol.CloseSlowConsumer, "long-poll buffer full: the client does not poll")
		s.mu.Unlock()
		if start {
			s.startFinish()
		}
		return core.ErrSlowConsumer
	}
	s.frames = append(s.frames, frame{seq: s.nextSeq, b: b})
	s.bytes += len(b)
	s.nextSeq++
	s.wakeLocked()
	s.mu.Unlock()
	return nil
}

// Close implements core.Conn: idempotent, non-blocking; the next poll
// answers the frames still buffered and the close.
func (s *session) Close(code protocol.CloseCode, reason string) {
	s.mu.Lock()
	start := s.closeLocked(code, reason)
	s.mu.Unlock()
	if start {
		s.startFinish()
	}
}

// closeLocked marks the session closing; it reports whether this call did,
// in which case the caller must startFinish after unlocking.
func (s *session) closeLocked(code protocol.CloseCode, reason string) bool {
	if s.closing {
		return false
	}
	s.closing, s.closeCode, s.closeWhy = true, code, reason
	if code == protocol.CloseSlowConsumer {
		clear(s.frames)
		s.frames, s.bytes = nil, 0
	}
	s.h.metrics.closes.WithLabelValues(strconv.Itoa(int(code))).Inc()
	s.wakeLocked()
	return true
}

// startFinish runs finish in a goroutine owned by the handler's WaitGroup:
// Close may be called while the core holds locks (a fan-out to this
// session), so Disconnect must not run on the caller's stack.
func (s *session) startFinish() {
	s.h.wg.Add(1)
	go s.finish()
}

// finish takes the turn, so no Handle is in progress, and disconnects the
// client: its sessions end, presence goes off.
func (s *session) finish() {
	defer s.h.wg.Done()
	s.turn <- struct{}{}
	if s.client != nil {
		s.client.Disconnect()
	}
	<-s.turn
}

func (s *session) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *session) wakeLocked() {
	if s.poll != nil {
		select {
		case s.poll.wake <- struct{}{}:
		default:
		}
	}
}

// ackLocked drops the frames the client acknowledged (seq <= ack).
func (s *session) ackLocked(ack uint64) {
	i := 0
	for i < len(s.frames) && s.frames[i].seq <= ack {
		s.bytes -= len(s.frames[i].b)
		i++
	}
	if i == 0 {
		return
	}
	clear(s.frames[:i])
	s.frames = s.frames[i:]
	if len(s.frames) == 0 {
		s.frames = nil
	}
}

// takeLocked returns the buffered frames (ackLocked dropped the
// acknowledged ones), at most MaxPayload bytes of them
// (at least one), plus the close when every remaining frame fits. ok is
// false when there is nothing to answer yet.
func (s *session) takeLocked() (b batch, ok bool) {
	size := 0
	for _, f := range s.frames {
		if len(b.frames) > 0 && size+len(f.b) > s.h.cfg.MaxPayload {
			break
		}
		size += len(f.b)
		b.frames = append(b.frames, f.b)
		if f.seq <= s.sentSeq {
			b.resent++
		} else {
			s.sentSeq = f.seq
		}
	}
	if s.closing && len(b.frames) == len(s.frames) {
		b.closing, b.code, b.reason = true, s.closeCode, s.closeWhy
		if !s.closeSent {
			s.closeSent = true
			s.timer.Reset(s.h.cfg.PingTimeout) // linger for a retried final poll
		}
	}
	return b, len(b.frames) > 0 || b.closing
}

// checkExpiry runs on the session's timer: it ends a session without a
// poll for too long, and removes a closed one whose linger is over.
func (s *session) checkExpiry() {
	s.mu.Lock()
	if s.removed {
		s.mu.Unlock()
		return
	}
	limit := s.h.expiry()
	if s.closeSent {
		limit = s.h.cfg.PingTimeout
	}
	if s.poll != nil && !s.closeSent { // a held poll keeps the session alive
		s.timer.Reset(limit)
		s.mu.Unlock()
		return
	}
	if idle := time.Since(s.lastPoll); idle < limit {
		s.timer.Reset(limit - idle)
		s.mu.Unlock()
		return
	}
	start := false
	if !s.closing {
		s.h.metrics.expiries.Inc()
		start = s.closeLocked(protocol.CloseReadTimeout, "long-poll session expired: no poll")
	}
	s.mu.Unlock()
	if start {
		s.startFinish()
	}
	s.h.remove(s)
}

// markRemoved records that the handler dropped the session from its table;
// it reports whether this call did.
func (s *session) markRemoved() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.removed {
		return false
	}
	s.removed = true
	s.timer.Stop()
	return true
}

// appendBatch appends the poll response body for b.
func appendBatch(dst []byte, b batch, ping bool) []byte {
	dst = append(dst, `{"frames":[`...)
	for i, f := range b.frames {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, f...)
	}
	dst = append(dst, ']')
	if b.closing {
		reason, _ := json.Marshal(b.reason)
		dst = append(dst, `,"close":{"code":`...)
		dst = strconv.AppendInt(dst, int64(b.code), 10)
		dst = append(dst, `,"reason":`...)
		dst = append(dst, reason...)
		dst = append(dst, '}')
	}
	if ping {
		dst = append(dst, `,"ping":true`...)
	}
	return append(dst, '}')
}

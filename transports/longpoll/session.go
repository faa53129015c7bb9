package longpoll

import (
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/transports/internal/outq"
)

// session is one long-poll session: the core.Conn the hub writes to.
//
// Inbound: POST /send handlers take turns (the turn semaphore) to be the
// session's reader: only the holder of the turn calls client.Handle,
// client.BadFrame or client.Disconnect, so the core sees one reader.
//
// Outbound: Write encodes each command into the outbound queue (outq,
// which applies the per-class overflow policy and owns the close state).
// A poll moves the queued commands into frames, numbering them with the
// next sequence numbers; frames stay there until a poll acknowledges them
// (ack >= seq), so a lost poll response is answered again by the retried
// poll. The queue counts a command's bytes until it is acknowledged. At
// most one poll is held (poll); a newer poll replaces it.
//
// Lifecycle: Close (from the core, the handler, or an overflow) closes the
// queue and starts finish, which takes the turn and calls
// client.Disconnect once. Lock order: s.mu, then the queue's. The session stays in the handler's table until
// its close was answered to a poll and PingTimeout passed, or no poll came
// for PollTimeout+PingTimeout (expiry, checked by timer).
type session struct {
	h    *Handler      // immutable
	sid  string        // immutable
	ip   string        // remote IP address, the key of Handler.perIP; immutable
	info core.ConnInfo // immutable
	// release ends the session's count in Config.Admit's limit; set
	// before the session enters the table, called by Handler.remove.
	release func()
	turn    chan struct{}  // cap 1: held while calling the client (the "reader")
	dial    sessionDialect // immutable

	client   *core.Client // set under the turn at open; then read under the turn
	lastCseq int64        // the last client sequence applied; guarded by the turn

	q outq.Queue // commands not yet taken by a poll, and the close state

	mu        sync.Mutex
	timer     *time.Timer // expiry and linger (runs checkExpiry); guarded by mu
	frames    []frame     // taken, unacknowledged frames, seq ascending; guarded by mu
	nextSeq   uint64      // seq of the next frame taken from q; guarded by mu
	sentSeq   uint64      // highest seq put in a poll response; guarded by mu
	poll      *waiter     // the held poll, if any; guarded by mu
	lastPoll  time.Time   // last time a poll arrived or was answered; guarded by mu
	polled    bool        // a poll arrived (expiry: FirstPollTimeout until then); guarded by mu
	closeSent bool        // a poll response carried the close; guarded by mu
	removed   bool        // gone from the handler's table; guarded by mu
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
	n   int // the command's bytes, as the queue counts them
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
	ip := remote
	if host, _, err := net.SplitHostPort(remote); err == nil {
		ip = host
	}
	s := &session{
		h:        h,
		sid:      sid,
		ip:       ip,
		dial:     d,
		info:     core.ConnInfo{Transport: "longpoll", Modern: d == dialectJSON, RemoteAddr: remote},
		turn:     make(chan struct{}, 1),
		nextSeq:  1,
		lastPoll: time.Now(),
	}
	s.q.Init(outq.Config{
		Limit:      h.cfg.BufferBytes,
		MaxFrames:  h.cfg.BufferFrames,
		Encode:     protocol.AppendJSON,
		Wake:       s.wake,
		Pool:       &h.bufs,
		FullReason: "long-poll buffer full: the client does not poll",
		Metrics:    h.metrics.queue,
	})
	s.mu.Lock() // checkExpiry reads timer under mu
	// Not armed yet: armExpiry starts the first-poll clock once the open is
	// answered, so a session cannot expire while its open is still running.
	s.timer = time.AfterFunc(time.Duration(1<<62), s.checkExpiry)
	s.mu.Unlock()
	return s
}

// armExpiry starts the session's first-poll clock; open calls it just
// before it answers with the session id.
func (s *session) armExpiry() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.removed {
		s.lastPoll = time.Now()
		s.timer.Reset(s.h.cfg.FirstPollTimeout)
	}
}

// Info implements core.Conn.
func (s *session) Info() core.ConnInfo { return s.info }

// Write implements core.Conn: it encodes cmd into the queue and wakes the
// held poll. Overflow follows the queue's per-class policy (package outq):
// a reply or message closes the session as a slow consumer (dropping the
// buffer) and returns core.ErrSlowConsumer; after a close it returns
// core.ErrConnClosed.
func (s *session) Write(cmd *protocol.Command) error {
	err := s.q.Push(cmd)
	if errors.Is(err, core.ErrSlowConsumer) {
		s.closed(protocol.CloseSlowConsumer)
	}
	return err
}

// wake is the queue's Wake: it wakes the held poll.
func (s *session) wake() {
	s.mu.Lock()
	s.wakeLocked()
	s.mu.Unlock()
}

// Close implements core.Conn: idempotent, non-blocking; the next poll
// answers the frames still buffered and the close.
func (s *session) Close(code protocol.CloseCode, reason string) {
	if s.q.Close(code, reason) {
		s.closed(code)
	}
}

// closed follows the queue's close (once): a slow consumer's frames are
// dropped, the held poll is woken to answer the close, and finish starts.
// Called without s.mu held.
func (s *session) closed(code protocol.CloseCode) {
	s.mu.Lock()
	if code == protocol.CloseSlowConsumer {
		n := 0
		for _, f := range s.frames {
			n += f.n
		}
		s.q.Done(n, len(s.frames))
		clear(s.frames)
		s.frames = nil
	}
	s.h.metrics.closes.WithLabelValues(strconv.Itoa(int(code))).Inc()
	s.wakeLocked()
	s.mu.Unlock()
	s.startFinish()
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

func (s *session) isClosing() bool { return s.q.Closed() }

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
	i, n := 0, 0
	for i < len(s.frames) && s.frames[i].seq <= ack {
		n += s.frames[i].n
		i++
	}
	if i == 0 {
		return
	}
	s.q.Done(n, i)
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
	s.q.TakeEach(func(cmd []byte) {
		f := make([]byte, 0, len(cmd)+32)
		f = append(f, `{"seq":`...)
		f = strconv.AppendUint(f, s.nextSeq, 10)
		f = append(f, `,"d":`...)
		f = append(f, cmd...)
		f = append(f, '}')
		s.frames = append(s.frames, frame{seq: s.nextSeq, b: f, n: len(cmd)})
		s.nextSeq++
	})
	st, code, reason := s.q.State()
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
	if st != outq.Open && len(b.frames) == len(s.frames) {
		b.closing, b.code, b.reason = true, code, reason
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
	if !s.polled {
		limit = s.h.cfg.FirstPollTimeout
	}
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
	s.mu.Unlock()
	if s.q.Close(protocol.CloseReadTimeout, "long-poll session expired: no poll") {
		s.h.metrics.expiries.Inc()
		s.closed(protocol.CloseReadTimeout)
	}
	s.h.remove(s)
}

// drop forgets a session that never entered the handler's table.
func (s *session) drop() {
	s.markRemoved()
	if s.release != nil {
		s.release()
	}
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

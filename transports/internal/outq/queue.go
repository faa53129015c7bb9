package outq

import (
	"sync"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/protocol"
)

// Class is how a frame is treated when the queue has no room: the core's
// classes plus Control for the transport's own frames (pings, pongs).
type Class uint8

const (
	Reply    = Class(core.ClassReply)
	Message  = Class(core.ClassMessage)
	Presence = Class(core.ClassPresence)
	// Control is a transport control frame (a WebSocket pong): no room
	// closes the connection like a reply.
	Control    Class = 3
	classCount       = 4
)

func (c Class) String() string {
	switch c {
	case Reply:
		return "reply"
	case Message:
		return "message"
	case Presence:
		return "presence"
	case Control:
		return "control"
	}
	return "unknown"
}

// Encoder appends the encoding of cmd (one frame) to dst.
type Encoder func(dst []byte, cmd *protocol.Command) []byte

// Config configures a Queue. The zero value of every field is its
// documented default.
type Config struct {
	// Limit bounds the bytes pushed and not yet Done. Zero means 1 MiB.
	Limit int
	// MaxFrames bounds the frames pushed and not yet Done. Zero means no
	// bound besides Limit.
	MaxFrames int
	// Encode encodes a command into a frame. Required.
	Encode Encoder
	// Wake is called, without the queue's lock, when a writer must run
	// (see the package doc). Nil: the writer polls Take on its own.
	Wake func()
	// Pool supplies the pending buffers. Nil allocates per queue.
	Pool *Pool
	// Metrics counts drops and disconnects. Nil counts nothing.
	Metrics *Metrics
	// FullReason is the reason of the 4201 close. Empty means "outbound
	// queue full".
	FullReason string
}

// State is the queue's close state.
type State uint8

const (
	Open    State = iota
	Closing       // Close was called: flush, then send the close
	Aborted       // Abort was called: drop everything, owe no close
)

// Batch is what Take hands the writer.
type Batch struct {
	// Buf holds N encoded frames, back to back. The writer owns it; it
	// gives it back with Queue.Recycle after writing.
	Buf []byte
	N   int
	// Side holds frames pushed with PushSide (datagrams), in order.
	Side [][]byte
	// State is the queue's state when the batch was taken; Code and
	// Reason are the close's when State is Closing.
	State  State
	Code   protocol.CloseCode
	Reason string
}

// Bytes returns the bytes the batch counts against the limit: what the
// writer passes to Done once it has written the batch.
func (b *Batch) Bytes() int {
	n := len(b.Buf)
	for _, s := range b.Side {
		n += len(s)
	}
	return n
}

// Empty reports whether the batch carries no frame.
func (b *Batch) Empty() bool { return b.N == 0 && len(b.Side) == 0 }

// rec describes one pending frame in buf.
type rec struct {
	end   int // offset of the frame's end in buf
	class Class
	// peer and about key a presence event (watcher session, the peer it
	// is about); empty for other classes.
	peer, about string
}

// Queue is one connection's outbound queue. Create it with New.
type Queue struct {
	cfg Config // immutable, defaults applied

	drained chan struct{} // cap 1: Done was called

	mu       sync.Mutex
	buf      []byte   // pending frames; guarded by mu
	recs     []rec    // one per frame in buf; guarded by mu
	side     [][]byte // pending side frames; guarded by mu
	sideN    int      // bytes in side; guarded by mu
	taken    int      // bytes taken and not yet Done; guarded by mu
	takenN   int      // frames taken and not yet Done; guarded by mu
	state    State    // guarded by mu
	code     protocol.CloseCode
	reason   string // code, reason: the close; guarded by mu
	writing  bool   // a writer runs or is owed a Wake; guarded by mu
	finished bool   // Take reported the end: no more Wake; guarded by mu
}

// New returns an empty, open queue.
func New(cfg Config) *Queue {
	q := &Queue{}
	q.Init(cfg)
	return q
}

// Init makes q an empty, open queue (for a Queue embedded in a larger
// struct). It must not be called once q is in use.
func (q *Queue) Init(cfg Config) {
	if cfg.Limit <= 0 {
		cfg.Limit = 1 << 20
	}
	if cfg.FullReason == "" {
		cfg.FullReason = "outbound queue full"
	}
	q.cfg = cfg
	q.drained = make(chan struct{}, 1)
}

// lockOpen locks q for a push and makes sure it has a pending buffer; a
// closed queue is left unlocked with core.ErrConnClosed.
func (q *Queue) lockOpen() error {
	q.mu.Lock()
	if q.state != Open {
		q.mu.Unlock()
		return core.ErrConnClosed
	}
	if q.buf == nil {
		q.buf = q.cfg.Pool.Get()
	}
	if q.recs == nil {
		q.recs = q.cfg.Pool.getRecs()
	}
	return nil
}

// Push encodes cmd as a frame of class core.ClassOf(cmd) and queues it. It
// returns core.ErrConnClosed once the queue is closing or aborted, and
// core.ErrSlowConsumer when this frame closed it (see the package doc).
func (q *Queue) Push(cmd *protocol.Command) error {
	class := Class(core.ClassOf(cmd))
	if err := q.lockOpen(); err != nil {
		return err
	}
	q.buf = q.cfg.Encode(q.buf, cmd)
	r := rec{end: len(q.buf), class: class}
	if class == Presence {
		r.peer = cmd.PeerID
		if len(cmd.SessionPeerIDs) == 1 {
			r.about = cmd.SessionPeerIDs[0]
		}
	}
	q.recs = append(q.recs, r)
	return q.admitLocked(class)
}

// PushControl queues frame (copied) as a Control frame.
func (q *Queue) PushControl(frame []byte) error {
	if err := q.lockOpen(); err != nil {
		return err
	}
	q.buf = append(q.buf, frame...)
	q.recs = append(q.recs, rec{end: len(q.buf), class: Control})
	return q.admitLocked(Control)
}

// PushSide queues b (kept, not copied) outside the pending buffer, for a
// writer that sends it another way (a datagram), when nothing else is
// queued; ok is false when something is (the caller pushes the command
// as a frame instead, behind the others). It counts like a message.
func (q *Queue) PushSide(b []byte) (ok bool, err error) {
	q.mu.Lock()
	if q.state != Open {
		q.mu.Unlock()
		return false, core.ErrConnClosed
	}
	if q.queuedLocked() > 0 || q.framesLocked() > 0 {
		q.mu.Unlock()
		return false, nil
	}
	q.side = append(q.side, b)
	q.sideN += len(b)
	wake := q.needWriterLocked()
	q.mu.Unlock()
	if wake {
		q.cfg.Wake()
	}
	return true, nil
}

// queuedLocked is every byte pushed and not yet Done.
func (q *Queue) queuedLocked() int { return len(q.buf) + q.sideN + q.taken }

func (q *Queue) framesLocked() int { return len(q.recs) + len(q.side) + q.takenN }

// overLocked reports whether the queue is over its bounds. A frame that
// is alone in the pending buffer (what the writer has taken is on its way
// to the socket) is never over: one frame larger than the limit gets
// through, and a queue holds at most Limit plus one frame beyond what its
// writer has taken.
func (q *Queue) overLocked() bool {
	if len(q.recs)+len(q.side) <= 1 {
		return false
	}
	if q.queuedLocked() > q.cfg.Limit {
		return true
	}
	return q.cfg.MaxFrames > 0 && q.framesLocked() > q.cfg.MaxFrames
}

// admitLocked applies the overflow policy to the frame just pushed (the
// newest rec) and unlocks.
func (q *Queue) admitLocked(class Class) error {
	if q.overLocked() {
		if err := q.makeRoomLocked(class); err != nil {
			q.mu.Unlock()
			return err
		}
	}
	wake := q.needWriterLocked()
	q.mu.Unlock()
	if wake {
		q.cfg.Wake()
	}
	return nil
}

// needWriterLocked marks a writer running and reports whether it must be
// woken.
func (q *Queue) needWriterLocked() bool {
	if q.writing || q.finished || q.cfg.Wake == nil {
		return false
	}
	q.writing = true
	return true
}

// makeRoomLocked applies the overflow policy of class to the frame just
// pushed; a non-nil error means it was not admitted (the queue is closed).
func (q *Queue) makeRoomLocked(class Class) error {
	m := q.cfg.Metrics
	newest := len(q.recs) - 1
	if class == Presence && newest >= 0 {
		// A pending event about the same watcher and peer is stale.
		nr := q.recs[newest]
		for i := newest - 1; i >= 0 && q.overLocked(); i-- {
			if r := q.recs[i]; r.class == Presence && r.peer == nr.peer && r.about == nr.about {
				q.removeLocked(i)
				newest--
				m.drop(dropSuperseded)
			}
		}
	}
	for i := 0; i < len(q.recs) && q.overLocked(); {
		if q.recs[i].class != Presence || (class == Presence && i == len(q.recs)-1) {
			i++
			continue
		}
		q.removeLocked(i)
		m.drop(dropOldest)
	}
	if !q.overLocked() {
		return nil
	}
	if class == Presence {
		q.removeLocked(len(q.recs) - 1)
		m.drop(dropNoRoom)
		return nil
	}
	m.disconnect(class)
	q.closeLocked(protocol.CloseSlowConsumer, q.cfg.FullReason)
	return core.ErrSlowConsumer
}

// removeLocked drops pending frame i from buf.
func (q *Queue) removeLocked(i int) {
	start := 0
	if i > 0 {
		start = q.recs[i-1].end
	}
	end := q.recs[i].end
	size := end - start
	q.buf = append(q.buf[:start], q.buf[end:]...)
	for j := i + 1; j < len(q.recs); j++ {
		q.recs[j].end -= size
	}
	q.recs = append(q.recs[:i], q.recs[i+1:]...)
}

// Close starts an orderly close with code: the writer flushes what is
// pending, then sends the close. For protocol.CloseSlowConsumer the
// pending frames are dropped first. It reports whether this call closed
// the queue (false: it was already closing or aborted).
func (q *Queue) Close(code protocol.CloseCode, reason string) bool {
	q.mu.Lock()
	first := q.closeLocked(code, reason)
	wake := first && q.needWriterLocked()
	q.mu.Unlock()
	if wake {
		q.cfg.Wake()
	}
	return first
}

func (q *Queue) closeLocked(code protocol.CloseCode, reason string) bool {
	if q.state != Open {
		return false
	}
	q.state, q.code, q.reason = Closing, code, reason
	if code == protocol.CloseSlowConsumer {
		q.dropLocked()
	}
	return true
}

// Abort ends the queue without a close: everything pending is dropped. It
// reports whether this call aborted it.
func (q *Queue) Abort() bool {
	q.mu.Lock()
	if q.state == Aborted {
		q.mu.Unlock()
		return false
	}
	q.state = Aborted
	q.dropLocked()
	wake := q.needWriterLocked()
	q.mu.Unlock()
	if wake {
		q.cfg.Wake()
	}
	return true
}

func (q *Queue) dropLocked() {
	q.cfg.Pool.Put(q.buf)
	q.buf, q.recs, q.side, q.sideN = nil, q.recs[:0], nil, 0
}

// Take hands the writer everything pending. An empty batch with State
// Open marks the writer no longer running (the next Push wakes one); a
// batch with another State is the last the writer needs: it finishes the
// connection, and Wake is not called again.
func (q *Queue) Take() Batch {
	q.mu.Lock()
	defer q.mu.Unlock()
	b := Batch{Buf: q.buf, N: len(q.recs), Side: q.side, State: q.state, Code: q.code, Reason: q.reason}
	q.taken += len(q.buf) + q.sideN
	q.takenN += len(q.recs) + len(q.side)
	q.buf, q.side, q.sideN = nil, nil, 0
	q.recs = q.recs[:0]
	switch {
	case b.State != Open:
		q.finished = true
		q.cfg.Pool.putRecs(q.recs)
		q.recs = nil
	case b.Empty():
		q.writing = false
		q.cfg.Pool.putRecs(q.recs)
		q.recs = nil // an idle queue keeps no index
	}
	return b
}

// TakeEach is Take for a writer that needs each frame on its own (the
// long-poll buffer): it calls fn for every pending frame, in order, under
// the queue's lock, and recycles the buffer. It returns the state, the
// bytes and the frames taken. While the queue is open it marks the writer
// idle, so the next Push wakes it again (a held poll looks once per Wake).
func (q *Queue) TakeEach(fn func(frame []byte)) (st State, bytes, frames int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	start := 0
	for _, r := range q.recs {
		fn(q.buf[start:r.end])
		start = r.end
	}
	bytes, frames = len(q.buf), len(q.recs)
	q.taken += bytes
	q.takenN += frames
	q.cfg.Pool.Put(q.buf)
	q.cfg.Pool.putRecs(q.recs)
	q.buf, q.recs = nil, nil // a long-poll session waits between polls: keep no index
	if q.state != Open {
		q.finished = true
	} else {
		q.writing = false
	}
	return q.state, bytes, frames
}

// Done tells the queue that bytes (and frames) taken were written (or,
// for long-poll, acknowledged): they stop counting against the limit.
func (q *Queue) Done(bytes, frames int) {
	q.mu.Lock()
	q.taken = max(0, q.taken-bytes)
	q.takenN = max(0, q.takenN-frames)
	q.mu.Unlock()
	select {
	case q.drained <- struct{}{}:
	default:
	}
}

// Recycle gives a written batch's buffer back to the pool.
func (q *Queue) Recycle(buf []byte) { q.cfg.Pool.Put(buf) }

// Drained is signalled (capacity 1) after each Done.
func (q *Queue) Drained() <-chan struct{} { return q.drained }

// Queued returns the bytes pushed and not yet Done.
func (q *Queue) Queued() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.queuedLocked()
}

// OverHalf reports whether the queue is open and over half its limit: a
// reader then waits (Drained) before it reads the client's next command.
func (q *Queue) OverHalf() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.state == Open && q.queuedLocked() > q.cfg.Limit/2
}

// State returns the close state, with the close's code and reason.
func (q *Queue) State() (State, protocol.CloseCode, string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.state, q.code, q.reason
}

// Closed reports whether the queue is closing or aborted.
func (q *Queue) Closed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.state != Open
}

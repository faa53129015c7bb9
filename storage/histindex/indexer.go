package histindex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/badger"
	jsstore "github.com/rtgate/rtgate/storage/jetstream"
)

// Indexer keeps a Badger history index of RT_HIST and answers queries
// from it. Create it with Open; Close stops it.
type Indexer struct {
	cfg     Config
	log     *slog.Logger
	store   *badger.Store
	js      jetstream.JetStream
	stream  jetstream.Stream
	cons    jetstream.Consumer
	sub     *nats.Subscription
	work    chan *nats.Msg // requests for the workers; bounded
	metrics *Metrics

	// mu guards applied and advanced: advanced is closed (and replaced)
	// each time applied grows.
	mu       sync.Mutex
	applied  uint64 // last stream sequence applied; owned by run, read by workers
	advanced chan struct{}

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Open opens (or creates) the index in cfg.Dir, creates or resumes the
// indexer's durable consumer (a fresh one reading from the stream's start
// when the directory was empty), and starts applying the stream and
// answering requests. RT_HIST must exist (the cluster store creates it).
func Open(ctx context.Context, cfg Config) (*Indexer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	fresh, err := emptyDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	store, err := badger.New(badger.Config{Dir: cfg.Dir, MemTableSize: cfg.MemTableSize,
		Logger: cfg.Logger.With("component", "hist-index")})
	if err != nil {
		return nil, err
	}
	ix := &Indexer{cfg: cfg, log: cfg.Logger, store: store, metrics: newMetrics(),
		work: make(chan *nats.Msg, 8*cfg.Workers), advanced: make(chan struct{})}
	if err := ix.openConsumer(ctx, fresh); err != nil {
		store.Close()
		return nil, err
	}
	ix.sub, err = cfg.Conn.QueueSubscribe(Subject(cfg.Namespace), Queue, ix.enqueue)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("histindex: subscribe: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	ix.cancel = cancel
	ix.wg.Add(1 + cfg.Workers)
	go ix.run(runCtx)
	for range cfg.Workers {
		go ix.serve(runCtx)
	}
	ix.log.Info("history indexer started", "consumer", ConsumerName(cfg.Name), "dir", cfg.Dir,
		"rebuild", fresh, "applied_seq", ix.appliedSeq())
	return ix, nil
}

// emptyDir reports whether dir is missing or holds no files.
func emptyDir(dir string) (bool, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("histindex: %w", err)
	}
	return len(ents) == 0, nil
}

// openConsumer binds the durable consumer, deleting it first when the
// index is rebuilt, and takes its ack floor as the applied sequence.
func (ix *Indexer) openConsumer(ctx context.Context, fresh bool) error {
	var err error
	ix.js, err = jetstream.New(ix.cfg.Conn)
	if err != nil {
		return fmt.Errorf("histindex: %w", err)
	}
	streamName := jsstore.HistStream(ix.cfg.Namespace)
	if ix.stream, err = ix.js.Stream(ctx, streamName); err != nil {
		return fmt.Errorf("histindex: history stream %s: %w", streamName, err)
	}
	durable := ConsumerName(ix.cfg.Name)
	if fresh {
		err := ix.stream.DeleteConsumer(ctx, durable)
		if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return fmt.Errorf("histindex: delete consumer %s for a rebuild: %w", durable, err)
		}
	}
	ix.cons, err = ix.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: durable, Description: "rtgate history indexer " + ix.cfg.Name,
		DeliverPolicy: jetstream.DeliverAllPolicy, AckPolicy: jetstream.AckAllPolicy,
		AckWait: time.Minute, MaxAckPending: 4 * ix.cfg.Batch,
	})
	if err != nil {
		return fmt.Errorf("histindex: consumer %s: %w", durable, err)
	}
	info, err := ix.cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("histindex: consumer %s: %w", durable, err)
	}
	ix.setApplied(info.AckFloor.Stream, info.NumPending)
	return nil
}

// Metrics returns the indexer's collectors.
func (ix *Indexer) Metrics() *Metrics { return ix.metrics }

// Close stops answering, waits for the requests being answered and the
// batch being applied, and closes the index. The consumer stays.
func (ix *Indexer) Close() error {
	ix.sub.Unsubscribe()
	ix.cancel()
	ix.wg.Wait()
	return ix.store.Close()
}

// appliedSeq returns the last stream sequence applied.
func (ix *Indexer) appliedSeq() uint64 {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.applied
}

// setApplied records that the stream is applied through seq, with pending
// messages after it, and wakes the requests waiting.
func (ix *Indexer) setApplied(seq, pending uint64) {
	ix.metrics.Lag.Set(float64(pending))
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if seq <= ix.applied {
		return
	}
	ix.applied = seq
	ix.metrics.Applied.Set(float64(seq))
	close(ix.advanced)
	ix.advanced = make(chan struct{})
}

// waitApplied waits until the stream is applied through seq, at most
// WaitTimeout.
func (ix *Indexer) waitApplied(ctx context.Context, seq uint64) error {
	start := time.Now()
	defer func() { ix.metrics.Wait.Observe(time.Since(start).Seconds()) }()
	timer := time.NewTimer(ix.cfg.WaitTimeout)
	defer timer.Stop()
	for {
		ix.mu.Lock()
		applied, ch := ix.applied, ix.advanced
		ix.mu.Unlock()
		if applied >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-timer.C:
			return fmt.Errorf("%w: applied through %d, the request needs %d (waited %v)", ErrBehind, applied, seq, ix.cfg.WaitTimeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// run applies the stream until ctx ends.
func (ix *Indexer) run(ctx context.Context) {
	defer ix.wg.Done()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		msgs, err := ix.fetch(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			ix.log.Warn("history indexer: fetch failed, retrying", "err", err, "in", backoff)
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		if len(msgs) == 0 {
			continue
		}
		backoff = 100 * time.Millisecond
		if !ix.applyBatch(ctx, msgs) {
			return
		}
	}
}

// fetch returns the next messages of the stream: up to Batch of those
// waiting, or, when none is, the first to arrive within a second. (A
// Fetch of Batch waits until the batch is full or its time is up: it
// held a lone message, and every read-your-writes query waiting for it,
// for up to that second.)
func (ix *Indexer) fetch(ctx context.Context) ([]jetstream.Msg, error) {
	batch, err := ix.cons.FetchNoWait(ix.cfg.Batch)
	if err != nil {
		return nil, err
	}
	var msgs []jetstream.Msg
	for m := range batch.Messages() {
		msgs = append(msgs, m)
	}
	if len(msgs) > 0 {
		return msgs, nil
	}
	fctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if batch, err = ix.cons.Fetch(1, jetstream.FetchContext(fctx)); err != nil {
		return nil, err
	}
	for m := range batch.Messages() {
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// applyBatch applies msgs (stream order) until it succeeds or ctx ends,
// then acknowledges the last one. It reports false if ctx ended.
func (ix *Indexer) applyBatch(ctx context.Context, msgs []jetstream.Msg) bool {
	applied := ix.appliedSeq()
	var last uint64
	var pending uint64
	var ops []applyOp
	next := applied + 1 // the stream sequence that must be applied next
	for _, m := range msgs {
		meta, err := m.Metadata()
		if err != nil {
			ix.log.Error("history indexer: message without metadata, skipped", "err", err)
			continue
		}
		seq := meta.Sequence.Stream
		if seq < next {
			continue // a redelivery of what is applied (its ack was lost)
		}
		if seq > next {
			// Messages delivered to a pull request of an earlier run that
			// died: acknowledging this batch (AckAll) would acknowledge
			// them unseen. Read them from the stream.
			gap, ok := ix.readGap(ctx, next, seq)
			if !ok {
				return false
			}
			ops = append(ops, gap...)
		}
		last, pending, next = seq, meta.NumPending, seq+1
		op, err := decodeOp(m.Data(), m.Headers())
		if err != nil {
			ix.log.Error("history indexer: bad history record, skipped", "seq", seq, "err", err)
			continue
		}
		ops = append(ops, op)
	}
	backoff := 100 * time.Millisecond
	for {
		err := ix.apply(ctx, ops)
		if err == nil {
			break
		}
		ix.log.Error("history indexer: applying a batch failed, retrying", "err", err, "in", backoff)
		if !sleep(ctx, backoff) {
			return false
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	if last == 0 {
		return true
	}
	if err := msgs[len(msgs)-1].Ack(); err != nil {
		ix.log.Warn("history indexer: ack failed (the batch will be seen again, and skipped)", "err", err)
	}
	ix.metrics.Messages.Add(float64(len(ops)))
	ix.setApplied(last, pending)
	return true
}

// applyOp is one history record: a message to store, or a delete.
type applyOp struct {
	m   *storage.Message
	del bool
}

func decodeOp(data []byte, hdr nats.Header) (applyOp, error) {
	msg, err := jsstore.DecodeMessage(data)
	if err != nil {
		return applyOp{}, err
	}
	if msg.App == "" || msg.ID == "" {
		return applyOp{}, fmt.Errorf("record without app or id")
	}
	return applyOp{m: msg, del: hdr.Get(opHeader) == opHeaderValue}, nil
}

// readGap reads the stream messages from sequence from to before to
// (those that still exist), retrying until it can or ctx ends.
func (ix *Indexer) readGap(ctx context.Context, from, to uint64) ([]applyOp, bool) {
	backoff := 100 * time.Millisecond
	for {
		ops, err := ix.tryGap(ctx, from, to)
		if err == nil {
			return ops, true
		}
		ix.log.Warn("history indexer: reading skipped stream messages failed, retrying", "from", from, "to", to, "err", err)
		if !sleep(ctx, backoff) {
			return nil, false
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (ix *Indexer) tryGap(ctx context.Context, from, to uint64) ([]applyOp, error) {
	info, err := ix.stream.Info(ctx)
	if err != nil {
		return nil, err
	}
	from = max(from, info.State.FirstSeq) // older ones have expired
	var ops []applyOp
	for seq := from; seq < to; seq++ {
		m, err := ix.stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		op, err := decodeOp(m.Data, m.Header)
		if err != nil {
			ix.log.Error("history indexer: bad history record, skipped", "seq", seq, "err", err)
			continue
		}
		ops = append(ops, op)
	}
	ix.metrics.Gaps.Add(float64(len(ops)))
	return ops, nil
}

// apply writes ops to the index: runs of messages concurrently (Badger
// commits them together), each delete after everything before it.
func (ix *Indexer) apply(ctx context.Context, ops []applyOp) error {
	for len(ops) > 0 {
		if ops[0].del {
			m := ops[0].m
			err := ix.store.Delete(ctx, m.App, m.ConvID, m.ID, m.Time)
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return err
			}
			ops = ops[1:]
			continue
		}
		n := 0
		for n < len(ops) && !ops[n].del {
			n++
		}
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = ix.store.Persist(ctx, ops[i].m, nil)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		ops = ops[n:]
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// enqueue hands a request to the workers, or answers ErrBusy.
func (ix *Indexer) enqueue(m *nats.Msg) {
	select {
	case ix.work <- m:
	default:
		ix.metrics.Requests.WithLabelValues("unknown", codeBusy).Inc()
		ix.respond(m, errorReply(fmt.Errorf("%w: %d requests queued", ErrBusy, cap(ix.work))))
	}
}

// serve answers requests until ctx ends.
func (ix *Indexer) serve(ctx context.Context) {
	defer ix.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-ix.work:
			ix.respond(m, ix.handle(ctx, m.Data))
		}
	}
}

func (ix *Indexer) respond(m *nats.Msg, r reply) {
	b, _ := json.Marshal(r) // strings, bools and raw JSON always encode
	if err := m.Respond(b); err != nil {
		ix.log.Warn("history indexer: reply failed", "err", err)
	}
}

// handle answers one request.
func (ix *Indexer) handle(ctx context.Context, data []byte) reply {
	var rq request
	op := "unknown"
	r := func() reply {
		if err := json.Unmarshal(data, &rq); err != nil {
			return errorReply(fmt.Errorf("%w: request: %v", storage.ErrInvalid, err))
		}
		op = rq.Op
		if op != opQuery && op != opDelete {
			op = "unknown"
			return errorReply(fmt.Errorf("%w: request op %q", storage.ErrInvalid, rq.Op))
		}
		ctx, cancel := context.WithTimeout(ctx, ix.cfg.WaitTimeout+5*time.Second)
		defer cancel()
		if err := ix.catchUp(ctx, rq.Seq); err != nil {
			return errorReply(err)
		}
		if op == opQuery {
			if rq.Q == nil {
				return errorReply(fmt.Errorf("%w: query request without a query", storage.ErrInvalid))
			}
			return ix.query(ctx, rq.Q.query())
		}
		m, err := ix.delete(ctx, rq.App, rq.Conv, rq.ID, rq.Time)
		if err != nil {
			return errorReply(err)
		}
		return reply{Msgs: []json.RawMessage{jsstore.EncodeMessage(m)}}
	}()
	result := r.Code
	if result == "" {
		result = "ok"
	}
	ix.metrics.Requests.WithLabelValues(op, result).Inc()
	return r
}

// catchUp waits until the stream is applied through seq, or through the
// stream's last sequence when seq is 0.
func (ix *Indexer) catchUp(ctx context.Context, seq uint64) error {
	if seq == 0 {
		info, err := ix.stream.Info(ctx)
		if err != nil {
			return fmt.Errorf("histindex: history stream: %w", err)
		}
		if info.State.Msgs == 0 {
			return nil
		}
		seq = info.State.LastSeq
	}
	return ix.waitApplied(ctx, seq)
}

// replyBudget is how much of a NATS message a page's records may fill.
func (ix *Indexer) replyBudget() int {
	return max(int(ix.cfg.Conn.MaxPayload())-4096, 4096)
}

// query answers q from the index, cut (More) to fit one NATS message.
func (ix *Indexer) query(ctx context.Context, q storage.HistoryQuery) reply {
	ms, err := ix.store.Query(ctx, q)
	if err != nil {
		return errorReply(err)
	}
	budget := ix.replyBudget()
	r := reply{Msgs: make([]json.RawMessage, 0, len(ms))}
	size := 0
	for _, m := range ms {
		b := jsstore.EncodeMessage(m)
		if size+len(b)+1 > budget && len(r.Msgs) > 0 {
			r.More = true
			break
		}
		size += len(b) + 1
		r.Msgs = append(r.Msgs, b)
	}
	return r
}

// delete removes a message from every indexer: it appends a delete record
// to the stream and waits until it has applied it. It returns the message
// deleted.
func (ix *Indexer) delete(ctx context.Context, app, conv, id string, ts int64) (*storage.Message, error) {
	if app == "" || id == "" {
		return nil, fmt.Errorf("%w: delete needs app and id", storage.ErrInvalid)
	}
	ms, err := ix.store.Query(ctx, storage.HistoryQuery{App: app, ConvID: conv, Before: ts, BeforeID: id + "\x00", Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 || ms[0].ID != id || ms[0].Time != ts || ms[0].ConvID != conv {
		return nil, storage.ErrNotFound
	}
	msg := nats.NewMsg(jsstore.HistSubject(ix.cfg.Namespace, app, conv, ""))
	msg.Header.Set(opHeader, opHeaderValue)
	msg.Data = jsstore.EncodeMessage(&storage.Message{App: app, ConvID: conv, ID: id, Time: ts})
	ack, err := ix.js.PublishMsg(ctx, msg, jetstream.WithMsgID(fmt.Sprintf("hdel.%s.%s.%d", app, id, ts)))
	if err != nil {
		return nil, fmt.Errorf("histindex: append the delete record: %w", err)
	}
	return ms[0], ix.waitApplied(ctx, ack.Sequence)
}

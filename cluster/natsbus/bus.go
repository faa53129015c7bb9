package natsbus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtgate/rtgate/cluster"
)

// Bus is one node's link to the cluster over NATS. It implements
// cluster.Deliverer, cluster.Presence and cluster.Forwarder.
type Bus struct {
	cfg    Config
	log    *slog.Logger
	m      *Metrics
	nc     *nats.Conn
	js     jetstream.JetStream
	kv     jetstream.KeyValue // the peers bucket
	leases jetstream.KeyValue // the leases bucket

	self atomic.Pointer[cluster.Node] // current incarnation

	subMu    sync.Mutex
	onDeliv  func(*cluster.Delivery)                       // guarded by subMu
	onReq    func(context.Context, []byte) ([]byte, error) // guarded by subMu
	delivSub *nats.Subscription                            // guarded by subMu
	reqSub   *nats.Subscription                            // guarded by subMu
	onCtl    func(context.Context, []byte) ([]byte, error) // guarded by subMu (control.go)
	ctlSub   *nats.Subscription                            // guarded by subMu
	seenSub  *nats.Subscription                            // guarded by subMu; while the bus runs (seen.go)

	pres presence

	fenced   atomic.Bool
	draining atomic.Bool  // set by Drain: unregistrations keep their keys
	leaseMu  sync.Mutex   // serialises lease writes
	lastOK   atomic.Int64 // unix ns of the last acked lease refresh
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup // the applier, the refresher, request handlers
	closeOne sync.Once
}

var (
	_ cluster.Deliverer = (*Bus)(nil)
	_ cluster.Presence  = (*Bus)(nil)
	_ cluster.Forwarder = (*Bus)(nil)
	_ cluster.Syncer    = (*Bus)(nil)
)

// Open checks the server, creates or validates the presence bucket, takes
// a first incarnation (lease and subscriptions) and replays the bucket, so
// that Nodes and Online answer for the whole cluster when it returns.
func Open(ctx context.Context, cfg Config) (*Bus, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if v := cfg.Conn.ConnectedServerVersion(); !versionAtLeast(v, MinServerVersion) {
		return nil, fmt.Errorf("%w: connected to %q, need %s or newer", ErrServerVersion, v, MinServerVersion)
	}
	js, err := jetstream.New(cfg.Conn)
	if err != nil {
		return nil, err
	}
	b := &Bus{cfg: cfg, log: cfg.Logger, m: cfg.Metrics, nc: cfg.Conn, js: js}
	b.pres.init()
	// A cluster that just formed may not place an R3 asset yet ("no
	// suitable peers"), nor answer for a stream whose leader is not
	// elected ("no response from stream"): each step retries until ctx
	// or StartTimeout ends.
	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	err = b.retry(ctx, "create or check the presence buckets", func(ctx context.Context) (err error) {
		b.kv, b.leases, err = ensureBuckets(ctx, js, cfg)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("natsbus: presence buckets: %w", err)
	}
	self := incarnation(cfg.Name)
	b.self.Store(&self)
	if err := b.retry(ctx, "write the first lease", func(ctx context.Context) error { return b.lease(ctx, self, 0) }); err != nil {
		return nil, fmt.Errorf("natsbus: first lease: %w", err)
	}
	b.lastOK.Store(time.Now().UnixNano())
	b.ctx, b.cancel = context.WithCancel(context.Background())
	// Seen requests are answered from before the watch starts: a node
	// that asks before this subscription exists finds no responder and
	// does not wait, but then its write is in the replay.
	b.subMu.Lock()
	err = b.subscribeLocked(self)
	b.subMu.Unlock()
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("natsbus: subscribe: %w", err)
	}
	ready := make(chan error, 1)
	b.wg.Add(2)
	go b.apply(ready)
	go b.refresh()
	select {
	case err = <-ready:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("natsbus: presence watch: %w", err)
	}
	b.log.Info("joined the cluster", "node", self, "server", cfg.Conn.ConnectedServerVersion())
	return b, nil
}

// retry runs step until it succeeds, returns an error no retry can mend
// (a mismatched asset, a closed connection), or ctx ends; it waits 250 ms
// doubling to 2 s between attempts and returns the last error.
func (b *Bus) retry(ctx context.Context, what string, step func(context.Context) error) error {
	wait := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := step(ctx)
		if err == nil || errors.Is(err, ErrAssetMismatch) || errors.Is(err, nats.ErrConnectionClosed) {
			return err
		}
		b.log.Warn("cluster not ready, retrying", "step", what, "attempt", attempt, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// History is how many writes of one key the peers bucket keeps. A
// watcher that lags behind a burst of writes to one key still reads them
// all (with History 1 it was moved past replaced writes and missed blips);
// 64 is the most a KV bucket keeps. Writes older than CompactAfter are
// rolled up, so a key holds about one message at rest.
const History = 64

// LeaseMarkerTTL is how long the leases bucket keeps the marker of an
// expired lease.
const LeaseMarkerTTL = time.Minute

// ensureBuckets creates the presence buckets, or checks that existing ones
// have the documented configuration.
//
// Two buckets, because nats-server raises a message's TTL to the stream's
// SubjectDeleteMarkerTTL when the stream keeps more than one message per
// subject (stream.go, "If subject delete markers are used, ensure message
// TTL is that at minimum"): with History 64 and 1-minute markers, a 10 s
// lease would last a minute. So the leases (TTL, markers) keep History 1,
// and the peer keys (no TTL) keep History.
func ensureBuckets(ctx context.Context, js jetstream.JetStream, cfg Config) (peers, leases jetstream.KeyValue, err error) {
	peers, err = ensureBucket(ctx, js, cfg, jetstream.KeyValueConfig{
		Bucket:      PeersBucket,
		Description: "rtgate presence: p.<app>.<peer>.<node>, open-group members g.<app>.<group>.<peer>.<node>, retire records x.<node>",
		History:     History,
		Storage:     jetstream.MemoryStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, nil, err
	}
	leases, err = ensureBucket(ctx, js, cfg, jetstream.KeyValueConfig{
		Bucket:         LeasesBucket,
		Description:    "rtgate node leases n.<node>, with a per-key TTL",
		History:        1,
		Storage:        jetstream.MemoryStorage,
		Replicas:       cfg.Replicas,
		LimitMarkerTTL: LeaseMarkerTTL,
	})
	if err != nil {
		return nil, nil, err
	}
	return peers, leases, nil
}

// ensureBucket creates the bucket want, or checks that an existing one has
// its configuration.
func ensureBucket(ctx context.Context, js jetstream.JetStream, cfg Config, want jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if kv, err := js.KeyValue(ctx, want.Bucket); err == nil {
		s, err := js.Stream(ctx, "KV_"+want.Bucket)
		if err != nil {
			return nil, err
		}
		got := s.CachedInfo().Config
		var diffs []string
		if got.Replicas != want.Replicas {
			diffs = append(diffs, fmt.Sprintf("replicas %d, want %d", got.Replicas, want.Replicas))
		}
		if got.Storage != want.Storage {
			diffs = append(diffs, fmt.Sprintf("storage %s, want %s", got.Storage, want.Storage))
		}
		if got.MaxMsgsPerSubject != int64(want.History) {
			diffs = append(diffs, fmt.Sprintf("history %d, want %d", got.MaxMsgsPerSubject, want.History))
		}
		if wantTTL := want.LimitMarkerTTL > 0; got.AllowMsgTTL != wantTTL || got.SubjectDeleteMarkerTTL != want.LimitMarkerTTL {
			diffs = append(diffs, fmt.Sprintf("per-key TTLs %v with marker TTL %s, want %v with %s",
				got.AllowMsgTTL, got.SubjectDeleteMarkerTTL, wantTTL, want.LimitMarkerTTL))
		}
		if len(diffs) > 0 {
			return nil, fmt.Errorf("%w: bucket %s: %v (fix or remove it by hand; rtgate never recreates it)", ErrAssetMismatch, want.Bucket, diffs)
		}
		return kv, nil
	} else if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, err
	}
	return js.CreateKeyValue(ctx, want)
}

// Self implements cluster.Deliverer and cluster.Forwarder.
func (b *Bus) Self() cluster.Node { return *b.self.Load() }

// Conn returns the bus's NATS connection (the caller's).
func (b *Bus) Conn() *nats.Conn { return b.nc }

// Metrics returns the bus's collectors.
func (b *Bus) Metrics() *Metrics { return b.m }

// Healthy returns nil while NATS is connected and the lease was refreshed
// (an R3 write: JetStream has quorum) within two refresh periods.
func (b *Bus) Healthy() error {
	if !b.nc.IsConnected() {
		return fmt.Errorf("%w: NATS not connected (%s)", cluster.ErrUnavailable, b.nc.Status())
	}
	if b.fenced.Load() {
		return ErrFenced
	}
	if age := time.Since(time.Unix(0, b.lastOK.Load())); age > 2*b.cfg.LeaseRefresh+b.cfg.Timeout {
		return fmt.Errorf("%w: presence lease not refreshed for %s (no JetStream quorum?)", cluster.ErrUnavailable, age.Round(time.Millisecond))
	}
	return nil
}

func deliverySubject(n cluster.Node) string { return "rt.n." + string(n) + ".d" }
func requestSubject(n cluster.Node) string  { return "rt.n." + string(n) + ".lp" }

// Deliver implements cluster.Deliverer: one core NATS message on the
// node's subject. A node that is gone just misses it.
func (b *Bus) Deliver(_ context.Context, to cluster.Node, d *cluster.Delivery) error {
	if err := b.nc.Publish(deliverySubject(to), encodeDelivery(d)); err != nil {
		return fmt.Errorf("%w: %v", cluster.ErrUnavailable, err)
	}
	b.m.Deliveries.Inc()
	return nil
}

// Subscribe implements cluster.Deliverer.
func (b *Bus) Subscribe(fn func(*cluster.Delivery)) (func(), error) {
	b.subMu.Lock()
	defer b.subMu.Unlock()
	b.onDeliv = fn
	if err := b.subscribeLocked(b.Self()); err != nil {
		return nil, err
	}
	return func() {
		b.subMu.Lock()
		defer b.subMu.Unlock()
		b.onDeliv = nil
		if b.delivSub != nil {
			b.delivSub.Unsubscribe()
			b.delivSub = nil
		}
	}, nil
}

// subscribeLocked (re)subscribes the handlers set to node's subjects.
func (b *Bus) subscribeLocked(node cluster.Node) error {
	if b.delivSub != nil {
		b.delivSub.Unsubscribe()
		b.delivSub = nil
	}
	if b.reqSub != nil {
		b.reqSub.Unsubscribe()
		b.reqSub = nil
	}
	if b.ctlSub != nil {
		b.ctlSub.Unsubscribe()
		b.ctlSub = nil
	}
	if b.seenSub != nil {
		b.seenSub.Unsubscribe()
		b.seenSub = nil
	}
	if b.ctx != nil && b.ctx.Err() == nil { // not closed
		sub, err := b.nc.Subscribe(seenSubject(node), b.serveSeen)
		if err != nil {
			return err
		}
		b.seenSub = sub
	}
	if fn := b.onDeliv; fn != nil {
		sub, err := b.nc.Subscribe(deliverySubject(node), func(m *nats.Msg) {
			d, err := decodeDelivery(m.Data)
			if err != nil {
				b.log.Warn("undecodable delivery", "subject", m.Subject, "err", err)
				return
			}
			fn(d)
		})
		if err != nil {
			return err
		}
		sub.SetPendingLimits(1<<16, 256<<20)
		b.delivSub = sub
	}
	if fn := b.onReq; fn != nil {
		sub, err := b.nc.Subscribe(requestSubject(node), func(m *nats.Msg) { b.serveOne(fn, m) })
		if err != nil {
			return err
		}
		b.reqSub = sub
	}
	if fn := b.onCtl; fn != nil {
		sub, err := b.nc.Subscribe(ControlSubject(node), func(m *nats.Msg) { b.serveOne(fn, m) })
		if err != nil {
			return err
		}
		b.ctlSub = sub
	}
	return b.nc.Flush()
}

// Request implements cluster.Forwarder.
func (b *Bus) Request(ctx context.Context, to cluster.Node, req []byte) ([]byte, error) {
	b.m.Forwarded.Inc()
	return request(ctx, b.nc, requestSubject(to), to, req)
}

// request sends req on subject, served by node to (serveOne), and returns
// its reply.
func request(ctx context.Context, nc *nats.Conn, subject string, to cluster.Node, req []byte) ([]byte, error) {
	m, err := nc.RequestWithContext(ctx, subject, req)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, fmt.Errorf("%w: %s", cluster.ErrNoNode, to)
	}
	if err != nil {
		return nil, err
	}
	if len(m.Data) == 0 {
		return nil, errors.New("natsbus: empty reply")
	}
	if m.Data[0] != 0 {
		return nil, fmt.Errorf("natsbus: node %s: %s", to, m.Data[1:])
	}
	return m.Data[1:], nil
}

// Serve implements cluster.Forwarder. Each request runs in its own
// goroutine (a long-poll GET waits for data), owned by the Bus.
func (b *Bus) Serve(fn func(context.Context, []byte) ([]byte, error)) (func(), error) {
	b.subMu.Lock()
	defer b.subMu.Unlock()
	b.onReq = fn
	if err := b.subscribeLocked(b.Self()); err != nil {
		return nil, err
	}
	return func() {
		b.subMu.Lock()
		defer b.subMu.Unlock()
		b.onReq = nil
		if b.reqSub != nil {
			b.reqSub.Unsubscribe()
			b.reqSub = nil
		}
	}, nil
}

// maxRequestTime bounds one served request (a long-poll GET holds ~25 s).
const maxRequestTime = 35 * time.Second

func (b *Bus) serveOne(fn func(context.Context, []byte) ([]byte, error), m *nats.Msg) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		ctx, cancel := context.WithTimeout(b.ctx, maxRequestTime)
		defer cancel()
		rep, err := fn(ctx, m.Data)
		if err != nil {
			m.Respond(append([]byte{1}, err.Error()...))
			return
		}
		m.Respond(append([]byte{0}, rep...))
	}()
}

// Drain starts a graceful exit: from now on, a peer's last session
// closing here does not delete its key, so its watchers see no `off`
// while it reconnects to another node. The caller closes its client
// connections (with a reconnect code), waits a grace period, then calls
// Close, whose retire record retires every key of this node at once: a
// peer that came back elsewhere meanwhile stays online throughout.
// Drain also rewrites the lease without its URL (waiting at most
// Config.Timeout), so that no router hands out this node any more.
func (b *Bus) Drain() {
	if b.draining.Swap(true) || b.cfg.URL == "" || b.fenced.Load() {
		return
	}
	if err := b.lease(b.ctx, b.Self(), 0); err != nil {
		b.log.Warn("drain: lease not rewritten without the URL", "node", b.Self(), "err", err)
	}
}

// Close leaves the cluster: it writes its retire record and deletes its
// lease (the other nodes drop this node's peers at once), stops the goroutines and waits for them.
// The caller closes the NATS connection afterwards.
func (b *Bus) Close() error {
	b.closeOne.Do(func() {
		if b.cancel != nil {
			b.cancel()
		}
		b.subMu.Lock()
		b.onDeliv, b.onReq, b.onCtl = nil, nil, nil
		b.subscribeLocked(b.Self())
		b.subMu.Unlock()
		b.wg.Wait()
		if b.leases != nil && !b.fenced.Load() && b.nc.IsConnected() {
			b.leave(b.Self())
		}
	})
	return nil
}

// encodeDelivery: uvarint-prefixed app and open group, count, peers, the
// number of refs (0 or count) and each ref uvarint-prefixed, then the
// frame.
func encodeDelivery(d *cluster.Delivery) []byte {
	n := 4*binary.MaxVarintLen32 + len(d.App) + len(d.Group) + len(d.Frame)
	for _, p := range d.To {
		n += binary.MaxVarintLen32 + len(p)
	}
	refs := d.Refs
	if len(refs) != len(d.To) {
		refs = nil // malformed: sent without refs, the receiver reads the inbox
	}
	for _, r := range refs {
		n += binary.MaxVarintLen32 + len(r)
	}
	buf := make([]byte, 0, n)
	buf = binary.AppendUvarint(buf, uint64(len(d.App)))
	buf = append(buf, d.App...)
	buf = binary.AppendUvarint(buf, uint64(len(d.Group)))
	buf = append(buf, d.Group...)
	buf = binary.AppendUvarint(buf, uint64(len(d.To)))
	for _, p := range d.To {
		buf = binary.AppendUvarint(buf, uint64(len(p)))
		buf = append(buf, p...)
	}
	buf = binary.AppendUvarint(buf, uint64(len(refs)))
	for _, r := range refs {
		buf = binary.AppendUvarint(buf, uint64(len(r)))
		buf = append(buf, r...)
	}
	return append(buf, d.Frame...)
}

var errBadDelivery = errors.New("natsbus: malformed delivery")

func decodeDelivery(b []byte) (*cluster.Delivery, error) {
	str := func() (string, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return "", false
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s, true
	}
	app, ok := str()
	if !ok {
		return nil, errBadDelivery
	}
	group, ok := str()
	if !ok {
		return nil, errBadDelivery
	}
	count, k := binary.Uvarint(b)
	if k <= 0 || count > uint64(len(b)) {
		return nil, errBadDelivery
	}
	b = b[k:]
	d := &cluster.Delivery{App: app, Group: group, To: make([]string, 0, count)}
	for range count {
		p, ok := str()
		if !ok {
			return nil, errBadDelivery
		}
		d.To = append(d.To, p)
	}
	nrefs, k := binary.Uvarint(b)
	if k <= 0 || (nrefs != 0 && nrefs != count) {
		return nil, errBadDelivery
	}
	b = b[k:]
	if nrefs > 0 {
		d.Refs = make([][]byte, 0, nrefs)
		for range nrefs {
			n, k := binary.Uvarint(b)
			if k <= 0 || n > uint64(len(b)-k) {
				return nil, errBadDelivery
			}
			var ref []byte // shares b, as Frame does
			if n > 0 {
				ref = b[k : k+int(n) : k+int(n)]
			}
			d.Refs = append(d.Refs, ref)
			b = b[k+int(n):]
		}
	}
	d.Frame = b
	return d, nil
}

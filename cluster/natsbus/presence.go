package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtgate/rtgate/cluster"
)

type peerKey struct{ app, peer string }

// regKey is one registration this node counts and writes: a peer's
// presence (group "") or its membership of an open group.
type regKey struct{ app, peer, group string }

func (k regKey) peerKey() peerKey { return peerKey{k.app, k.peer} }

// presence is a Bus's presence state: this node's registrations (counted,
// in stripes) and the cluster-wide map the applier builds from the watch.
type presence struct {
	seed    maphash.Seed
	stripes [stripes]stripe

	mu      sync.RWMutex
	online  map[peerKey]nodeSet         // guarded by mu; written by the applier only
	byNode  map[cluster.Node]*nodePeers // guarded by mu; written by the applier only
	retired map[cluster.Node]bool       // incarnations whose retire record was applied; guarded by mu; written by the applier only
	groups  openGroups                  // guarded by mu; written by the applier only
	urls    map[cluster.Node]string     // advertised URL of each node whose lease is present and that has one; guarded by mu; written by the lease watcher
	leased  map[cluster.Node]struct{}   // nodes whose lease is present (retired ones included); guarded by mu; written by the lease watcher
	moved   chan struct{}               // guarded by mu; closed and replaced when groups changed (see awaitView)

	fnMu sync.Mutex
	fn   func(cluster.Transition) // guarded by fnMu

	appliedMu sync.Mutex
	applied   [2]uint64     // highest stream sequence applied, by bucket (peersSeq, leasesSeq); guarded by appliedMu
	advanced  chan struct{} // closed (and replaced) when applied grows; guarded by appliedMu

	seqMu   sync.Mutex
	seqBusy bool     // a last-sequence request is in flight; guarded by seqMu
	seqNext *seqRead // answered by the next request, not sent yet; guarded by seqMu

	seen seenState // the seen barrier (seen.go)
}

// The buckets' indexes in presence.applied and seqRead.seq.
const (
	peersSeq  = 0
	leasesSeq = 1
)

// seqRead is one read of the buckets' streams' last sequences, shared by
// the Sync calls made before its requests were sent.
type seqRead struct {
	done chan struct{} // closed once seq and err are set
	seq  [2]uint64
	err  error
}

const stripes = 64

// writtenKey is a key this node wrote to the peers bucket: under which
// incarnation, at which stream sequence.
type writtenKey struct {
	node cluster.Node
	seq  uint64
}

// stripe serialises this node's writes of some peers' keys.
type stripe struct {
	mu      sync.Mutex
	count   map[regKey]int        // registrations minus unregistrations; guarded by mu
	written map[regKey]writtenKey // the key in the bucket; guarded by mu
	dirty   map[regKey]struct{}   // keys whose last write failed; guarded by mu
	last    map[regKey]time.Time  // when this incarnation last wrote the key; guarded by mu
	pruned  time.Time             // when last was last pruned; guarded by mu
}

func (p *presence) init() {
	p.seed = maphash.MakeSeed()
	for i := range p.stripes {
		p.stripes[i] = stripe{count: map[regKey]int{}, written: map[regKey]writtenKey{}, dirty: map[regKey]struct{}{}, last: map[regKey]time.Time{}}
	}
	p.online = map[peerKey]nodeSet{}
	p.byNode = map[cluster.Node]*nodePeers{}
	p.retired = map[cluster.Node]bool{}
	p.groups.init()
	p.urls = map[cluster.Node]string{}
	p.leased = map[cluster.Node]struct{}{}
	p.seen.late = map[cluster.Node]bool{}
	p.moved = make(chan struct{})
	p.advanced = make(chan struct{})
}

// setApplied records that the watch of bucket i applied its stream up to
// seq and wakes the Sync calls waiting for it.
func (p *presence) setApplied(i int, seq uint64) {
	p.appliedMu.Lock()
	if seq > p.applied[i] {
		p.applied[i] = seq
		close(p.advanced)
		p.advanced = make(chan struct{})
	}
	p.appliedMu.Unlock()
}

// Sync implements cluster.Syncer: it reads both buckets' streams' last
// sequences from their stream leaders (one request each) and waits until
// the two watches applied that far, within ctx and Config.Timeout. (A
// stream's last message that was removed before its watch saw it holds
// the wait until the next write there: the peers bucket purges only keys
// retired CompactAfter ago, long applied; the leases bucket is written
// every LeaseRefresh.)
//
// Concurrent calls share requests: at most one read is in flight per
// node, and the calls made meanwhile share the next one (sent after they
// were made, so it sees every write acknowledged before them).
func (b *Bus) Sync(ctx context.Context) error {
	if !b.nc.IsConnected() {
		// A request would wait in the reconnect buffer for the whole
		// timeout; the answer from memory is all there is.
		return fmt.Errorf("%w: NATS not connected (%s)", cluster.ErrUnavailable, b.nc.Status())
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	last, err := b.lastSeq(ctx)
	if err != nil {
		return unavailable(err)
	}
	return b.waitApplied(ctx, last)
}

// waitApplied waits until the watches applied the buckets' streams up to
// want (by bucket: peersSeq, leasesSeq), within ctx.
func (b *Bus) waitApplied(ctx context.Context, want [2]uint64) error {
	p := &b.pres
	for {
		p.appliedMu.Lock()
		applied, advanced := p.applied, p.advanced
		p.appliedMu.Unlock()
		if applied[peersSeq] >= want[peersSeq] && applied[leasesSeq] >= want[leasesSeq] {
			return nil
		}
		select {
		case <-advanced:
		case <-ctx.Done():
			return fmt.Errorf("natsbus: presence watches at %v, buckets at %v: %w", applied, want, unavailable(ctx.Err()))
		case <-b.ctx.Done():
			return unavailable(errors.New("bus closed"))
		}
	}
}

// lastSeq returns the buckets' streams' last sequences, read by requests
// sent after the call.
func (b *Bus) lastSeq(ctx context.Context) ([2]uint64, error) {
	p := &b.pres
	p.seqMu.Lock()
	r := p.seqNext
	if r == nil {
		r = &seqRead{done: make(chan struct{})}
		p.seqNext = r
	}
	if !p.seqBusy {
		p.seqBusy, p.seqNext = true, nil
		b.wg.Add(1)
		go b.readSeqs(r) // owned by the Bus (wg); ends when no read waits
	}
	p.seqMu.Unlock()
	select {
	case <-r.done:
		return r.seq, r.err
	case <-ctx.Done():
		return [2]uint64{}, ctx.Err()
	}
}

// readSeqs answers r, then each read that gathered while the previous
// requests were in flight.
func (b *Bus) readSeqs(r *seqRead) {
	defer b.wg.Done()
	p := &b.pres
	for r != nil {
		for i, name := range [2]string{PeersBucket, LeasesBucket} {
			ctx, cancel := context.WithTimeout(b.ctx, b.cfg.Timeout)
			s, err := b.js.Stream(ctx, "KV_"+name)
			cancel()
			if err != nil {
				r.err = err
				break
			}
			r.seq[i] = s.CachedInfo().State.LastSeq
		}
		close(r.done)
		p.seqMu.Lock()
		r, p.seqNext = p.seqNext, nil
		p.seqBusy = r != nil
		p.seqMu.Unlock()
	}
}

// stripe returns the stripe of a peer's registrations (its presence and
// its open groups alike).
func (p *presence) stripe(k regKey) *stripe {
	var h maphash.Hash
	h.SetSeed(p.seed)
	h.WriteString(k.app)
	h.WriteByte(0)
	h.WriteString(k.peer)
	return &p.stripes[h.Sum64()%stripes]
}

func leaseKey(n cluster.Node) string  { return "n." + string(n) }
func retireKey(n cluster.Node) string { return "x." + string(n) }

func peerKeyName(k peerKey, n cluster.Node) string {
	return "p." + cluster.Token(k.app) + "." + cluster.Token(k.peer) + "." + string(n)
}

// keyName is the bucket key of a registration: p.<app>.<peer>.<node> for
// presence, g.<app>.<group>.<peer>.<node> for an open group's member.
func (k regKey) keyName(n cluster.Node) string {
	if k.group == "" {
		return peerKeyName(k.peerKey(), n)
	}
	return groupKeyName(k, n)
}

// Register implements cluster.Presence: the key p.<app>.<peer>.<node> is
// put on this node's first registration. The registration counts even
// when the write fails (the caller's Unregister balances it). It returns
// once every live node's watch applied the write (the seen barrier, see
// awaitSeen), or after Config.SeenTimeout: a message sent to the peer
// from any node after that finds it online.
func (b *Bus) Register(ctx context.Context, app, peer string) error {
	return b.count(ctx, regKey{app: app, peer: peer}, 1)
}

// Unregister implements cluster.Presence: the key is deleted on the last.
func (b *Bus) Unregister(ctx context.Context, app, peer string) error {
	return b.count(ctx, regKey{app: app, peer: peer}, -1)
}

// count adds d to k's registrations and reconciles the bucket. A
// registration (d > 0) then waits, outside the stripe's lock, until every
// live node applied the key's put: this call's, or the one an earlier
// registration made (it may still be waiting itself).
func (b *Bus) count(ctx context.Context, k regKey, d int) error {
	st := b.pres.stripe(k)
	st.mu.Lock()
	st.count[k] += d
	if b.draining.Load() && d < 0 {
		// Leaving: the keys stay until Close deletes the lease, which
		// retires them all at once, after the clients moved elsewhere.
		st.mu.Unlock()
		return nil
	}
	if b.fenced.Load() && d > 0 {
		st.dirty[k] = struct{}{}
		st.mu.Unlock()
		return ErrFenced
	}
	err := b.reconcileLocked(ctx, st, k)
	var seq uint64
	if w, ok := st.written[k]; ok && d > 0 && err == nil && w.node == b.Self() {
		seq = w.seq
	}
	st.mu.Unlock()
	if seq > 0 {
		b.awaitSeen(ctx, seq)
	}
	return err
}

// reconcileLocked makes the bucket hold k's key for the current
// incarnation exactly when this node has registrations of k. Called with
// st held, so one peer's writes are serialised.
func (b *Bus) reconcileLocked(ctx context.Context, st *stripe, k regKey) error {
	self := b.Self()
	n := st.count[k]
	wk, written := st.written[k]
	w := wk.node
	var err error
	// A write replaces the key's older writes (a rollup) when the last
	// one is older than CompactAfter: every watcher has read them by then,
	// and the bucket then holds about one message per key, not History.
	last, ok := st.last[k]
	compact := !ok || time.Since(last) > b.cfg.CompactAfter
	switch {
	case n > 0 && w != self:
		wctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
		var seq uint64
		if compact {
			m := nats.NewMsg("$KV." + PeersBucket + "." + k.keyName(self))
			m.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
			var ack *jetstream.PubAck
			if ack, err = b.js.PublishMsg(wctx, m); err == nil {
				seq = ack.Sequence
			}
		} else {
			seq, err = b.kv.Put(wctx, k.keyName(self), nil)
		}
		cancel()
		if err == nil {
			b.m.PresenceKV.WithLabelValues("put").Inc()
			st.written[k] = writtenKey{self, seq}
			st.last[k] = time.Now()
			b.awaitGroup(ctx, k, self, true)
		}
	case n <= 0 && written:
		if w == self {
			wctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
			if compact {
				err = b.kv.Purge(wctx, k.keyName(w)) // a delete that rolls up
			} else {
				err = b.kv.Delete(wctx, k.keyName(w))
			}
			cancel()
			if err == nil {
				st.last[k] = time.Now()
				b.awaitGroup(ctx, k, w, false)
			}
		} // else: an old incarnation's key, purged after its retirement
		if err == nil {
			b.m.PresenceKV.WithLabelValues("delete").Inc()
			delete(st.written, k)
		}
	}
	if n == 0 && err == nil {
		delete(st.count, k)
	}
	if err != nil {
		b.m.KVErrors.Inc()
		st.dirty[k] = struct{}{}
		return unavailable(err)
	}
	delete(st.dirty, k)
	return nil
}

// reconcile retries the failed writes (all = every registered peer, after
// a new incarnation).
func (b *Bus) reconcile(all bool) {
	for i := range b.pres.stripes {
		st := &b.pres.stripes[i]
		st.mu.Lock()
		var keys []regKey
		if all {
			for k := range st.count {
				keys = append(keys, k)
			}
		}
		for k := range st.dirty {
			keys = append(keys, k)
		}
		if time.Since(st.pruned) > b.cfg.CompactAfter {
			st.pruned = time.Now()
			for k, t := range st.last {
				if _, held := st.count[k]; !held && time.Since(t) > b.cfg.CompactAfter {
					delete(st.last, k) // its next write compacts anyway
				}
			}
		}
		for _, k := range keys {
			if b.ctx.Err() != nil {
				break
			}
			b.reconcileLocked(b.ctx, st, k)
		}
		st.mu.Unlock()
	}
}

// Nodes implements cluster.Presence.
func (b *Bus) Nodes(dst []cluster.Node, app, peer string) []cluster.Node {
	b.pres.mu.RLock()
	dst = b.pres.online[peerKey{app, peer}].appendTo(dst)
	b.pres.mu.RUnlock()
	return dst
}

// Online implements cluster.Presence.
func (b *Bus) Online(app, peer string) bool {
	b.pres.mu.RLock()
	_, on := b.pres.online[peerKey{app, peer}]
	b.pres.mu.RUnlock()
	return on
}

// Watch implements cluster.Presence. fn runs on the applier goroutine.
func (b *Bus) Watch(fn func(cluster.Transition)) func() {
	b.pres.fnMu.Lock()
	b.pres.fn = fn
	b.pres.fnMu.Unlock()
	return func() {
		b.pres.fnMu.Lock()
		b.pres.fn = nil
		b.pres.fnMu.Unlock()
	}
}

// apply runs the ordered watch of the peers bucket: first the replay of
// current values (reported on ready), then every change in stream order.
// A second goroutine moves entries off the watcher's channel into a queue
// at once, so that the server never waits on a slow applier. The leases
// bucket is read after the peers' replay (so a peer key seen there had
// its node's lease written before) and then watched for expiries, which
// are turned into retire records in the peers stream.
func (b *Bus) apply(ready chan<- error) {
	defer b.wg.Done()
	var w jetstream.KeyWatcher
	err := b.retry(b.ctx, "watch the peers bucket", func(ctx context.Context) (err error) {
		w, err = b.kv.WatchAll(ctx)
		return err
	})
	if err != nil {
		ready <- err
		return
	}
	defer w.Stop()
	var (
		mu     sync.Mutex
		queue  []jetstream.KeyValueEntry // guarded by mu
		signal = make(chan struct{}, 1)
	)
	b.wg.Add(1)
	go func() { // owned by apply's Bus (wg); ends with b.ctx
		defer b.wg.Done()
		for {
			select {
			case <-b.ctx.Done():
				return
			case e := <-w.Updates():
				mu.Lock()
				queue = append(queue, e)
				mu.Unlock()
				select {
				case signal <- struct{}{}:
				default:
				}
			}
		}
	}()
	var initial []jetstream.KeyValueEntry
	replaying := true
	var batch []jetstream.KeyValueEntry
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-signal:
		}
		mu.Lock()
		batch, queue = queue, batch[:0]
		mu.Unlock()
		for _, e := range batch {
			if replaying {
				if e != nil {
					initial = append(initial, e)
					continue
				}
				replaying = false
				lw, leases, err := b.leaseSnapshot()
				if err != nil {
					ready <- err
					return
				}
				defer lw.Stop()
				b.replay(initial, leases)
				for _, e := range initial {
					b.pres.setApplied(peersSeq, e.Revision())
				}
				initial = nil
				b.wg.Add(1)
				go b.watchLeases(lw)
				ready <- nil
				continue
			}
			if e != nil {
				b.applyEntry(e)
				b.pres.setApplied(peersSeq, e.Revision())
			}
		}
		clear(batch)
	}
}

// leaseSnapshot starts the watch of the leases bucket and returns it with
// the nodes whose lease is present now.
func (b *Bus) leaseSnapshot() (jetstream.KeyWatcher, map[cluster.Node]bool, error) {
	var lw jetstream.KeyWatcher
	err := b.retry(b.ctx, "watch the leases bucket", func(ctx context.Context) (err error) {
		lw, err = b.leases.WatchAll(ctx)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	leases := map[cluster.Node]bool{}
	for {
		select {
		case <-b.ctx.Done():
			lw.Stop()
			return nil, nil, b.ctx.Err()
		case e := <-lw.Updates():
			if e == nil {
				return lw, leases, nil
			}
			if node, ok := strings.CutPrefix(e.Key(), "n."); ok && e.Operation() == jetstream.KeyValuePut {
				leases[cluster.Node(node)] = true
				b.pres.mu.Lock()
				b.pres.leased[cluster.Node(node)] = struct{}{}
				b.pres.setURLLocked(cluster.Node(node), e.Value())
				b.pres.mu.Unlock()
			}
			if k, ok := parseRejoinKey(e.Key()); ok && e.Operation() == jetstream.KeyValuePut {
				b.pres.mu.Lock()
				b.pres.groups.rejoin[k] = string(e.Value())
				b.pres.mu.Unlock()
			}
			b.pres.setApplied(leasesSeq, e.Revision())
		}
	}
}

// watchLeases turns every lease that expires or is deleted into a retire
// record x.<node> in the peers bucket, keeps the nodes' URLs, and keeps
// the open groups' rejoin records (r.<app>.<peer>). Owned by the Bus (wg).
func (b *Bus) watchLeases(lw jetstream.KeyWatcher) {
	defer b.wg.Done()
	for {
		select {
		case <-b.ctx.Done():
			return
		case e := <-lw.Updates():
			if e == nil {
				continue
			}
			b.applyLeasesEntry(e)
			b.pres.setApplied(leasesSeq, e.Revision())
		}
	}
}

// applyLeasesEntry applies one change of the leases bucket.
func (b *Bus) applyLeasesEntry(e jetstream.KeyValueEntry) {
	p := &b.pres
	if k, ok := parseRejoinKey(e.Key()); ok {
		p.mu.Lock()
		if e.Operation() == jetstream.KeyValuePut {
			p.groups.rejoin[k] = string(e.Value())
		} else { // deleted, or expired (its TTL's marker)
			delete(p.groups.rejoin, k)
		}
		close(p.moved)
		p.moved = make(chan struct{})
		p.mu.Unlock()
		return
	}
	node, ok := strings.CutPrefix(e.Key(), "n.")
	if !ok {
		return
	}
	n := cluster.Node(node)
	p.mu.Lock()
	done := p.retired[n]
	if e.Operation() == jetstream.KeyValuePut && !done {
		p.leased[n] = struct{}{}
		p.setURLLocked(n, e.Value())
	} else {
		delete(p.leased, n)
		delete(p.urls, n)
	}
	p.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut && !done {
		b.log.Info("a node's lease ended", "node", n, "op", e.Operation().String())
		b.retire(b.ctx, n)
	}
}

// retire writes node's retire record (once: a compare-and-swap create, so
// the nodes that see its lease end at the same time write one record).
func (b *Bus) retire(ctx context.Context, n cluster.Node) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	_, err := b.kv.Create(ctx, retireKey(n), nil)
	if err != nil && !errors.Is(err, jetstream.ErrKeyExists) && ctx.Err() == nil {
		b.m.KVErrors.Inc()
		b.log.Warn("write a retire record", "node", n, "err", err)
		return
	}
	if err == nil {
		b.m.PresenceKV.WithLabelValues("retire").Inc()
	}
}

// replay builds the map from current values: a node's peer keys count
// unless its retire record is there. A node that holds keys, is not
// retired and has no lease (it died while no node watched) is retired
// now, through the stream like any other.
func (b *Bus) replay(entries []jetstream.KeyValueEntry, leases map[cluster.Node]bool) {
	p := &b.pres
	p.mu.Lock()
	for _, e := range entries {
		if node, ok := strings.CutPrefix(e.Key(), "x."); ok && e.Operation() == jetstream.KeyValuePut {
			p.retired[cluster.Node(node)] = true
		}
	}
	for _, e := range entries {
		if k, node, ok := parsePeerKey(e.Key()); ok && e.Operation() == jetstream.KeyValuePut && !p.retired[node] {
			p.addLocked(k, node)
		}
		if k, node, ok := parseGroupKey(e.Key()); ok && e.Operation() == jetstream.KeyValuePut && !p.retired[node] {
			p.groups.add(k, node)
		}
	}
	var dead, stale []cluster.Node
	for n := range p.byNode {
		if !leases[n] {
			dead = append(dead, n)
		}
	}
	for n := range p.groups.byNode {
		if _, listed := p.byNode[n]; !listed && !leases[n] {
			dead = append(dead, n)
		}
	}
	for n := range p.retired {
		stale = append(stale, n)
	}
	p.mu.Unlock()
	for _, n := range dead {
		b.log.Info("retiring a node that holds presence keys without a lease", "node", n)
		b.retire(b.ctx, n)
	}
	for _, n := range stale {
		b.purgeLater(n)
	}
}

// applyEntry applies one change and hands the transitions it causes to
// the watcher, after the map's lock is released.
func (b *Bus) applyEntry(e jetstream.KeyValueEntry) {
	p := &b.pres
	var out []cluster.Transition
	put := e.Operation() == jetstream.KeyValuePut
	retiredSelf := false
	p.mu.Lock()
	if node, ok := strings.CutPrefix(e.Key(), "x."); ok {
		n := cluster.Node(node)
		if put && !p.retired[n] {
			b.log.Info("a node left the cluster", "node", n)
			p.retired[n] = true
			out = p.nodeGoneLocked(n, out)
			retiredSelf = n == b.Self()
			b.purgeLater(n)
		}
	} else if k, node, ok := parsePeerKey(e.Key()); ok {
		switch {
		case put && !p.retired[node]:
			if p.addLocked(k, node) {
				out = append(out, cluster.Transition{App: k.app, Peer: k.peer, Online: true})
			}
		case !put:
			if p.removeLocked(k, node) {
				out = append(out, cluster.Transition{App: k.app, Peer: k.peer})
			}
		}
	} else if k, node, ok := parseGroupKey(e.Key()); ok {
		switch {
		case put && !p.retired[node]:
			p.groups.add(k, node)
		case !put:
			p.groups.remove(k, node)
		}
		close(p.moved)
		p.moved = make(chan struct{})
	}
	p.mu.Unlock()
	if retiredSelf {
		// The others retired this incarnation (its lease ran out while it
		// was stalled): fence, and come back as a new one.
		b.fence(0)
	}
	if len(out) == 0 {
		return
	}
	b.m.Transitions.Add(float64(len(out)))
	p.fnMu.Lock()
	fn := p.fn
	p.fnMu.Unlock()
	if fn != nil {
		for _, t := range out {
			fn(t)
		}
	}
}

// nodeSet is the nodes a peer is online on. Almost every peer is on one
// node, so the first is held inline, without a map or slice of its own:
// with 100 000 peers on other nodes a map per peer made the presence map
// 530 bytes a peer (BenchmarkPresenceMemory). A peer with no node is not
// in presence.online at all.
type nodeSet struct {
	one  cluster.Node   // "" only in a set being emptied
	more []cluster.Node // the others, for a peer on several nodes
}

func (s nodeSet) has(n cluster.Node) bool {
	return s.one == n || slices.Contains(s.more, n)
}

func (s nodeSet) empty() bool { return s.one == "" && len(s.more) == 0 }

// with returns s plus n (n not in s).
func (s nodeSet) with(n cluster.Node) nodeSet {
	if s.one == "" {
		s.one = n
	} else {
		s.more = append(s.more, n)
	}
	return s
}

// without returns s less n.
func (s nodeSet) without(n cluster.Node) nodeSet {
	if s.one == n {
		s.one = ""
		if len(s.more) > 0 {
			s.one = s.more[len(s.more)-1]
			s.more = s.more[:len(s.more)-1]
		}
	} else if i := slices.Index(s.more, n); i >= 0 {
		s.more = slices.Delete(s.more, i, i+1)
	}
	if len(s.more) == 0 {
		s.more = nil
	}
	return s
}

func (s nodeSet) appendTo(dst []cluster.Node) []cluster.Node {
	if s.one != "" {
		dst = append(dst, s.one)
	}
	return append(dst, s.more...)
}

// nodePeers is one node's peers. name is the node's name in a string of
// its own, which every nodeSet holding the node shares: the name parsed
// from a key is a slice of that key, and keeping it would keep the key.
type nodePeers struct {
	name  cluster.Node
	peers map[peerKey]struct{}
}

// addLocked adds node to k's nodes and reports whether k came online.
func (p *presence) addLocked(k peerKey, node cluster.Node) bool {
	set := p.online[k]
	if set.has(node) {
		return false
	}
	np := p.byNode[node]
	if np == nil {
		np = &nodePeers{name: cluster.Node(strings.Clone(string(node))), peers: map[peerKey]struct{}{}}
		p.byNode[np.name] = np
	}
	np.peers[k] = struct{}{}
	p.online[k] = set.with(np.name)
	return set.empty()
}

// removeLocked removes node from k's nodes and reports whether k went off.
func (p *presence) removeLocked(k peerKey, node cluster.Node) bool {
	set := p.online[k]
	if !set.has(node) {
		return false
	}
	if np := p.byNode[node]; np != nil {
		delete(np.peers, k)
	}
	if set = set.without(node); set.empty() {
		delete(p.online, k)
		return true
	}
	p.online[k] = set
	return false
}

// nodeGoneLocked retires node: its peers leave the map at this point of
// the stream.
func (p *presence) nodeGoneLocked(node cluster.Node, out []cluster.Transition) []cluster.Transition {
	delete(p.urls, node)
	if np := p.byNode[node]; np != nil {
		for k := range np.peers {
			if set := p.online[k].without(node); set.empty() {
				delete(p.online, k)
				out = append(out, cluster.Transition{App: k.app, Peer: k.peer})
			} else {
				p.online[k] = set
			}
		}
	}
	delete(p.byNode, node)
	p.groups.nodeGone(node)
	return out
}

// purgeLater removes a retired node's peer and group keys and retire record from
// the bucket CompactAfter from now (every node does it, idempotently; a
// stream purge adds no events): a watcher lagging less than that still
// reads every write the node made before its retirement.
func (b *Bus) purgeLater(n cluster.Node) {
	b.wg.Add(1)
	go func() { // owned by the Bus (wg); ends with b.ctx
		defer b.wg.Done()
		t := time.NewTimer(b.cfg.CompactAfter)
		defer t.Stop()
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(b.ctx, b.cfg.Timeout)
		defer cancel()
		s, err := b.js.Stream(ctx, "KV_"+PeersBucket)
		if err == nil {
			err = s.Purge(ctx, jetstream.WithPurgeSubject("$KV."+PeersBucket+".p.*.*."+string(n)))
		}
		if err == nil {
			err = s.Purge(ctx, jetstream.WithPurgeSubject("$KV."+PeersBucket+".g.*.*.*."+string(n)))
		}
		if err == nil {
			err = s.Purge(ctx, jetstream.WithPurgeSubject("$KV."+PeersBucket+"."+retireKey(n)))
		}
		if err != nil && b.ctx.Err() == nil {
			b.log.Debug("purge a retired node's presence keys", "node", n, "err", err)
		}
	}()
}

func parsePeerKey(key string) (peerKey, cluster.Node, bool) {
	parts := strings.Split(key, ".")
	if len(parts) != 4 || parts[0] != "p" {
		return peerKey{}, "", false
	}
	app, err1 := cluster.FromToken(parts[1])
	peer, err2 := cluster.FromToken(parts[2])
	if err1 != nil || err2 != nil {
		return peerKey{}, "", false
	}
	return peerKey{app, peer}, cluster.Node(parts[3]), true
}

// leaseValue is the JSON value of a lease key.
type leaseValue struct {
	Time string `json:"t"`             // when it was written (RFC 3339, UTC)
	URL  string `json:"url,omitempty"` // Config.URL; empty while the node drains
}

// setURLLocked records the URL a lease value advertises (none: forgotten).
func (p *presence) setURLLocked(n cluster.Node, value []byte) {
	var v leaseValue
	if json.Unmarshal(value, &v) != nil || v.URL == "" {
		delete(p.urls, n)
		return
	}
	p.urls[n] = v.URL
}

// URLs returns the distinct URLs the live nodes advertise (Config.URL),
// ordered by node, from local memory. A node leaves the list when its
// lease goes (it left, or crashed and its lease expired), when it is
// retired, and as soon as it starts draining.
func (b *Bus) URLs() []string {
	b.pres.mu.RLock()
	nodes := make([]cluster.Node, 0, len(b.pres.urls))
	for n := range b.pres.urls {
		nodes = append(nodes, n)
	}
	slices.Sort(nodes)
	out := make([]string, 0, len(nodes))
	for _, n := range nodes {
		if u := b.pres.urls[n]; !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	b.pres.mu.RUnlock()
	return out
}

// lease publishes node's lease key with its TTL, waiting at most timeout
// (0: Config.Timeout) for the ack. The value advertises Config.URL unless
// the node is draining.
func (b *Bus) lease(ctx context.Context, node cluster.Node, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = b.cfg.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// One write at a time, so that a refresh that read "not draining"
	// cannot land after Drain's write without the URL.
	b.leaseMu.Lock()
	defer b.leaseMu.Unlock()
	v := leaseValue{Time: time.Now().UTC().Format(time.RFC3339)}
	if !b.draining.Load() {
		v.URL = b.cfg.URL
	}
	value, _ := json.Marshal(v) // two strings always encode
	_, err := b.js.Publish(ctx, "$KV."+LeasesBucket+"."+leaseKey(node), value,
		jetstream.WithMsgTTL(b.cfg.LeaseTTL))
	if err != nil {
		b.m.KVErrors.Inc()
		return err
	}
	b.m.PresenceKV.WithLabelValues("lease").Inc()
	return nil
}

// refresh keeps the lease alive, fences the node when it cannot, and
// brings it back under a new incarnation when NATS answers again.
func (b *Bus) refresh() {
	defer b.wg.Done()
	t := time.NewTicker(b.cfg.LeaseRefresh)
	defer t.Stop()
	failures := 0 // consecutive lease writes that timed out or found no responder
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		}
		if rtt, err := b.nc.RTT(); err == nil {
			b.m.RTT.Set(rtt.Seconds())
		}
		if b.fenced.Load() {
			if err := b.rejoin(); err != nil && b.ctx.Err() == nil {
				failures = b.minority(err, failures)
			}
			continue
		}
		// Wait for the ack no later than the fence is due.
		fenceAt := time.Unix(0, b.lastOK.Load()).Add(b.cfg.LeaseTTL - b.cfg.FenceMargin)
		wait := min(b.cfg.Timeout, max(time.Until(fenceAt), 100*time.Millisecond))
		if err := b.lease(b.ctx, b.Self(), wait); err == nil {
			failures = 0
			b.lastOK.Store(time.Now().UnixNano())
			b.reconcile(false)
			continue
		} else if b.ctx.Err() != nil {
			return
		} else {
			b.log.Warn("presence lease not refreshed", "node", b.Self(), "err", err)
			failures = b.minority(err, failures)
		}
		if since := time.Since(time.Unix(0, b.lastOK.Load())); since >= b.cfg.LeaseTTL-b.cfg.FenceMargin && !b.fenced.Load() {
			b.fence(since)
		}
	}
}

// minority counts a failed lease write and returns the new count of
// consecutive ones. A write that timed out or found no responder while
// the connection was up means the connected server cannot reach a
// JetStream quorum (scaleout.md 2.4): after ReconnectAfter of them the
// connection is moved to another server (nats.go puts the current one
// last in its pool).
func (b *Bus) minority(err error, failures int) int {
	if !b.nc.IsConnected() || !(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse)) {
		return 0
	}
	failures++
	if b.cfg.ReconnectAfter < 0 || failures < b.cfg.ReconnectAfter {
		return failures
	}
	b.log.Warn("JetStream does not answer through this nats-server; reconnecting to another",
		"server", b.nc.ConnectedServerName(), "failures", failures, "err", err)
	if err := b.nc.ForceReconnect(); err != nil {
		b.log.Warn("force a NATS reconnect", "err", err)
		return failures
	}
	b.m.Reconnects.Inc()
	return 0
}

// fence marks the node fenced and lets the caller close its sessions:
// its lease is about to expire (or did: since 0 means the cluster retired
// this incarnation), and the other nodes will drop its peers. The
// refresher brings it back under a new incarnation.
func (b *Bus) fence(since time.Duration) {
	if !b.fenced.CompareAndSwap(false, true) {
		return
	}
	b.m.Fences.Inc()
	reason := "node lost the cluster for " + since.Round(time.Millisecond).String() + "; reconnect elsewhere"
	if since == 0 {
		reason = "the cluster retired this node's incarnation; reconnect elsewhere"
	}
	b.log.Error("fencing this node off the cluster", "node", b.Self(), "reason", reason)
	if b.cfg.OnFence != nil {
		b.cfg.OnFence(reason)
	}
}

// rejoin takes a new incarnation once a lease can be written again; it
// returns the lease write's error while it cannot.
func (b *Bus) rejoin() error {
	next := incarnation(b.cfg.Name)
	if err := b.lease(b.ctx, next, 0); err != nil {
		return err
	}
	old := b.Self()
	b.self.Store(&next)
	b.subMu.Lock()
	err := b.subscribeLocked(next)
	b.subMu.Unlock()
	if err != nil {
		b.log.Error("subscribe under the new incarnation", "node", next, "err", err)
	}
	b.lastOK.Store(time.Now().UnixNano())
	b.fenced.Store(false)
	b.log.Info("rejoined the cluster under a new incarnation", "old", old, "node", next)
	// Re-put the peers still held first, then retire the old incarnation
	// now rather than at its lease's expiry: a peer held throughout shows
	// no off/on where the other nodes had not dropped it yet.
	b.reconcile(true)
	b.leave(old)
	return nil
}

// leave retires incarnation n at once: its retire record, then its lease
// deleted.
func (b *Bus) leave(n cluster.Node) {
	b.retire(context.Background(), n)
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.Timeout)
	defer cancel()
	b.leases.Delete(ctx, leaseKey(n))
}

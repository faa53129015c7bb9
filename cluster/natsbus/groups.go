package natsbus

import (
	"context"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtgate/rtgate/cluster"
)

// Open (transient) groups' members live in the presence peers bucket next to
// the peers' keys: g.<app>.<group>.<peer>.<node> is put on this node's
// first session of the peer in the group and deleted on its last, with
// the same counting, retries, fencing and lease as the presence keys.
// Every node applies them from the same ordered watch into openGroups, so
// an open group's message goes to the nodes that host its members and its
// online count is answered from memory; a node whose lease ends takes its
// members out at that point of the stream.

// A peer whose session in an open group ended may rejoin it on any node
// for a while: r.<app>.<peer> holds the group, written into the leases
// bucket (History 1, so its TTL is exact) with a per-message TTL (the
// rejoin window), and every node keeps the current ones from its watch of
// that bucket; the TTL's expiry marker removes it everywhere.

var (
	_ cluster.OpenGroups = (*Bus)(nil)
	_ cluster.Rejoins    = (*Bus)(nil)
)

type groupKey struct{ app, group string }

// openGroups is the cluster-wide map of open-group members, written by
// the applier under presence.mu.
type openGroups struct {
	peers  map[groupKey]map[string]map[cluster.Node]struct{} // group -> member -> nodes holding it there
	hosts  map[groupKey]map[cluster.Node]int                 // group -> node -> members it holds
	byNode map[cluster.Node]map[regKey]struct{}              // node -> its memberships
	rejoin map[peerKey]string                                // peer -> the open group it may rejoin
}

func (g *openGroups) init() {
	g.peers = map[groupKey]map[string]map[cluster.Node]struct{}{}
	g.hosts = map[groupKey]map[cluster.Node]int{}
	g.byNode = map[cluster.Node]map[regKey]struct{}{}
	g.rejoin = map[peerKey]string{}
}

func (g *openGroups) add(k regKey, node cluster.Node) {
	gk := groupKey{k.app, k.group}
	members := g.peers[gk]
	if members == nil {
		members = map[string]map[cluster.Node]struct{}{}
		g.peers[gk] = members
	}
	nodes := members[k.peer]
	if nodes == nil {
		nodes = map[cluster.Node]struct{}{}
		members[k.peer] = nodes
	}
	if _, ok := nodes[node]; ok {
		return
	}
	nodes[node] = struct{}{}
	if g.hosts[gk] == nil {
		g.hosts[gk] = map[cluster.Node]int{}
	}
	g.hosts[gk][node]++
	if g.byNode[node] == nil {
		g.byNode[node] = map[regKey]struct{}{}
	}
	g.byNode[node][k] = struct{}{}
}

func (g *openGroups) remove(k regKey, node cluster.Node) {
	gk := groupKey{k.app, k.group}
	nodes := g.peers[gk][k.peer]
	if _, ok := nodes[node]; !ok {
		return
	}
	delete(nodes, node)
	if len(nodes) == 0 {
		delete(g.peers[gk], k.peer)
		if len(g.peers[gk]) == 0 {
			delete(g.peers, gk)
		}
	}
	if g.hosts[gk][node]--; g.hosts[gk][node] <= 0 {
		delete(g.hosts[gk], node)
		if len(g.hosts[gk]) == 0 {
			delete(g.hosts, gk)
		}
	}
	delete(g.byNode[node], k)
}

// nodeGone retires a node's memberships.
func (g *openGroups) nodeGone(node cluster.Node) {
	for k := range g.byNode[node] {
		g.remove(k, node)
	}
	delete(g.byNode, node)
}

func groupKeyName(k regKey, n cluster.Node) string {
	return "g." + cluster.Token(k.app) + "." + cluster.Token(k.group) + "." + cluster.Token(k.peer) + "." + string(n)
}

func parseGroupKey(key string) (regKey, cluster.Node, bool) {
	parts := strings.Split(key, ".")
	if len(parts) != 5 || parts[0] != "g" {
		return regKey{}, "", false
	}
	app, err1 := cluster.FromToken(parts[1])
	group, err2 := cluster.FromToken(parts[2])
	peer, err3 := cluster.FromToken(parts[3])
	if err1 != nil || err2 != nil || err3 != nil || group == "" {
		return regKey{}, "", false
	}
	return regKey{app: app, peer: peer, group: group}, cluster.Node(parts[4]), true
}

// EnterGroup implements cluster.OpenGroups: the key
// g.<app>.<group>.<peer>.<node> is put on this node's first session of
// the peer in the group. Like Register, it counts even when the write
// fails (it is retried; the caller's LeaveGroup balances it).
func (b *Bus) EnterGroup(ctx context.Context, app, group, peer string) error {
	return b.count(ctx, regKey{app: app, peer: peer, group: group}, 1)
}

// LeaveGroup implements cluster.OpenGroups: the key is deleted on the
// last.
func (b *Bus) LeaveGroup(ctx context.Context, app, group, peer string) error {
	return b.count(ctx, regKey{app: app, peer: peer, group: group}, -1)
}

// GroupNodes implements cluster.OpenGroups. This node's own entries are
// in it when EnterGroup returns (and gone when LeaveGroup returns).
func (b *Bus) GroupNodes(dst []cluster.Node, app, group string) []cluster.Node {
	b.pres.mu.RLock()
	for n := range b.pres.groups.hosts[groupKey{app, group}] {
		dst = append(dst, n)
	}
	b.pres.mu.RUnlock()
	return dst
}

// GroupSize implements cluster.OpenGroups.
func (b *Bus) GroupSize(app, group string) int {
	b.pres.mu.RLock()
	n := len(b.pres.groups.peers[groupKey{app, group}])
	b.pres.mu.RUnlock()
	return n
}

// maxGroupAwait bounds how long a membership change waits for this
// node's own view to show it.
const maxGroupAwait = time.Second

// awaitGroup waits, bounded, until the applier has applied this node's
// own write of an open-group key (k.group set): so that right after
// EnterGroup or LeaveGroup this node's GroupSize and GroupNodes include
// it, as a single node's would. Presence keys (k.group "") return at
// once.
func (b *Bus) awaitGroup(ctx context.Context, k regKey, node cluster.Node, in bool) {
	if k.group == "" {
		return
	}
	gk := groupKey{k.app, k.group}
	b.awaitView(ctx, func() bool {
		_, has := b.pres.groups.peers[gk][k.peer][node]
		return has == in
	})
}

// awaitView waits, at most maxGroupAwait, until cond (called with
// presence.mu read-locked) holds for the applied view. The write it waits
// for succeeded: should the wait time out, the view shows it later.
func (b *Bus) awaitView(ctx context.Context, cond func() bool) {
	ctx, cancel := context.WithTimeout(ctx, maxGroupAwait)
	defer cancel()
	for {
		b.pres.mu.RLock()
		ok := cond()
		moved := b.pres.moved
		b.pres.mu.RUnlock()
		if ok {
			return
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return
		case <-b.ctx.Done():
			return
		}
	}
}

func rejoinKeyName(app, peer string) string {
	return "r." + cluster.Token(app) + "." + cluster.Token(peer)
}

func parseRejoinKey(key string) (peerKey, bool) {
	parts := strings.Split(key, ".")
	if len(parts) != 3 || parts[0] != "r" {
		return peerKey{}, false
	}
	app, err1 := cluster.FromToken(parts[1])
	peer, err2 := cluster.FromToken(parts[2])
	if err1 != nil || err2 != nil {
		return peerKey{}, false
	}
	return peerKey{app, peer}, true
}

// rejoinDeleteTTL is the life of a rejoin record's delete: long enough
// for every watcher to apply it, after which the server's marker (kept a
// minute) replaces it, so that dropped records leave nothing behind.
const rejoinDeleteTTL = 2 * time.Second

// KeepRejoin implements cluster.Rejoins. It returns once this node's
// view holds the record (DropRejoin: once it does not).
func (b *Bus) KeepRejoin(ctx context.Context, app, peer, group string, ttl time.Duration) error {
	ttl = max(ttl.Round(time.Second), time.Second)
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	if _, err := b.js.Publish(ctx, "$KV."+LeasesBucket+"."+rejoinKeyName(app, peer), []byte(group), jetstream.WithMsgTTL(ttl)); err != nil {
		b.m.KVErrors.Inc()
		return unavailable(err)
	}
	b.m.PresenceKV.WithLabelValues("rejoin").Inc()
	k := peerKey{app, peer}
	b.awaitView(ctx, func() bool { return b.pres.groups.rejoin[k] == group })
	return nil
}

// DropRejoin implements cluster.Rejoins: a delete that itself expires
// (a plain KV delete would stay in the bucket for good). It writes
// nothing when this node knows of no record for the peer.
func (b *Bus) DropRejoin(ctx context.Context, app, peer string) error {
	if b.Rejoin(app, peer) == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	m := nats.NewMsg("$KV." + LeasesBucket + "." + rejoinKeyName(app, peer))
	m.Header.Set("KV-Operation", "DEL")
	if _, err := b.js.PublishMsg(ctx, m, jetstream.WithMsgTTL(rejoinDeleteTTL)); err != nil {
		b.m.KVErrors.Inc()
		return unavailable(err)
	}
	b.m.PresenceKV.WithLabelValues("rejoin").Inc()
	k := peerKey{app, peer}
	b.awaitView(ctx, func() bool { return b.pres.groups.rejoin[k] == "" })
	return nil
}

// Rejoin implements cluster.Rejoins.
func (b *Bus) Rejoin(app, peer string) string {
	b.pres.mu.RLock()
	g := b.pres.groups.rejoin[peerKey{app, peer}]
	b.pres.mu.RUnlock()
	return g
}

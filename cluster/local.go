package cluster

import (
	"context"
	"hash/maphash"
	"sync"
)

// Local is an in-process cluster: every node lives in this process. A
// single-node server is a Local with one node; tests build several hubs
// on one Local. Presence transitions are decided and handed to every
// node's watcher under one lock per peer stripe, so they reach every node
// in the same order.
type Local struct {
	seed    maphash.Seed
	stripes [localStripes]localStripe

	mu    sync.RWMutex
	nodes map[Node]*LocalNode // guarded by mu

	gmu     sync.Mutex
	groups  localGroups             // guarded by gmu; nil until the first EnterGroup
	rejoins map[peerKey]localRejoin // guarded by gmu; nil until the first KeepRejoin
}

const localStripes = 64

type localStripe struct {
	mu    sync.Mutex
	peers map[peerKey]*localPeer // guarded by mu
}

type peerKey struct{ app, peer string }

// localPeer is one peer's registrations: a count per node.
type localPeer struct {
	count map[Node]int
}

// NewLocal returns an empty in-process cluster.
func NewLocal() *Local {
	l := &Local{seed: maphash.MakeSeed(), nodes: make(map[Node]*LocalNode)}
	for i := range l.stripes {
		l.stripes[i].peers = make(map[peerKey]*localPeer)
	}
	return l
}

// Node returns the node named name, creating it on first use.
func (l *Local) Node(name Node) *LocalNode {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.nodes[name]
	if n == nil {
		n = &LocalNode{net: l, self: name}
		l.nodes[name] = n
	}
	return n
}

// Crash takes the node out of its cluster as if it had crashed: its
// registrations go (off for peers it alone held) and it is no longer
// reachable.
func (n *LocalNode) Crash() { n.net.remove(n.self) }

func (l *Local) remove(name Node) {
	l.mu.Lock()
	delete(l.nodes, name)
	l.mu.Unlock()
	l.dropGroupsOf(name)
	for i := range l.stripes {
		st := &l.stripes[i]
		st.mu.Lock()
		for k, p := range st.peers {
			if _, ok := p.count[name]; !ok {
				continue
			}
			before := p.online()
			delete(p.count, name)
			if len(p.count) == 0 {
				delete(st.peers, k)
			}
			if before && !p.online() {
				l.emit(Transition{App: k.app, Peer: k.peer})
			}
		}
		st.mu.Unlock()
	}
}

func (l *Local) node(name Node) *LocalNode {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.nodes[name]
}

func (l *Local) stripe(k peerKey) *localStripe {
	var h maphash.Hash
	h.SetSeed(l.seed)
	h.WriteString(k.app)
	h.WriteByte(0)
	h.WriteString(k.peer)
	return &l.stripes[h.Sum64()%localStripes]
}

// emit hands t to every node's watcher; called with t's stripe held.
func (l *Local) emit(t Transition) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, n := range l.nodes {
		n.mu.Lock()
		fn := n.watch
		n.mu.Unlock()
		if fn != nil {
			fn(t)
		}
	}
}

// LocalNode is one node of a Local; it implements Deliverer, Presence,
// OpenGroups, Rejoins and Forwarder.
type LocalNode struct {
	net  *Local
	self Node

	mu      sync.Mutex
	deliver func(*Delivery)                               // guarded by mu
	watch   func(Transition)                              // guarded by mu
	serve   func(context.Context, []byte) ([]byte, error) // guarded by mu
}

var (
	_ Deliverer = (*LocalNode)(nil)
	_ Presence  = (*LocalNode)(nil)
	_ Forwarder = (*LocalNode)(nil)
)

// Self implements Deliverer and Forwarder.
func (n *LocalNode) Self() Node { return n.self }

// Deliver implements Deliverer: the target's handler runs in the caller's
// goroutine.
func (n *LocalNode) Deliver(_ context.Context, to Node, d *Delivery) error {
	t := n.net.node(to)
	if t == nil {
		return ErrNoNode
	}
	t.mu.Lock()
	fn := t.deliver
	t.mu.Unlock()
	if fn == nil {
		return ErrNoNode
	}
	fn(d)
	return nil
}

// Subscribe implements Deliverer.
func (n *LocalNode) Subscribe(fn func(*Delivery)) (func(), error) {
	n.mu.Lock()
	n.deliver = fn
	n.mu.Unlock()
	return func() {
		n.mu.Lock()
		n.deliver = nil
		n.mu.Unlock()
	}, nil
}

// Register implements Presence. A peer's first registration anywhere
// emits its on transition to every node before Register returns.
func (n *LocalNode) Register(_ context.Context, app, peer string) error {
	n.add(app, peer, 1)
	return nil
}

// Unregister implements Presence.
func (n *LocalNode) Unregister(_ context.Context, app, peer string) error {
	n.add(app, peer, -1)
	return nil
}

// add changes this node's count for (app, peer) by d and emits the
// transition, if any, under the peer's stripe.
func (n *LocalNode) add(app, peer string, d int) {
	k := peerKey{app, peer}
	st := n.net.stripe(k)
	st.mu.Lock()
	defer st.mu.Unlock()
	p := st.peers[k]
	if p == nil {
		p = &localPeer{count: make(map[Node]int, 1)}
		st.peers[k] = p
	}
	before := p.online()
	p.count[n.self] += d
	if p.count[n.self] == 0 {
		delete(p.count, n.self)
	}
	after := p.online()
	if len(p.count) == 0 {
		delete(st.peers, k)
	}
	if before != after {
		n.net.emit(Transition{App: app, Peer: peer, Online: after})
	}
}

// online reports whether some node holds a session of the peer (a
// negative count is an Unregister that overtook its Register).
func (p *localPeer) online() bool {
	for _, c := range p.count {
		if c > 0 {
			return true
		}
	}
	return false
}

// Nodes implements Presence.
func (n *LocalNode) Nodes(dst []Node, app, peer string) []Node {
	k := peerKey{app, peer}
	st := n.net.stripe(k)
	st.mu.Lock()
	if p := st.peers[k]; p != nil {
		for node, c := range p.count {
			if c > 0 {
				dst = append(dst, node)
			}
		}
	}
	st.mu.Unlock()
	return dst
}

// Online implements Presence.
func (n *LocalNode) Online(app, peer string) bool {
	k := peerKey{app, peer}
	st := n.net.stripe(k)
	st.mu.Lock()
	p := st.peers[k]
	on := p != nil && p.online()
	st.mu.Unlock()
	return on
}

// Watch implements Presence.
func (n *LocalNode) Watch(fn func(Transition)) func() {
	n.mu.Lock()
	n.watch = fn
	n.mu.Unlock()
	return func() {
		n.mu.Lock()
		n.watch = nil
		n.mu.Unlock()
	}
}

// Request implements Forwarder: the target's handler runs in the caller's
// goroutine.
func (n *LocalNode) Request(ctx context.Context, to Node, req []byte) ([]byte, error) {
	t := n.net.node(to)
	if t == nil {
		return nil, ErrNoNode
	}
	t.mu.Lock()
	fn := t.serve
	t.mu.Unlock()
	if fn == nil {
		return nil, ErrNoNode
	}
	return fn(ctx, req)
}

// Serve implements Forwarder.
func (n *LocalNode) Serve(fn func(context.Context, []byte) ([]byte, error)) (func(), error) {
	n.mu.Lock()
	n.serve = fn
	n.mu.Unlock()
	return func() {
		n.mu.Lock()
		n.serve = nil
		n.mu.Unlock()
	}, nil
}

package cluster

import (
	"context"
	"time"
)

// groupKey names an open group of an app.
type groupKey struct{ app, group string }

// localGroups is a Local's open-group registry: for each open group, each
// member peer's session count per node. Guarded by Local.gmu.
type localGroups map[groupKey]map[string]map[Node]int

var _ OpenGroups = (*LocalNode)(nil)

// EnterGroup implements OpenGroups.
func (n *LocalNode) EnterGroup(_ context.Context, app, group, peer string) error {
	n.net.groupAdd(n.self, groupKey{app, group}, peer, 1)
	return nil
}

// LeaveGroup implements OpenGroups.
func (n *LocalNode) LeaveGroup(_ context.Context, app, group, peer string) error {
	n.net.groupAdd(n.self, groupKey{app, group}, peer, -1)
	return nil
}

func (l *Local) groupAdd(node Node, k groupKey, peer string, d int) {
	l.gmu.Lock()
	defer l.gmu.Unlock()
	if l.groups == nil {
		l.groups = localGroups{}
	}
	peers := l.groups[k]
	if peers == nil {
		peers = map[string]map[Node]int{}
		l.groups[k] = peers
	}
	nodes := peers[peer]
	if nodes == nil {
		nodes = map[Node]int{}
		peers[peer] = nodes
	}
	nodes[node] += d
	if nodes[node] == 0 {
		delete(nodes, node)
	}
	if len(nodes) == 0 {
		delete(peers, peer)
	}
	if len(peers) == 0 {
		delete(l.groups, k)
	}
}

// GroupNodes implements OpenGroups.
func (n *LocalNode) GroupNodes(dst []Node, app, group string) []Node {
	l := n.net
	l.gmu.Lock()
	defer l.gmu.Unlock()
	seen := len(dst)
	for _, nodes := range l.groups[groupKey{app, group}] {
		for node, c := range nodes {
			if c > 0 && !containsNode(dst[seen:], node) {
				dst = append(dst, node)
			}
		}
	}
	return dst
}

func containsNode(ns []Node, n Node) bool {
	for _, x := range ns {
		if x == n {
			return true
		}
	}
	return false
}

// GroupSize implements OpenGroups.
func (n *LocalNode) GroupSize(app, group string) int {
	l := n.net
	l.gmu.Lock()
	defer l.gmu.Unlock()
	size := 0
	for _, nodes := range l.groups[groupKey{app, group}] {
		for _, c := range nodes {
			if c > 0 {
				size++
				break
			}
		}
	}
	return size
}

// dropGroupsOf forgets a crashed node's open-group members.
func (l *Local) dropGroupsOf(node Node) {
	l.gmu.Lock()
	defer l.gmu.Unlock()
	for k, peers := range l.groups {
		for p, nodes := range peers {
			delete(nodes, node)
			if len(nodes) == 0 {
				delete(peers, p)
			}
		}
		if len(peers) == 0 {
			delete(l.groups, k)
		}
	}
}

// localRejoin is a Local's record of a peer's open group to rejoin.
type localRejoin struct {
	group string
	until time.Time
}

var _ Rejoins = (*LocalNode)(nil)

// KeepRejoin implements Rejoins.
func (n *LocalNode) KeepRejoin(_ context.Context, app, peer, group string, ttl time.Duration) error {
	l := n.net
	l.gmu.Lock()
	defer l.gmu.Unlock()
	if l.rejoins == nil {
		l.rejoins = map[peerKey]localRejoin{}
	}
	l.rejoins[peerKey{app, peer}] = localRejoin{group, time.Now().Add(ttl)}
	return nil
}

// DropRejoin implements Rejoins.
func (n *LocalNode) DropRejoin(_ context.Context, app, peer string) error {
	l := n.net
	l.gmu.Lock()
	defer l.gmu.Unlock()
	delete(l.rejoins, peerKey{app, peer})
	return nil
}

// Rejoin implements Rejoins.
func (n *LocalNode) Rejoin(app, peer string) string {
	l := n.net
	l.gmu.Lock()
	defer l.gmu.Unlock()
	r, ok := l.rejoins[peerKey{app, peer}]
	if !ok || !time.Now().Before(r.until) {
		delete(l.rejoins, peerKey{app, peer})
		return ""
	}
	return r.group
}

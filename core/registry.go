package core

import (
	"hash/maphash"
	"sync"

	"github.com/rtgate/rtgate/protocol"
)

const registryShards = 64

// registry maps (app, peer) to the peer's open sessions on this node and to
// the sessions watching it. It is sharded by peer; each shard has its own
// mutex and a shard is never held while another is taken.
type registry struct {
	seed   maphash.Seed
	shards [registryShards]registryShard
}

type registryShard struct {
	mu    sync.Mutex
	peers map[peerKey]*peerEntry // guarded by mu
}

type peerKey struct{ app, peer string }

// peerEntry exists while the peer has sessions or watchers.
type peerEntry struct {
	sessions []*session            // open sessions of the peer, any connection
	watchers map[*session]struct{} // sessions whose watch set holds the peer
}

func newRegistry() *registry {
	r := &registry{seed: maphash.MakeSeed()}
	for i := range r.shards {
		r.shards[i].peers = make(map[peerKey]*peerEntry)
	}
	return r
}

func (r *registry) shard(k peerKey) *registryShard {
	var h maphash.Hash
	h.SetSeed(r.seed)
	h.WriteString(k.app)
	h.WriteByte(0)
	h.WriteString(k.peer)
	return &r.shards[h.Sum64()%registryShards]
}

func (sh *registryShard) entry(k peerKey) *peerEntry {
	e := sh.peers[k]
	if e == nil {
		e = &peerEntry{}
		sh.peers[k] = e
	}
	return e
}

func (sh *registryShard) gc(k peerKey, e *peerEntry) {
	if len(e.sessions) == 0 && len(e.watchers) == 0 {
		delete(sh.peers, k)
	}
}

// presence writes one presence event about peer to every watcher. Called
// with the peer's shard held, so events leave in transition order.
func presence(e *peerEntry, peer string, st protocol.Status, note func(error)) {
	if len(e.watchers) == 0 {
		return
	}
	cmd := protocol.Command{Kind: protocol.KindPresence, Status: st, SessionPeerIDs: []string{peer}}
	for w := range e.watchers {
		cmd.PeerID = w.peer
		if err := w.push(&cmd); err != nil {
			note(err)
		}
	}
}

// attach registers s as an open session of its peer and reports presence
// "on" to the peer's watchers if it is the peer's first session.
func (r *registry) attach(s *session, note func(error)) {
	k := peerKey{s.app.ID, s.peer}
	sh := r.shard(k)
	sh.mu.Lock()
	e := sh.entry(k)
	e.sessions = append(e.sessions, s)
	if len(e.sessions) == 1 {
		presence(e, s.peer, protocol.StatusOn, note)
	}
	sh.mu.Unlock()
}

// detach removes s from its peer's sessions and reports presence "off" if
// it was the last one.
func (r *registry) detach(s *session, note func(error)) {
	k := peerKey{s.app.ID, s.peer}
	sh := r.shard(k)
	sh.mu.Lock()
	if e := sh.peers[k]; e != nil {
		for i, x := range e.sessions {
			if x == s {
				last := len(e.sessions) - 1
				e.sessions[i] = e.sessions[last]
				e.sessions[last] = nil
				e.sessions = e.sessions[:last]
				if last == 0 {
					e.sessions = nil
					presence(e, s.peer, protocol.StatusOff, note)
				}
				break
			}
		}
		sh.gc(k, e)
	}
	sh.mu.Unlock()
}

// watch adds s to the watchers of peer and reports whether peer is online.
func (r *registry) watch(s *session, peer string) (online bool) {
	k := peerKey{s.app.ID, peer}
	sh := r.shard(k)
	sh.mu.Lock()
	e := sh.entry(k)
	if e.watchers == nil {
		e.watchers = make(map[*session]struct{})
	}
	e.watchers[s] = struct{}{}
	online = len(e.sessions) > 0
	sh.mu.Unlock()
	return online
}

// unwatch removes s from the watchers of peer.
func (r *registry) unwatch(s *session, peer string) {
	k := peerKey{s.app.ID, peer}
	sh := r.shard(k)
	sh.mu.Lock()
	if e := sh.peers[k]; e != nil {
		delete(e.watchers, s)
		sh.gc(k, e)
	}
	sh.mu.Unlock()
}

// online reports whether peer has an open session on this node.
func (r *registry) online(app, peer string) bool {
	k := peerKey{app, peer}
	sh := r.shard(k)
	sh.mu.Lock()
	e := sh.peers[k]
	on := e != nil && len(e.sessions) > 0
	sh.mu.Unlock()
	return on
}

// sessions appends the open sessions of peer to dst.
func (r *registry) sessions(dst []*session, app, peer string) []*session {
	k := peerKey{app, peer}
	sh := r.shard(k)
	sh.mu.Lock()
	if e := sh.peers[k]; e != nil {
		dst = append(dst, e.sessions...)
	}
	sh.mu.Unlock()
	return dst
}

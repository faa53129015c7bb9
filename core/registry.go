package core

import (
	"hash/maphash"
	"sync"
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
	trans uint64                 // transitions seen for the shard's peers; guarded by mu
}

type peerKey struct{ app, peer string }

// peerEntry exists while the peer has sessions or watchers.
type peerEntry struct {
	sessions []*session            // open sessions of the peer, any connection
	watchers map[*session]struct{} // sessions whose watch set holds the peer
	// online mirrors the peer's cluster-wide state as of the last
	// transition written to the watchers; valid when known.
	online, known bool
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

// attach registers s as an open session of its peer and reports whether
// it is the peer's first session on this node.
func (r *registry) attach(s *session) (first bool) {
	k := peerKey{s.app.ID, s.peer}
	sh := r.shard(k)
	sh.mu.Lock()
	e := sh.entry(k)
	e.sessions = append(e.sessions, s)
	first = len(e.sessions) == 1
	sh.mu.Unlock()
	return first
}

// detach removes s from its peer's sessions and reports whether it was the
// peer's last session on this node.
func (r *registry) detach(s *session) (last bool) {
	k := peerKey{s.app.ID, s.peer}
	sh := r.shard(k)
	sh.mu.Lock()
	if e := sh.peers[k]; e != nil {
		for i, x := range e.sessions {
			if x == s {
				n := len(e.sessions) - 1
				e.sessions[i] = e.sessions[n]
				e.sessions[n] = nil
				e.sessions = e.sessions[:n]
				if n == 0 {
					e.sessions = nil
					last = true
				}
				break
			}
		}
		sh.gc(k, e)
	}
	sh.mu.Unlock()
	return last
}

// transition records peer's cluster-wide state and appends its watchers
// to dst: the events for them are written after the shard is released.
func (r *registry) transition(dst []*session, app, peer string, online bool) []*session {
	k := peerKey{app, peer}
	sh := r.shard(k)
	sh.mu.Lock()
	sh.trans++
	if e := sh.peers[k]; e != nil {
		e.online, e.known = online, true
		for w := range e.watchers {
			dst = append(dst, w)
		}
	}
	sh.mu.Unlock()
	return dst
}

// watch adds s to the watchers of peer and returns peer's state as of that
// moment: every later transition is written to s. lookup reads the state
// from the cluster.Presence when the registry has no mirror of it yet; it
// is called without the shard held, and again if a transition of the
// shard came meanwhile (a few times at most).
func (r *registry) watch(s *session, peer string, lookup func() bool) (online bool) {
	k := peerKey{s.app.ID, peer}
	sh := r.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for try := 0; ; try++ {
		e := sh.entry(k)
		if !e.known {
			seen := sh.trans
			sh.mu.Unlock()
			on := lookup()
			sh.mu.Lock()
			e = sh.entry(k)
			if !e.known && (sh.trans == seen || try >= 4) {
				e.online, e.known = on, true
			}
		}
		if !e.known {
			continue
		}
		if e.watchers == nil {
			e.watchers = make(map[*session]struct{})
		}
		e.watchers[s] = struct{}{}
		return e.online
	}
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

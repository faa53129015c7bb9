package opsview

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// KickRequest asks a node to close a peer's connections or sessions. It
// travels on the node's control subject (cluster/natsbus.ControlSubject),
// sent only to the nodes that hold the peer.
type KickRequest struct {
	Op     string `json:"op"` // OpKick; a node refuses any other
	App    string `json:"app"`
	Peer   string `json:"peer"`
	Reason string `json:"reason,omitempty"` // the close reason the client sees
	// Session ends the peer's sessions only: the connections stay open
	// for their other sessions (each ended session gets a `session
	// closed` push). False closes every connection holding a session of
	// the peer.
	Session bool `json:"session,omitempty"`
	// Addr, when set, picks the one connection from this client address
	// (ip:port, as the node saw it; Closed.Addr tells it): a single
	// session with Session, that connection without.
	Addr string `json:"addr,omitempty"`
}

// The control requests: a kick, or a listing of the peer's sessions
// (which closes nothing; its answer has Sessions).
const (
	OpKick     = "kick"
	OpSessions = "sessions"
)

// Session is one open session of the peer, as a listing shows it.
type Session struct {
	Peer      string `json:"peer"`
	Transport string `json:"transport"`
	Addr      string `json:"addr"`   // the client's address: what KickRequest.Addr picks
	Modern    bool   `json:"modern"` // a session close ends it alone (a legacy connection closes)
}

// Closed is one thing a kick closed.
type Closed struct {
	Peer      string `json:"peer"`
	Transport string `json:"transport"`
	Addr      string `json:"addr"` // the client's address
	// Connection: the whole connection was closed (with every session it
	// held); false: only the peer's session, the connection stays open.
	Connection bool `json:"connection"`
}

// KickReply is one node's answer.
type KickReply struct {
	Node   string   `json:"node"`
	Closed []Closed `json:"closed"`
	// Sessions answers OpSessions.
	Sessions []Session `json:"sessions,omitempty"`
	// Error says why the node did not answer (gone since the presence
	// view was read, a timeout); Closed is then empty.
	Error string `json:"error,omitempty"`
}

// Totals counts the connections and the sessions alone that replies
// closed.
func Totals(replies []KickReply) (connections, sessions int) {
	for _, r := range replies {
		for _, c := range r.Closed {
			if c.Connection {
				connections++
			} else {
				sessions++
			}
		}
	}
	return connections, sessions
}

// Check returns an error saying what rq lacks.
func (rq *KickRequest) Check() error {
	switch {
	case rq.Op != OpKick && rq.Op != OpSessions:
		return fmt.Errorf("opsview: unknown control request %q", rq.Op)
	case rq.App == "" || rq.Peer == "":
		return errors.New("opsview: kick needs an app and a peer")
	}
	return nil
}

// HandleKick returns a node's control request handler (for
// natsbus.Bus.ServeControl) that answers kicks with kick's result and
// listings with list's, signed with node() (the node's current
// incarnation).
func HandleKick(node func() string, kick func(KickRequest) []Closed, list func(app, peer string) []Session) func(context.Context, []byte) ([]byte, error) {
	return func(_ context.Context, b []byte) ([]byte, error) {
		var rq KickRequest
		if err := json.Unmarshal(b, &rq); err != nil {
			return nil, fmt.Errorf("opsview: bad control request: %w", err)
		}
		if err := rq.Check(); err != nil {
			return nil, err
		}
		r := KickReply{Node: node(), Closed: []Closed{}}
		if rq.Op == OpSessions {
			r.Sessions = list(rq.App, rq.Peer)
		} else if closed := kick(rq); closed != nil {
			r.Closed = closed
		}
		return json.Marshal(r)
	}
}

// Kick sends rq to each of nodes through send (a request on that node's
// control subject), concurrently, and returns their answers sorted by
// node. A node that does not answer gets a reply with its Error. rq.Op
// empty means OpKick.
func Kick(ctx context.Context, nodes []string, rq KickRequest, send func(ctx context.Context, node string, req []byte) ([]byte, error)) ([]KickReply, error) {
	if rq.Op == "" {
		rq.Op = OpKick
	}
	if err := rq.Check(); err != nil {
		return nil, err
	}
	b, _ := json.Marshal(rq) // strings and bools always encode
	out := make([]KickReply, len(nodes))
	var wg sync.WaitGroup
	for i, node := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = KickReply{Node: node}
			rep, err := send(ctx, node, b)
			if err == nil {
				err = json.Unmarshal(rep, &out[i])
			}
			if err != nil {
				out[i] = KickReply{Node: node, Error: err.Error()}
			}
			if out[i].Closed == nil {
				out[i].Closed = []Closed{}
			}
		}()
	}
	wg.Wait()
	slices.SortFunc(out, func(a, b KickReply) int { return strings.Compare(a.Node, b.Node) })
	return out, nil
}

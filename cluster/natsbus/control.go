package natsbus

import (
	"context"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtgate/rtgate/cluster"
)

// ControlSubject is node n's control subject: the operator's requests to
// that node (kick a peer, close a session), request/reply.
func ControlSubject(n cluster.Node) string { return "rt.n." + string(n) + ".ctl" }

// ServeControl sets the handler of the requests on this node's control
// subject, replacing any earlier one; it follows the node into a new
// incarnation. Each request runs in its own goroutine, owned by the Bus.
// stop removes it.
func (b *Bus) ServeControl(fn func(context.Context, []byte) ([]byte, error)) (stop func(), err error) {
	b.subMu.Lock()
	defer b.subMu.Unlock()
	b.onCtl = fn
	if err := b.subscribeLocked(b.Self()); err != nil {
		return nil, err
	}
	return func() {
		b.subMu.Lock()
		defer b.subMu.Unlock()
		b.onCtl = nil
		if b.ctlSub != nil {
			b.ctlSub.Unsubscribe()
			b.ctlSub = nil
		}
	}, nil
}

// Control sends req to node to's control subject over nc and returns its
// handler's reply; cluster.ErrNoNode when no node answers there. Any NATS
// client may call it (the `rtgate cluster` command does).
func Control(ctx context.Context, nc *nats.Conn, to cluster.Node, req []byte) ([]byte, error) {
	return request(ctx, nc, ControlSubject(to), to, req)
}

// PeerNodes reads, from the presence buckets over nc, the live nodes that
// hold a session of (app, peer): those with a key p.<app>.<peer>.<node>
// (PeersBucket) whose lease n.<node> (LeasesBucket) is present. A node keeps the same view in memory
// (Bus.Nodes); this is for clients that run no Bus.
func PeerNodes(ctx context.Context, nc *nats.Conn, app, peer string) ([]cluster.Node, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	kv, err := js.KeyValue(ctx, PeersBucket)
	if err != nil {
		return nil, fmt.Errorf("natsbus: presence bucket %s: %w", PeersBucket, err)
	}
	leases, err := js.KeyValue(ctx, LeasesBucket)
	if err != nil {
		return nil, fmt.Errorf("natsbus: presence bucket %s: %w", LeasesBucket, err)
	}
	prefix := "p." + cluster.Token(app) + "." + cluster.Token(peer) + "."
	keys, err := kv.ListKeysFiltered(ctx, prefix+"*")
	if err != nil {
		return nil, fmt.Errorf("natsbus: presence keys: %w", err)
	}
	var out []cluster.Node
	seen := map[cluster.Node]bool{}
	for k := range keys.Keys() {
		node := cluster.Node(strings.TrimPrefix(k, prefix))
		if seen[node] {
			continue // a listing may repeat a key
		}
		seen[node] = true
		if _, err := leases.Get(ctx, leaseKey(node)); err == nil {
			out = append(out, node)
		}
	}
	return out, ctx.Err()
}

package opsview

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Subject returns the status subject of namespace ns ("" means "rt").
func Subject(ns string) string {
	if ns == "" {
		ns = "rt"
	}
	return ns + ".svc.status"
}

// Node is one node's own report.
type Node struct {
	Name        string    `json:"name"`        // --node-name
	Incarnation string    `json:"incarnation"` // this run's node id
	Connections int       `json:"connections"` // open client connections
	Sessions    int       `json:"sessions"`    // open (connection, peer) sessions: its online peers
	Indexer     bool      `json:"historyIndexer"`
	IndexerLag  int       `json:"historyIndexerLag,omitempty"` // history messages not applied yet
	Started     time.Time `json:"started"`
}

// Replica is one server's copy of an asset.
type Replica struct {
	Server  string `json:"server"`
	Current bool   `json:"current"`
	Lag     uint64 `json:"lag"` // operations behind the leader
}

// Consumer is a durable consumer of an asset.
type Consumer struct {
	Name       string `json:"name"`
	Pending    uint64 `json:"pending"`    // messages not delivered yet
	AckPending int    `json:"ackPending"` // delivered, not acknowledged
}

// Asset is one stream (a KV bucket is a stream KV_<bucket>).
type Asset struct {
	Name      string     `json:"name"`
	Replicas  int        `json:"replicas"`
	Leader    string     `json:"leader"`
	Messages  uint64     `json:"messages"`
	Bytes     uint64     `json:"bytes"`
	Followers []Replica  `json:"followers"`
	Consumers []Consumer `json:"consumers,omitempty"`
	Error     string     `json:"error,omitempty"`
}

// Status is the cluster as Collect saw it.
type Status struct {
	Nodes  []Node  `json:"nodes"`
	Assets []Asset `json:"assets"`
}

// Serve answers status requests on nc with report(). Unsubscribe the
// returned subscription to stop.
func Serve(nc *nats.Conn, ns string, report func() Node) (*nats.Subscription, error) {
	return nc.Subscribe(Subject(ns), func(m *nats.Msg) {
		b, _ := json.Marshal(report()) // plain fields always encode
		m.Respond(b)
	})
}

// Collect asks every node for its report, waiting wait for the answers,
// and reads the health of every stream of namespace ns (names starting
// with <NS>_ or KV_<NS>_).
func Collect(ctx context.Context, nc *nats.Conn, ns string, wait time.Duration) (Status, error) {
	if ns == "" {
		ns = "rt"
	}
	var st Status
	if err := gather(nc, Subject(ns), nil, wait, func(b []byte) {
		var n Node
		if json.Unmarshal(b, &n) == nil {
			st.Nodes = append(st.Nodes, n)
		}
	}); err != nil {
		return st, err
	}
	slices.SortFunc(st.Nodes, func(a, b Node) int { return strings.Compare(a.Name, b.Name) })

	js, err := jetstream.New(nc)
	if err != nil {
		return st, err
	}
	up := strings.ToUpper(ns) + "_"
	names := js.StreamNames(ctx)
	for name := range names.Name() {
		if !strings.HasPrefix(name, up) && !strings.HasPrefix(name, "KV_"+up) {
			continue
		}
		st.Assets = append(st.Assets, asset(ctx, js, name))
	}
	if err := names.Err(); err != nil {
		return st, fmt.Errorf("opsview: list streams: %w", err)
	}
	slices.SortFunc(st.Assets, func(a, b Asset) int { return strings.Compare(a.Name, b.Name) })
	return st, nil
}

func asset(ctx context.Context, js jetstream.JetStream, name string) Asset {
	a := Asset{Name: name}
	s, err := js.Stream(ctx, name)
	if err != nil {
		a.Error = err.Error()
		return a
	}
	info, err := s.Info(ctx)
	if err != nil {
		a.Error = err.Error()
		return a
	}
	a.Replicas, a.Messages, a.Bytes = info.Config.Replicas, info.State.Msgs, info.State.Bytes
	if c := info.Cluster; c != nil {
		a.Leader = c.Leader
		for _, p := range c.Replicas {
			a.Followers = append(a.Followers, Replica{Server: p.Name, Current: p.Current, Lag: p.Lag})
		}
	}
	cs := s.ListConsumers(ctx)
	for ci := range cs.Info() {
		if ci.Config.Durable == "" {
			continue
		}
		a.Consumers = append(a.Consumers, Consumer{Name: ci.Name, Pending: ci.NumPending, AckPending: ci.NumAckPending})
	}
	slices.SortFunc(a.Consumers, func(x, y Consumer) int { return strings.Compare(x.Name, y.Name) })
	return a
}

// Text writes st as the lines `rtgate cluster status` prints.
func (st Status) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "nodes: %d\n", len(st.Nodes))
	for _, n := range st.Nodes {
		fmt.Fprintf(&b, "  %-16s %-28s connections %d, sessions %d", n.Name, n.Incarnation, n.Connections, n.Sessions)
		if n.Indexer {
			fmt.Fprintf(&b, ", history indexer lag %d", n.IndexerLag)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "assets: %d\n", len(st.Assets))
	for _, a := range st.Assets {
		if a.Error != "" {
			fmt.Fprintf(&b, "  %-20s error: %s\n", a.Name, a.Error)
			continue
		}
		fmt.Fprintf(&b, "  %-20s R%d leader %s, %d messages", a.Name, a.Replicas, a.Leader, a.Messages)
		for _, r := range a.Followers {
			state := "current"
			if !r.Current {
				state = "catching up"
			}
			fmt.Fprintf(&b, "; %s %s lag %d", r.Server, state, r.Lag)
		}
		b.WriteByte('\n')
		for _, c := range a.Consumers {
			fmt.Fprintf(&b, "    consumer %-20s pending %d, unacked %d\n", c.Name, c.Pending, c.AckPending)
		}
	}
	return b.String()
}

// gather publishes data on subject with a reply inbox and calls fn with
// each answer that arrives within wait (every node answers once).
func gather(nc *nats.Conn, subject string, data []byte, wait time.Duration, fn func([]byte)) error {
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest(subject, inbox, data); err != nil {
		return err
	}
	deadline := time.Now().Add(wait)
	for {
		m, err := sub.NextMsg(time.Until(deadline))
		if errors.Is(err, nats.ErrTimeout) {
			return nil
		}
		if err != nil {
			return err
		}
		fn(m.Data)
	}
}

package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	dto "github.com/prometheus/client_model/go"

	"github.com/rtgate/rtgate/cluster"
	"github.com/rtgate/rtgate/cluster/natsbus"
	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/internal/config"
	"github.com/rtgate/rtgate/internal/opsview"
)

// statusWait is how long a status collection waits for the nodes' answers.
const statusWait = 500 * time.Millisecond

// statusPath is the operator's cluster status on the client port (master
// key); the admin listener serves it at /cluster/status.
const statusPath = "/1.1/rtm/cluster/status"

// serveStatus makes this node answer the cluster's status requests.
func (s *server) serveStatus(cfg *config.Config) error {
	n := s.cluster
	if n == nil {
		return nil
	}
	name := cfg.Cluster.Name
	if name == "" {
		name, _ = os.Hostname()
	}
	started := time.Now().UTC()
	sub, err := opsview.Serve(n.nc, "", func() opsview.Node {
		g := s.gauges("rtgate_connections", "rtgate_sessions", "rtgate_hist_indexer_lag_messages")
		return opsview.Node{Name: name, Incarnation: string(n.bus.Self()), Connections: int(g[0]), Sessions: int(g[1]),
			Indexer: n.hist != nil, IndexerLag: int(g[2]), Started: started}
	})
	if err != nil {
		return fmt.Errorf("cluster status: %w", err)
	}
	n.status = sub
	stop, err := n.bus.ServeControl(opsview.HandleKick(func() string { return string(n.bus.Self()) }, s.kick, s.sessions))
	if err != nil {
		return fmt.Errorf("cluster control subject: %w", err)
	}
	n.stopCtl = stop
	return nil
}

// kick carries out a kick on this node's hub.
func (s *server) kick(rq opsview.KickRequest) []opsview.Closed {
	reason := first(rq.Reason, "kicked by the operator")
	var ks []core.Kicked
	if rq.Session {
		ks = s.hub.CloseSession(rq.App, rq.Peer, rq.Addr, reason)
	} else {
		ks = s.hub.Kick(rq.App, rq.Peer, rq.Addr, reason)
	}
	out := make([]opsview.Closed, len(ks))
	for i, k := range ks {
		out[i] = opsview.Closed{Peer: k.Peer, Transport: k.Transport, Addr: k.RemoteAddr, Connection: k.Connection}
	}
	return out
}

// sessions lists a peer's sessions on this node's hub.
func (s *server) sessions(app, peer string) []opsview.Session {
	var out []opsview.Session
	for _, si := range s.hub.Sessions(app, peer) {
		out = append(out, opsview.Session{Peer: si.Peer, Transport: si.Transport, Addr: si.RemoteAddr, Modern: si.Modern})
	}
	return out
}

// kickNodes sends rq to the nodes that hold its peer (names from nodes),
// each on its control subject over nc.
func kickNodes(ctx context.Context, nc *nats.Conn, nodes []cluster.Node, rq opsview.KickRequest) ([]opsview.KickReply, error) {
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = string(n)
	}
	ctx, cancel := context.WithTimeout(ctx, kickWait)
	defer cancel()
	return opsview.Kick(ctx, names, rq, func(ctx context.Context, node string, b []byte) ([]byte, error) {
		return natsbus.Control(ctx, nc, cluster.Node(node), b)
	})
}

// kickWait bounds a node's answer to a kick (its presence writes included).
const kickWait = 10 * time.Second

// kickPath closes a peer's connections, or its sessions alone, on the
// nodes that hold it (POST, the app's master key; ?peer=ID[&session=1]
// [&addr=IP:PORT][&reason=TEXT]); the admin listener serves it at
// /cluster/kick?app=ID&peer=ID...
const kickPath = "/1.1/rtm/cluster/kick"

// clusterKick answers kickPath (needKey) and /cluster/kick: each node's
// answer and the totals as JSON, {"nodes":[{"node":...,"closed":[{"peer":
// ...,"transport":...,"addr":...,"connection":bool}]}],"connections":N,
// "sessions":N}.
func (s *server) clusterKick(needKey bool) http.HandlerFunc {
	return s.clusterControl(needKey, opsview.OpKick, http.MethodPost)
}

// sessionsPath lists a peer's sessions on the nodes that hold it (GET,
// the app's master key; ?peer=ID); the admin listener serves it at
// /cluster/sessions?app=ID&peer=ID. The answer is {"nodes":[{"node":...,
// "closed":[],"sessions":[{"peer":...,"transport":...,"addr":...,
// "modern":bool}]}],"sessions":N}: each addr is what kickPath's addr picks.
const sessionsPath = "/1.1/rtm/cluster/sessions"

// clusterSessions answers sessionsPath (needKey) and /cluster/sessions.
func (s *server) clusterSessions(needKey bool) http.HandlerFunc {
	return s.clusterControl(needKey, opsview.OpSessions, http.MethodGet)
}

// clusterControl answers a control request op (method only) for the peer
// of the query, on this node alone or on the nodes of the cluster that
// hold it.
func (s *server) clusterControl(needKey bool, op, method string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		fail := func(code int, msg string) {
			w.WriteHeader(code)
			json.NewEncoder(w).Encode(map[string]any{"code": code, "error": msg})
		}
		q := r.URL.Query()
		rq := opsview.KickRequest{Op: op, App: q.Get("app"), Peer: q.Get("peer")}
		if op == opsview.OpKick {
			rq.Reason, rq.Addr = q.Get("reason"), q.Get("addr")
		}
		if needKey {
			rq.App = r.Header.Get("X-LC-Id")
			if !s.masterKey(r) {
				fail(http.StatusUnauthorized, "unauthorized: this needs the app's master key (X-LC-Id, X-LC-Key: <master key>,master)")
				return
			}
		}
		var err error
		if v := q.Get("session"); v != "" && op == opsview.OpKick {
			if rq.Session, err = strconv.ParseBool(v); err != nil {
				fail(http.StatusBadRequest, "session: want 1 or 0, true or false")
				return
			}
		}
		var replies []opsview.KickReply
		switch {
		case r.Method != method:
			fail(http.StatusMethodNotAllowed, method+" only")
			return
		case rq.App == "" || rq.Peer == "":
			fail(http.StatusBadRequest, "an app and a peer are required")
			return
		case s.cluster == nil && op == opsview.OpKick:
			replies = []opsview.KickReply{{Node: "local", Closed: s.kick(rq)}}
		case s.cluster == nil:
			replies = []opsview.KickReply{{Node: "local", Closed: []opsview.Closed{}, Sessions: s.sessions(rq.App, rq.Peer)}}
		default:
			replies, err = kickNodes(r.Context(), s.cluster.nc, s.cluster.bus.Nodes(nil, rq.App, rq.Peer), rq)
			if err != nil {
				fail(http.StatusServiceUnavailable, err.Error())
				return
			}
		}
		if op == opsview.OpSessions {
			n := 0
			for _, rp := range replies {
				n += len(rp.Sessions)
			}
			json.NewEncoder(w).Encode(map[string]any{"nodes": replies, "sessions": n})
			return
		}
		conns, sessions := opsview.Totals(replies)
		json.NewEncoder(w).Encode(map[string]any{"nodes": replies, "connections": conns, "sessions": sessions})
	}
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// gauges reads the current values of the named unlabelled gauges (0 for
// one not registered).
func (s *server) gauges(names ...string) []float64 {
	out := make([]float64, len(names))
	mfs, err := s.registry.Gather()
	if err != nil {
		return out
	}
	for _, mf := range mfs {
		for i, name := range names {
			if mf.GetName() == name && mf.GetType() == dto.MetricType_GAUGE && len(mf.GetMetric()) > 0 {
				out[i] = mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
	}
	return out
}

// clusterStatus answers GET /cluster/status (admin listener) and
// statusPath (client port, any app's master key): the cluster's nodes and
// JetStream assets as JSON.
func (s *server) clusterStatus(needKey bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if needKey && !s.masterKey(r) {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintln(w, `{"code":401,"error":"unauthorized: the cluster status needs an app's master key (X-LC-Id, X-LC-Key: <master key>,master)"}`)
			return
		}
		if s.cluster == nil {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintln(w, `{"code":404,"error":"not a cluster node"}`)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		st, err := opsview.Collect(ctx, s.cluster.nc, "", statusWait)
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(map[string]any{"code": 503, "error": err.Error()})
			return
		}
		json.NewEncoder(w).Encode(st)
	}
}

// masterKey reports whether r carries the master key of a configured app
// (X-LC-Id and X-LC-Key "<key>,master"); in dev mode (no apps) any.
func (s *server) masterKey(r *http.Request) bool {
	if len(s.apps) == 0 {
		return true
	}
	key, ok := strings.CutSuffix(r.Header.Get("X-LC-Key"), ",master")
	if !ok || key == "" {
		return false
	}
	for _, a := range s.apps {
		if a.ID == r.Header.Get("X-LC-Id") && a.MasterKey != "" &&
			subtle.ConstantTimeCompare([]byte(a.MasterKey), []byte(key)) == 1 {
			return true
		}
	}
	return false
}

// natsFlags are the NATS flags of the cluster subcommands.
type natsFlags struct{ urls, creds *string }

func addNATSFlags(fs *flag.FlagSet, getenv func(string) string) natsFlags {
	return natsFlags{
		urls:  fs.String("nats", getenv(config.EnvNATS), "nats-server URLs, comma-separated (env "+config.EnvNATS+")"),
		creds: fs.String("nats-creds", getenv(config.EnvNATSCreds), "NATS credentials file (env "+config.EnvNATSCreds+")"),
	}
}

// connect connects as the subcommand name.
func (f natsFlags) connect(name string) (*nats.Conn, error) {
	if *f.urls == "" {
		return nil, fmt.Errorf("%w: --nats URL is required", config.ErrInvalid)
	}
	opts := []nats.Option{nats.Name(name), nats.Timeout(10 * time.Second)}
	if *f.creds != "" {
		opts = append(opts, nats.UserCredentials(*f.creds))
	}
	nc, err := nats.Connect(*f.urls, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS %s: %w", *f.urls, err)
	}
	return nc, nil
}

// askPeerNodes runs a control subcommand (`rtgate cluster kick|sessions`):
// it parses args into rq (--app, --peer, the NATS flags and what
// moreFlags adds), then sends rq to the nodes that hold the peer, read
// from the presence buckets, and returns their answers.
func askPeerNodes(ctx context.Context, name string, args []string, stderr io.Writer, getenv func(string) string,
	rq *opsview.KickRequest, moreFlags func(*flag.FlagSet)) ([]opsview.KickReply, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	nf := addNATSFlags(fs, getenv)
	fs.StringVar(&rq.App, "app", "", "the app id")
	fs.StringVar(&rq.Peer, "peer", "", "the peer id")
	if moreFlags != nil {
		moreFlags(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if rq.App == "" || rq.Peer == "" {
		return nil, fmt.Errorf("%w: --app and --peer are required", config.ErrInvalid)
	}
	nc, err := nf.connect(name)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	nodes, err := natsbus.PeerNodes(ctx, nc, rq.App, rq.Peer)
	if err != nil {
		return nil, err
	}
	replies, err := kickNodes(ctx, nc, nodes, *rq)
	if err != nil {
		return nil, err
	}
	for _, r := range replies {
		if r.Error != "" {
			fmt.Fprintf(stderr, "%s: no answer: %s\n", r.Node, r.Error)
		}
	}
	return replies, nil
}

// runKick closes a peer's connections, or its sessions alone, on the
// nodes that hold it (`rtgate cluster kick`).
func runKick(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	rq := opsview.KickRequest{Op: opsview.OpKick}
	replies, err := askPeerNodes(ctx, "rtgate cluster kick", args, stderr, getenv, &rq, func(fs *flag.FlagSet) {
		fs.BoolVar(&rq.Session, "session", false, "end the peer's sessions only; their connections stay open for other peers' sessions")
		fs.StringVar(&rq.Addr, "addr", "", "only the connection from this client address (IP:PORT, as rtgate cluster sessions shows it)")
		fs.StringVar(&rq.Reason, "reason", "", "close reason the client sees (default: kicked by the operator)")
	})
	if err != nil {
		return err
	}
	for _, r := range replies {
		for _, c := range r.Closed {
			what := "session closed"
			if c.Connection {
				what = "connection closed"
			}
			fmt.Fprintf(stdout, "%s: %s %s of %s from %s\n", r.Node, c.Transport, what, c.Peer, c.Addr)
		}
	}
	conns, sessions := opsview.Totals(replies)
	fmt.Fprintf(stdout, "%d nodes held %s, %d connections closed, %d sessions closed\n", len(replies), rq.Peer, conns, sessions)
	return nil
}

// runSessions lists a peer's sessions on the nodes that hold it (`rtgate
// cluster sessions`): the addresses `rtgate cluster kick --addr` takes.
func runSessions(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	rq := opsview.KickRequest{Op: opsview.OpSessions}
	replies, err := askPeerNodes(ctx, "rtgate cluster sessions", args, stderr, getenv, &rq, nil)
	if err != nil {
		return err
	}
	n := 0
	for _, r := range replies {
		for _, ss := range r.Sessions {
			dialect := "legacy"
			if ss.Modern {
				dialect = "modern"
			}
			fmt.Fprintf(stdout, "%s: %s %s session of %s from %s\n", r.Node, ss.Transport, dialect, ss.Peer, ss.Addr)
			n++
		}
	}
	fmt.Fprintf(stdout, "%d nodes hold %s, %d sessions\n", len(replies), rq.Peer, n)
	return nil
}

// runStatus prints the cluster's status (`rtgate cluster status`).
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("rtgate cluster status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nf := addNATSFlags(fs, getenv)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	nc, err := nf.connect("rtgate cluster status")
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	st, err := opsview.Collect(ctx, nc, "", statusWait)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(st)
	}
	_, err = io.WriteString(stdout, st.Text())
	return err
}

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
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	dto "github.com/prometheus/client_model/go"

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
	n.kick, err = opsview.ServeKick(n.nc, "", string(n.bus.Self()), func(rq opsview.KickRequest) int {
		reason := rq.Reason
		if reason == "" {
			reason = "kicked by the operator"
		}
		return s.hub.Kick(rq.App, rq.Peer, reason)
	})
	if err != nil {
		return fmt.Errorf("cluster kick: %w", err)
	}
	return nil
}

// kickPath closes a peer's connections on every node (POST, the app's
// master key; ?peer=ID[&reason=TEXT]); the admin listener serves it at
// /cluster/kick?app=ID&peer=ID.
const kickPath = "/1.1/rtm/cluster/kick"

// clusterKick answers kickPath (needKey) and /cluster/kick: the nodes'
// answers as JSON, {"nodes":[{"node":...,"closed":N}],"closed":N}.
func (s *server) clusterKick(needKey bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		fail := func(code int, msg string) {
			w.WriteHeader(code)
			json.NewEncoder(w).Encode(map[string]any{"code": code, "error": msg})
		}
		rq := opsview.KickRequest{App: r.URL.Query().Get("app"), Peer: r.URL.Query().Get("peer"), Reason: r.URL.Query().Get("reason")}
		if needKey {
			rq.App = r.Header.Get("X-LC-Id")
			if !s.masterKey(r) {
				fail(http.StatusUnauthorized, "unauthorized: kicking needs the app's master key (X-LC-Id, X-LC-Key: <master key>,master)")
				return
			}
		}
		switch {
		case r.Method != http.MethodPost:
			fail(http.StatusMethodNotAllowed, "POST only")
			return
		case rq.App == "" || rq.Peer == "":
			fail(http.StatusBadRequest, "an app and a peer are required")
			return
		case s.cluster == nil:
			n := s.hub.Kick(rq.App, rq.Peer, first(rq.Reason, "kicked by the operator"))
			json.NewEncoder(w).Encode(map[string]any{"nodes": []opsview.KickReply{{Node: "local", Closed: n}}, "closed": n})
			return
		}
		replies, err := opsview.Kick(s.cluster.nc, "", rq, statusWait)
		if err != nil {
			fail(http.StatusServiceUnavailable, err.Error())
			return
		}
		total := 0
		for _, rp := range replies {
			total += rp.Closed
		}
		json.NewEncoder(w).Encode(map[string]any{"nodes": replies, "closed": total})
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

// runKick closes a peer's connections on every node (`rtgate cluster kick`).
func runKick(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("rtgate cluster kick", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nf := addNATSFlags(fs, getenv)
	var rq opsview.KickRequest
	fs.StringVar(&rq.App, "app", "", "the app id")
	fs.StringVar(&rq.Peer, "peer", "", "the peer id")
	fs.StringVar(&rq.Reason, "reason", "", "close reason the client sees (default: kicked by the operator)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if rq.App == "" || rq.Peer == "" {
		return fmt.Errorf("%w: --app and --peer are required", config.ErrInvalid)
	}
	nc, err := nf.connect("rtgate cluster kick")
	if err != nil {
		return err
	}
	defer nc.Close()
	replies, err := opsview.Kick(nc, "", rq, statusWait)
	if err != nil {
		return err
	}
	total := 0
	for _, r := range replies {
		total += r.Closed
		fmt.Fprintf(stdout, "%s: %d connections closed\n", r.Node, r.Closed)
	}
	fmt.Fprintf(stdout, "%d nodes answered, %d connections closed\n", len(replies), total)
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

package serverproc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"
)

// clusterStartTimeout is ClusterConfig.StartTimeout's default: a node
// listens only once the others' routes are up and JetStream has a meta
// leader.
const clusterStartTimeout = 90 * time.Second

// FreePorts returns n distinct loopback TCP ports that were free a moment
// ago (listened on with port 0, then closed). Another process can take one
// before it is used; callers that must not fail retry with new ports.
func FreePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("serverproc: pick a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Routes is the route plan of a loopback cluster of nats-servers: every
// server must know every route URL before any starts, so the ports are
// fixed in advance.
type Routes struct {
	// Ports holds server i's route port (127.0.0.1:Ports[i]).
	Ports []int
}

// NewRoutes picks n free route ports (FreePorts).
func NewRoutes(n int) (Routes, error) {
	ports, err := FreePorts(n)
	return Routes{Ports: ports}, err
}

// Addr returns server i's route listen address, 127.0.0.1:PORT.
func (r Routes) Addr(i int) string { return fmt.Sprintf("127.0.0.1:%d", r.Ports[i]) }

// URLs returns every server's route URL, nats-route://127.0.0.1:PORT.
func (r Routes) URLs() []string {
	urls := make([]string, len(r.Ports))
	for i := range r.Ports {
		urls[i] = "nats-route://" + r.Addr(i)
	}
	return urls
}

// EmbedArgs returns the rtgate flags that make node i run its embedded
// nats-server in this cluster: --nats-embed, --nats-listen natsListen
// (127.0.0.1:0 when the client port does not matter), --nats-cluster and
// --nats-routes.
func (r Routes) EmbedArgs(i int, natsListen string) []string {
	return []string{"--nats-embed", "--nats-listen", natsListen,
		"--nats-cluster", r.Addr(i), "--nats-routes", strings.Join(r.URLs(), ",")}
}

// ClusterConfig describes a cluster of rtgate binaries on loopback, each
// with an embedded JetStream nats-server routed to the others'.
type ClusterConfig struct {
	// Bin is the rtgate executable. Required.
	Bin string
	// Dir holds the nodes' data directories, Dir/node<i>. Required.
	Dir string
	// Nodes is how many nodes to start. Zero means 3.
	Nodes int
	// Routes is the route plan; it needs one port per node. Zero value:
	// NewRoutes picks free ports.
	Routes Routes
	// Name returns node i's --node-name. Nil means "node<i>".
	Name func(i int) string
	// Args returns node i's further flags, after --node-name and the
	// embedded nats-server's. Nil adds none.
	Args func(i int) []string
	// Log returns the writer of node i's output. Nil discards it.
	Log func(i int) io.Writer
	// StartTimeout bounds each node's wait for its listening line. Zero
	// means 90 s.
	StartTimeout time.Duration
}

// Cluster is a running cluster of rtgate binaries.
type Cluster struct {
	// Set by StartCluster, read-only afterwards.
	Nodes  []*Process // node i, listening
	Routes Routes     // the route plan the nodes use
}

// StartCluster spawns every node at once and waits until each listens.
// The nodes listen before the cluster has its JetStream quorum and every
// node's lease: WaitHealthy waits for that. When a node fails to start,
// StartCluster kills every node and returns the error.
func StartCluster(ctx context.Context, cfg ClusterConfig) (*Cluster, error) {
	n := cfg.Nodes
	if n <= 0 {
		n = 3
	}
	c := &Cluster{Routes: cfg.Routes}
	if c.Routes.Ports == nil {
		var err error
		if c.Routes, err = NewRoutes(n); err != nil {
			return nil, err
		}
	}
	if len(c.Routes.Ports) != n {
		return nil, fmt.Errorf("serverproc: %d route ports for %d nodes", len(c.Routes.Ports), n)
	}
	timeout := cfg.StartTimeout
	if timeout <= 0 {
		timeout = clusterStartTimeout
	}
	for i := range n {
		name := fmt.Sprint("node", i)
		if cfg.Name != nil {
			name = cfg.Name(i)
		}
		args := append([]string{"--node-name", name}, c.Routes.EmbedArgs(i, "127.0.0.1:0")...)
		if cfg.Args != nil {
			args = append(args, cfg.Args(i)...)
		}
		var log io.Writer
		if cfg.Log != nil {
			log = cfg.Log(i)
		}
		p, err := Spawn(Config{Bin: cfg.Bin, Data: filepath.Join(cfg.Dir, fmt.Sprint("node", i)), Args: args,
			Log: log, StartTimeout: timeout})
		if err != nil {
			c.Kill()
			return nil, fmt.Errorf("serverproc: node %d: %w", i, err)
		}
		c.Nodes = append(c.Nodes, p)
	}
	for i, p := range c.Nodes {
		if err := p.Ready(ctx); err != nil {
			c.Kill()
			return nil, fmt.Errorf("serverproc: node %d: %w", i, err)
		}
	}
	return c, nil
}

// WaitHealthy waits until every node's /healthz reports the cluster
// (WaitHealthy of each), or ctx ends.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	for i, p := range c.Nodes {
		if err := WaitHealthy(ctx, p.HTTPAddr); err != nil {
			return fmt.Errorf("serverproc: node %d: %w", i, err)
		}
	}
	return nil
}

// Kill kills every node with SIGKILL and waits for the exits.
func (c *Cluster) Kill() {
	for _, p := range c.Nodes {
		p.Kill()
	}
}

// WaitHealthy polls http://addr/healthz every 100 ms until it answers 200
// with "cluster":"ok" (a cluster node whose store and cluster bus both
// answer), or ctx ends; then the error wraps ErrNotHealthy and says the
// last answer.
func WaitHealthy(ctx context.Context, addr string) error {
	url := "http://" + addr + "/healthz"
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			var v map[string]any
			derr := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&v)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && derr == nil && v["cluster"] == "ok" {
				return nil
			}
			last = fmt.Sprintf("%s %v", resp.Status, v)
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s: %s", ErrNotHealthy, addr, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

package natsbus

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rtgate/rtgate/cluster"
)

// MinServerVersion is the oldest nats-server Open accepts: 2.15 brought
// group commit to R3 streams with sync_interval always, and the per-stream
// consumer limits the design relies on (scaleout.md section 3.4).
const MinServerVersion = "2.15.0"

// The presence buckets (docs/cluster.md, "Presence"). Versions before
// them used one bucket, RT_PRESENCE, which is no longer read or written.
const (
	// PeersBucket holds p.<app>.<peer>.<node> (a node holds the peer) and
	// x.<node> (the node incarnation is retired) keys; every node applies
	// its ordered watch.
	PeersBucket = "RT_PRESENCE_PEERS"
	// LeasesBucket holds the node leases n.<node>, with a per-key TTL.
	LeasesBucket = "RT_PRESENCE_LEASES"
)

// Config configures a Bus. Conn is required; the zero value of every other
// field is its documented default.
type Config struct {
	// Conn is the node's NATS connection, owned by the caller (closed
	// after Bus.Close). It should reconnect forever (MaxReconnects -1).
	Conn *nats.Conn
	// Name names the node in its incarnations; characters other than
	// letters, digits, '-' and '_' become '_'. Empty means the host name.
	Name string
	// Replicas of the presence bucket. Zero means 3. Fewer than 3 is
	// refused unless UnsafeReplicas is set.
	Replicas int
	// UnsafeReplicas allows Replicas below 3 (tests, trials on one
	// server): a single server's loss then loses the cluster's presence.
	UnsafeReplicas bool
	// LeaseTTL is how long a node's lease outlives its last refresh: the
	// delay before a crashed node's peers go off. Zero means 10 s.
	LeaseTTL time.Duration
	// LeaseRefresh is how often the lease is refreshed. Zero means 2 s.
	LeaseRefresh time.Duration
	// FenceMargin: a node that could not refresh its lease for
	// LeaseTTL-FenceMargin fences itself. Zero means 2 s (at least
	// LeaseRefresh is kept before the fence).
	FenceMargin time.Duration
	// URL is the public WebSocket URL of this node that its lease
	// advertises to the cluster (ws://, wss://, http:// or https://; the
	// routers of every node hand out the live nodes' URLs, see
	// Bus.URLs). The bus does not interpret it. Empty advertises none.
	URL string
	// CompactAfter: a write of a peer key replaces the key's earlier
	// writes when the last one is older than this, and a retired node's
	// keys are purged this long after its retirement. A watcher lagging
	// more than this may miss an off/on blip. Zero means 30 s.
	CompactAfter time.Duration
	// ReconnectAfter: after this many consecutive lease writes that
	// timed out or found no responder while connected (the connected
	// nats-server is in a minority partition, with no JetStream quorum),
	// the bus calls Conn.ForceReconnect so that the client moves to
	// another server before the node has to fence itself. Zero means 2;
	// negative never.
	ReconnectAfter int
	// StartTimeout bounds Open's retries while a cluster forms (buckets
	// not placed yet, stream leaders not elected), within Open's context.
	// Zero means 60 s.
	StartTimeout time.Duration
	// Timeout bounds one JetStream call. Zero means 5 s.
	Timeout time.Duration
	// SeenTimeout bounds how long a peer's registration on this node
	// (Register, EnterGroup) waits for every other live node to confirm
	// that its watch applied the write (see Bus.Register): a node that
	// does not confirm in time is counted
	// (rtgate_presence_seen_timeouts_total) and not waited for, nor in the
	// next rounds until it confirms one in time. Each node also bounds its
	// confirmation by its own SeenTimeout. A watch applies a write in about
	// a millisecond; a node that takes longer than this is stalled, and its
	// lease will soon end. Zero means 1 s.
	SeenTimeout time.Duration
	// OnFence is called (on the refresher goroutine) when the node fences
	// itself; the caller closes its client sessions with a retryable
	// close code. Nil does nothing.
	OnFence func(reason string)
	// Logger receives the bus's logs. Nil means slog.Default().
	Logger *slog.Logger
	// Metrics, when set, is counted into (see NewMetrics).
	Metrics *Metrics
}

func (c Config) withDefaults() (Config, error) {
	if c.Conn == nil {
		return c, fmt.Errorf("%w: Conn is required", ErrConfig)
	}
	if c.Name == "" {
		c.Name, _ = os.Hostname()
		if c.Name == "" {
			c.Name = "rtgate"
		}
	}
	c.Name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, c.Name)
	if c.Replicas == 0 {
		c.Replicas = 3
	}
	if c.Replicas < 3 && !c.UnsafeReplicas {
		return c, fmt.Errorf("%w: %d replicas lose presence with one server; set UnsafeReplicas to allow it", ErrConfig, c.Replicas)
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 10 * time.Second
	}
	if c.LeaseRefresh <= 0 {
		c.LeaseRefresh = 2 * time.Second
	}
	if c.FenceMargin <= 0 {
		c.FenceMargin = 2 * time.Second
	}
	if c.LeaseTTL < time.Second || c.LeaseTTL-c.FenceMargin < c.LeaseRefresh {
		return c, fmt.Errorf("%w: LeaseTTL %s leaves no room for a refresh every %s and a fence %s before expiry",
			ErrConfig, c.LeaseTTL, c.LeaseRefresh, c.FenceMargin)
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.SeenTimeout <= 0 {
		c.SeenTimeout = time.Second
	}
	if c.ReconnectAfter == 0 {
		c.ReconnectAfter = 2
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = time.Minute
	}
	if c.CompactAfter <= 0 {
		c.CompactAfter = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics()
	}
	return c, nil
}

// incarnation returns a new incarnation of the node named name.
func incarnation(name string) cluster.Node {
	var b [8]byte
	rand.Read(b[:])
	boot := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
	return cluster.Node(name + "-" + boot)
}

// versionAtLeast reports whether the dotted version v is at least min
// (pre-release suffixes ignored).
func versionAtLeast(v, min string) bool {
	parse := func(s string) [3]int {
		var out [3]int
		s, _, _ = strings.Cut(s, "-")
		for i, f := range strings.SplitN(s, ".", 3) {
			fmt.Sscanf(f, "%d", &out[i])
		}
		return out
	}
	a, b := parse(v), parse(min)
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return true
}

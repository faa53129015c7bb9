package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rtgate/rtgate/cluster"
	"github.com/rtgate/rtgate/cluster/natsbus"
	"github.com/rtgate/rtgate/compat/pushqueue"
	"github.com/rtgate/rtgate/compat/router"
	"github.com/rtgate/rtgate/internal/config"
	"github.com/rtgate/rtgate/internal/natsembed"
	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/histindex"
	jsstore "github.com/rtgate/rtgate/storage/jetstream"
)

// clusterStartTimeout bounds joining the cluster at start: an embedded
// server waits for its peers' routes and a JetStream meta leader.
const clusterStartTimeout = 60 * time.Second

// clusterNode is this process's link to a cluster: the embedded server
// (if any), the NATS connection and the bus over it.
type clusterNode struct {
	embed   *natsembed.Server // nil without --nats-embed
	nc      *nats.Conn
	bus     *natsbus.Bus
	hist    *histindex.Indexer // nil unless --history-indexer (history.go)
	push    *pushqueue.Queue   // nil without push webhooks (cluster_push.go)
	status  *nats.Subscription // the status requests (cluster_status.go)
	stopCtl func()             // ends the control subject's handler (cluster_status.go)
}

// joinCluster starts the embedded server if asked, connects to NATS and
// opens the bus, whose lease advertises the URL advertise ("" none).
// onFence is told when the node fences itself, onReconnect when its NATS
// connection came back (live copies may have been lost meanwhile: the hub
// re-reads its sessions' inboxes).
func joinCluster(cfg *config.Config, log *slog.Logger, advertise string, onFence func(string), onReconnect func()) (*clusterNode, error) {
	cl := &cfg.Cluster
	ctx, cancel := context.WithTimeout(context.Background(), clusterStartTimeout)
	defer cancel()
	n := &clusterNode{}
	urls := append([]string(nil), cl.NATS...)
	if cl.Embed {
		listen := cl.EmbedListen
		if listen == "" {
			listen = "127.0.0.1:4222"
		}
		name := cl.Name
		if name == "" {
			name = "rtgate"
		}
		var err error
		n.embed, err = natsembed.Start(natsembed.Config{
			Name: name, Listen: listen, StoreDir: filepath.Join(cfg.Data, "nats"),
			ClusterListen: cl.EmbedCluster, Routes: cl.Routes, Logger: log.With("component", "nats-server"),
		})
		if err != nil {
			return nil, fmt.Errorf("embedded nats-server: %w", err)
		}
		log.Info("embedded nats-server started (sync_interval always); its crash is also a JetStream server's crash",
			"client_url", n.embed.ClientURL(), "routes", cl.Routes)
		if err := n.embed.WaitJetStream(ctx); err != nil {
			n.close()
			return nil, fmt.Errorf("embedded nats-server: JetStream not ready (are the other servers of --nats-routes up?): %w", err)
		}
		urls = append([]string{n.embed.ClientURL()}, urls...)
	} else if len(cl.Monitor) == 0 {
		log.Warn("rtgate cannot see the nats-servers' settings: make sure every JetStream server runs with sync_interval: always, or an OS crash or power loss can lose acknowledged messages; --nats-monitor lets it check (docs/cluster.md)")
	}
	for _, u := range cl.Monitor {
		mctx, mcancel := context.WithTimeout(ctx, 5*time.Second)
		err := natsbus.CheckSyncAlways(mctx, nil, u)
		mcancel()
		if err != nil {
			n.close()
			return nil, fmt.Errorf("nats-server settings (--nats-monitor): %w", err)
		}
		log.Info("nats-server syncs every write (sync_interval always)", "monitor", u)
	}
	opts := []nats.Option{nats.Name("rtgate " + cl.Name), nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond), nats.Timeout(5 * time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("NATS disconnected", "err", err) }),
		// Runs on nats.go's callback goroutine, which it holds while the
		// inboxes are re-read.
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("NATS reconnected; re-reading the inboxes of this node's sessions", "server", c.ConnectedUrl())
			onReconnect()
		}),
	}
	if cl.Creds != "" {
		opts = append(opts, nats.UserCredentials(cl.Creds))
	}
	if cl.NKeySeed != "" {
		o, err := nats.NkeyOptionFromSeed(cl.NKeySeed)
		if err != nil {
			n.close()
			return nil, fmt.Errorf("%w: nkey seed: %v", config.ErrInvalid, err)
		}
		opts = append(opts, o)
	}
	if cl.CAFile != "" {
		opts = append(opts, nats.RootCAs(cl.CAFile))
	}
	if cl.CertFile != "" {
		opts = append(opts, nats.ClientCert(cl.CertFile, cl.KeyFile))
	}
	var err error
	if n.nc, err = nats.Connect(strings.Join(urls, ","), opts...); err != nil {
		n.close()
		return nil, fmt.Errorf("connect to NATS %v: %w", urls, err)
	}
	n.bus, err = natsbus.Open(ctx, natsbus.Config{
		Conn: n.nc, Name: cl.Name, UnsafeReplicas: cl.UnsafeSingleReplica, Replicas: replicas(cl),
		URL: advertise, OnFence: onFence, Logger: log.With("component", "cluster"),
	})
	if err != nil {
		n.close()
		return nil, err
	}
	return n, nil
}

// advertisedURL is the URL a cluster node advertises to every node's
// router (cluster.advertiseURL, --advertise-url): "" on a single node or
// with "off"; the given URL; else the public URL; else ws://<first listen
// address>/ (wss:// for a TLS-only node), unless its host is unspecified.
func advertisedURL(cfg *config.Config, socks *sockets, log *slog.Logger) (string, error) {
	cl := &cfg.Cluster
	if !cl.Enabled() || cl.AdvertiseURL == "off" {
		return "", nil
	}
	if u := cmp.Or(cl.AdvertiseURL, cfg.PublicURL); u != "" {
		if err := router.CheckURL(u); err != nil {
			return "", fmt.Errorf("%w: advertised URL (--advertise-url, else --public-url): %v", config.ErrInvalid, err)
		}
		log.Info("advertising this node's URL to the cluster's routers", "url", u)
		return u, nil
	}
	scheme, lns := "ws", socks.http
	if len(lns) == 0 {
		scheme, lns = "wss", socks.https
	}
	if len(lns) == 0 {
		return "", nil
	}
	a, ok := lns[0].Addr().(*net.TCPAddr)
	if !ok || a.IP.IsUnspecified() {
		log.Warn("this node listens on every interface and advertises no URL: the cluster's routers do not hand it out; set --advertise-url (or --public-url) to its address, or --advertise-url off behind a load balancer",
			"listen", lns[0].Addr().String())
		return "", nil
	}
	u := scheme + "://" + a.String() + "/"
	log.Info("advertising this node's URL to the cluster's routers", "url", u)
	return u, nil
}

// openStore opens the cluster store on JetStream (inboxes, groups, send
// claims, the history record), creating or checking its assets; a
// cluster that just formed may not place them yet, so it retries.
func (n *clusterNode) openStore(cfg *config.Config, log *slog.Logger) (*jsstore.Store, error) {
	ctx, cancel := context.WithTimeout(context.Background(), clusterStartTimeout)
	defer cancel()
	for {
		actx, acancel := context.WithTimeout(ctx, 10*time.Second)
		st, err := jsstore.Open(actx, n.nc, jsstore.Config{
			Replicas: replicas(&cfg.Cluster), UnsafeSingleReplica: cfg.Cluster.UnsafeSingleReplica,
			Limits:     storage.Limits{InboxSize: cfg.Limits.InboxSize, InboxTTL: cfg.Limits.InboxTTL.Std()},
			InboxDelay: clusterInboxDelay(cfg.Storage.InboxDelay.Std()),
			Logger:     log.With("component", "store"),
		})
		acancel()
		if err == nil {
			log.Info("cluster store open (JetStream)", "replicas", replicas(&cfg.Cluster))
			return st, nil
		}
		if errors.Is(err, jsstore.ErrAssetMismatch) || errors.Is(err, jsstore.ErrConfig) || errors.Is(err, jsstore.ErrServerVersion) {
			return nil, err
		}
		log.Warn("cluster store not ready, retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cluster store: %w", err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// clusterInboxDelay is the cluster store's InboxDelay for
// storage.inboxDelay: its own default (400 ms) when unset, and at most
// 800 ms: held entries are what a node's crash may redeliver, and what
// another node's read must ask for (docs/cluster-storage.md).
func clusterInboxDelay(d time.Duration) time.Duration {
	if d > 800*time.Millisecond {
		return 800 * time.Millisecond
	}
	return d
}

// replicas is the replica count the cluster's assets keep.
func replicas(cl *config.Cluster) int {
	if cl.UnsafeSingleReplica {
		return 1
	}
	return 3
}

// close leaves the cluster: the bus (its lease goes), the connection,
// then the embedded server.
func (n *clusterNode) close() {
	if n == nil {
		return
	}
	if n.status != nil {
		n.status.Unsubscribe()
	}
	if n.stopCtl != nil {
		n.stopCtl()
	}
	n.closeHistory()
	n.closePush()
	if n.bus != nil {
		n.bus.Close()
	}
	if n.nc != nil {
		n.nc.Close()
	}
	if n.embed != nil {
		n.embed.Shutdown()
	}
}

// deliverer and presence are the hub's cluster links: nil on a single
// node (the hub keeps presence in process).
func deliverer(n *clusterNode) cluster.Deliverer {
	if n == nil {
		return nil
	}
	return n.bus
}

func presence(n *clusterNode) cluster.Presence {
	if n == nil {
		return nil
	}
	return n.bus
}

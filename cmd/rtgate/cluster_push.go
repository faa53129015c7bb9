package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rtgate/rtgate/compat/pushhook"
	"github.com/rtgate/rtgate/compat/pushqueue"
	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/internal/config"
)

// startPush routes the offline push notices of a cluster node through
// the cluster's shared push queue (compat/pushqueue), sent by hook on
// whichever node takes them. On a single node it returns hook itself.
func (n *clusterNode) startPush(hook *pushhook.Hook, cfg *config.Config, log *slog.Logger) (core.OfflineNotifier, error) {
	if n == nil {
		return hook, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterStartTimeout)
	defer cancel()
	q, err := pushqueue.Open(ctx, pushqueue.Config{Conn: n.nc, Hook: hook, Replicas: replicas(&cfg.Cluster),
		Logger: log.With("component", "pushqueue")})
	if err != nil {
		return nil, fmt.Errorf("cluster push queue: %w", err)
	}
	n.push = q
	return q, nil
}

// pushCollectors are the push queue's metrics, none without one.
func (n *clusterNode) pushCollectors() []prometheus.Collector {
	if n == nil || n.push == nil {
		return nil
	}
	return n.push.Collectors()
}

// closePush stops taking notices; those taken and not finished go to
// other nodes.
func (n *clusterNode) closePush() {
	if n == nil || n.push == nil {
		return
	}
	n.push.Close()
	n.push = nil
}

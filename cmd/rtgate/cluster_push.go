package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

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
	for {
		// A cluster that just formed may not place the stream yet.
		actx, acancel := context.WithTimeout(ctx, 10*time.Second)
		q, err := pushqueue.Open(actx, pushqueue.Config{Conn: n.nc, Hook: hook, Replicas: replicas(&cfg.Cluster),
			Logger: log.With("component", "pushqueue")})
		acancel()
		if err == nil {
			n.push = q
			return q, nil
		}
		log.Warn("cluster push queue not ready, retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cluster push queue: %w", err)
		case <-time.After(250 * time.Millisecond):
		}
	}
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

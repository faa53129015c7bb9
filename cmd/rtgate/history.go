package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rtgate/rtgate/internal/config"
	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/histindex"
)

// startHistory starts this node's history indexer when cfg asks for one
// (--history-indexer); its index lives in <data>/hist-index. The cluster
// store must be open (it creates the history stream).
func (n *clusterNode) startHistory(cfg *config.Config, log *slog.Logger) error {
	if n == nil || !cfg.Cluster.HistoryIndexer {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterStartTimeout)
	defer cancel()
	name := cfg.Cluster.Name
	if name == "" {
		name, _ = os.Hostname()
	}
	for {
		// A cluster that just formed may not place the consumer yet.
		actx, acancel := context.WithTimeout(ctx, 10*time.Second)
		ix, err := histindex.Open(actx, histindex.Config{Conn: n.nc, Dir: filepath.Join(cfg.Data, "hist-index"),
			Name: consumerSafe(name), Logger: log.With("component", "hist-indexer")})
		acancel()
		if err == nil {
			n.hist = ix
			return nil
		}
		if errors.Is(err, histindex.ErrConfig) {
			return fmt.Errorf("history indexer: %w", err)
		}
		log.Warn("history indexer not ready, retrying", "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("history indexer: %w", err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// consumerSafe maps a node name (stable across restarts, unlike its
// incarnation) to a consumer name: host names may hold dots.
func consumerSafe(name string) string {
	name = unsafeName.ReplaceAllString(name, "_")
	if name == "" {
		name = "rtgate"
	}
	if len(name) > 32 {
		name = name[:32]
	}
	return name
}

// historyStore is what the REST API reads history from: on a cluster, st
// with its history queries and deletes sent to the indexers.
func (n *clusterNode) historyStore(st storage.Store) (storage.Store, error) {
	if n == nil {
		return st, nil
	}
	c, err := histindex.NewClient(histindex.ClientConfig{Conn: n.nc})
	if err != nil {
		return nil, err
	}
	return histindex.Wrap(st, c), nil
}

// historyCollectors are the indexer's metrics, none without one.
func (n *clusterNode) historyCollectors() []prometheus.Collector {
	if n == nil || n.hist == nil {
		return nil
	}
	return n.hist.Metrics().Collectors()
}

// closeHistory stops the indexer, if any.
func (n *clusterNode) closeHistory() {
	if n == nil || n.hist == nil {
		return
	}
	if err := n.hist.Close(); err != nil {
		slog.Default().Warn("history indexer close", "err", err)
	}
	n.hist = nil
}

package natsbus

import (
	"errors"
	"fmt"

	"github.com/rtgate/rtgate/cluster"
)

var (
	// ErrConfig wraps an invalid Config.
	ErrConfig = errors.New("natsbus: invalid config")
	// ErrServerVersion is returned by Open when the NATS server is older
	// than MinServerVersion.
	ErrServerVersion = errors.New("natsbus: nats-server too old")
	// ErrSyncInterval is returned by CheckSyncAlways when a JetStream
	// server does not fsync every write (sync_interval: always).
	ErrSyncInterval = errors.New("natsbus: nats-server does not sync every write")
	// ErrAssetMismatch is returned by Open when the presence bucket exists
	// with another configuration; it is never deleted or recreated.
	ErrAssetMismatch = errors.New("natsbus: existing JetStream asset differs")
	// ErrFenced is returned by Register while the node is fenced off the
	// cluster (it lost NATS or JetStream).
	ErrFenced = fmt.Errorf("natsbus: node fenced off the cluster: %w", cluster.ErrUnavailable)
)

// unavailable marks a failed JetStream write as the cluster being unavailable.
func unavailable(err error) error { return fmt.Errorf("%w: %v", cluster.ErrUnavailable, err) }

package jetstream_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rtgate/rtgate/internal/natsembed/natstest"
	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/jetstream"
	"github.com/rtgate/rtgate/storage/storagetest"
)

// opener returns a storagetest.Opener of stores on nc, each in a fresh
// namespace <prefix><n> (its own streams and bucket), except that a reopen of the
// same Options.Dir gets the namespace of the store that had it.
func opener(nc *nats.Conn, prefix string, cfg jetstream.Config) storagetest.Opener {
	var mu sync.Mutex
	byDir := map[string]string{}
	return func(t *testing.T, o storagetest.Options) storage.Store {
		mu.Lock()
		ns, ok := byDir[o.Dir]
		if !ok {
			ns = fmt.Sprintf("%s%d", prefix, len(byDir))
			byDir[o.Dir] = ns
		}
		mu.Unlock()
		c := cfg
		c.Namespace, c.Limits, c.Now = ns, o.Limits, o.Now
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := jetstream.Open(ctx, nc, c)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	}
}

// TestConformanceR3 runs the storage suite against a three-server
// in-process cluster, every asset replicated three ways.
func TestConformanceR3(t *testing.T) {
	c := natstest.Start(t, 3)
	nc := c.Connect(1)
	storagetest.RunWith(t, opener(nc, "t", jetstream.Config{}), storagetest.Features{NoHistory: true})
	t.Run("Durable", func(t *testing.T) {
		storagetest.RunDurableWith(t, opener(nc, "d", jetstream.Config{}), storagetest.Features{NoHistory: true})
	})
}

// TestConformanceSingle runs the suite on one server with one replica.
func TestConformanceSingle(t *testing.T) {
	c := natstest.Single(t)
	storagetest.RunWith(t, opener(c.Connect(0), "t", jetstream.Config{UnsafeSingleReplica: true}), storagetest.Features{NoHistory: true})
}

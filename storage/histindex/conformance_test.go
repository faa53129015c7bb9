package histindex

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rtgate/rtgate/internal/natsembed/natstest"
	"github.com/rtgate/rtgate/storage"
	jsstore "github.com/rtgate/rtgate/storage/jetstream"
	"github.com/rtgate/rtgate/storage/storagetest"
)

// indexed is the cluster store as the REST API sees it: history through
// an indexer of its own namespace, which Close stops too.
type indexed struct {
	*Store
	ix *Indexer
}

func (s indexed) Close() error {
	s.ix.Close()
	return s.Store.Close()
}

// TestConformance runs the storage suite against the JetStream store with
// its history answered by an indexer (acceptance test 13), on one server.
func TestConformance(t *testing.T) {
	c := natstest.Single(t)
	nc := c.Connect(0)
	var mu sync.Mutex
	n := 0
	open := func(t *testing.T, o storagetest.Options) storage.Store {
		mu.Lock()
		ns := fmt.Sprintf("h%d", n)
		n++
		mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st, err := jsstore.Open(ctx, nc, jsstore.Config{Namespace: ns, UnsafeSingleReplica: true, Limits: o.Limits, Now: o.Now})
		if err != nil {
			t.Fatal(err)
		}
		return withIndexer(t, ctx, nc, st, ns)
	}
	storagetest.RunWith(t, open, storagetest.Features{})
}

func withIndexer(t *testing.T, ctx context.Context, nc *nats.Conn, st *jsstore.Store, ns string) storage.Store {
	ix, err := Open(ctx, Config{Conn: nc, Dir: t.TempDir(), Name: "c", Namespace: ns, MemTableSize: 1 << 20,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := NewClient(ClientConfig{Conn: nc, Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	return indexed{Store: Wrap(st, cl), ix: ix}
}

package natsembed_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtgate/rtgate/internal/natsembed"
	"github.com/rtgate/rtgate/internal/natsembed/natstest"
)

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    natsembed.Config
	}{
		{"no store dir", natsembed.Config{}},
		{"bad listen", natsembed.Config{StoreDir: t.TempDir(), Listen: "nonsense"}},
		{"bad port", natsembed.Config{StoreDir: t.TempDir(), Listen: "127.0.0.1:99999"}},
		{"routes without cluster", natsembed.Config{StoreDir: t.TempDir(), Routes: []string{"127.0.0.1:1"}}},
		{"bad cluster listen", natsembed.Config{StoreDir: t.TempDir(), ClusterListen: "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := natsembed.Start(tc.c)
			if !errors.Is(err, natsembed.ErrConfig) {
				if s != nil {
					s.Shutdown()
				}
				t.Fatalf("Start = %v, want ErrConfig", err)
			}
		})
	}
}

func TestSingleServer(t *testing.T) {
	c := natstest.Single(t)
	s := c.Servers[0]
	if cfg := s.NATS().JetStreamConfig(); cfg == nil || !cfg.SyncAlways {
		t.Fatalf("JetStream config %+v, want SyncAlways", cfg)
	}
	nc := c.Connect(0)
	if v := nc.ConnectedServerVersion(); v == "" {
		t.Fatal("no server version")
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "t.a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if info, err := st.Info(ctx); err != nil || info.State.Msgs != 1 {
		t.Fatalf("stream info %+v, %v", info, err)
	}
}

// TestClusterR3 forms a 3-server cluster, writes to an R3 stream, and
// checks that a write survives a graceful shutdown of the stream leader
// and that the cluster accepts writes again with two servers.
func TestClusterR3(t *testing.T) {
	start := time.Now()
	c := natstest.Start(t, 3)
	t.Logf("3-server cluster JetStream-ready after %v", time.Since(start))
	for _, s := range c.Servers {
		if cfg := s.NATS().JetStreamConfig(); !cfg.SyncAlways {
			t.Fatalf("%s: SyncAlways off", s.Name())
		}
	}
	nc := c.Connect(1, nats.MaxReconnects(-1))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "t.a", []byte("before")); err != nil {
		t.Fatal(err)
	}
	leader := c.StreamLeader("T")
	if leader < 0 {
		t.Fatal("no stream leader")
	}
	c.Shutdown(leader)
	var ack *jetstream.PubAck
	for ack == nil {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		ack, err = js.Publish(pctx, "t.a", []byte("after"), jetstream.WithMsgID("after-1"))
		pcancel()
		if err != nil && ctx.Err() != nil {
			t.Fatalf("no publish after the leader's shutdown: %v", err)
		}
	}
	st, err := js.Stream(ctx, "T")
	if err != nil {
		t.Fatal(err)
	}
	if info, err := st.Info(ctx); err != nil || info.State.Msgs != 2 {
		t.Fatalf("after failover: %+v, %v; want 2 messages", info.State, err)
	}
	c.Restart(leader)
}

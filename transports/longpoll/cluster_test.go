package longpoll_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtgate/rtgate/cluster/natsbus"
	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/internal/natsembed/natstest"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/storage/memory"
	"github.com/rtgate/rtgate/transports/longpoll"
)

// roundRobin is a load balancer without sticky sessions: each request
// goes to the next live backend.
type roundRobin struct {
	mu    sync.Mutex
	urls  []*url.URL // guarded by mu
	next  int        // guarded by mu
	count atomic.Int64
}

func (rr *roundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rr.mu.Lock()
	u := rr.urls[rr.next%len(rr.urls)]
	rr.next++
	rr.mu.Unlock()
	rr.count.Add(1)
	httputil.NewSingleHostReverseProxy(u).ServeHTTP(w, r)
}

// drop takes a backend out of the rotation (its node died).
func (rr *roundRobin) drop(u string) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	for i, x := range rr.urls {
		if x.String() == u {
			rr.urls = append(rr.urls[:i], rr.urls[i+1:]...)
			return
		}
	}
}

// TestClusterRoundRobin is acceptance test 7: a long-poll client behind a
// round-robin proxy over three nodes (three nats-servers, requests
// forwarded to the session's node by NATS request/reply) sends and
// receives 1,000 messages each way, in order, with no loss and no
// duplicate, while 10 % of its responses are lost (the client resends);
// when the session's node dies the client gets 410 at once, and a new
// session gets the persistent messages back from the inbox.
func TestClusterRoundRobin(t *testing.T) {
	const (
		n   = 1000
		app = "lp.cluster"
	)
	nc := natstest.Start(t, 3)
	st := memory.New(memory.Config{})
	rr := &roundRobin{}
	type node struct {
		bus *natsbus.Bus
		hub *core.Hub
		srv *httptest.Server
	}
	var nodes []*node
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		bus, err := natsbus.Open(ctx, natsbus.Config{Conn: nc.Connect(i), Name: fmt.Sprint("lp", i), Logger: slog.New(slog.DiscardHandler)})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { bus.Close() })
		hub, err := core.New(core.Config{Store: st, Deliverer: bus, Presence: bus, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		h := longpoll.New(hub, longpoll.Config{Forward: bus, PollTimeout: 500 * time.Millisecond, PingTimeout: 10 * time.Second,
			Logger: slog.New(slog.DiscardHandler)})
		if _, err := bus.Serve(h.ServeForwarded); err != nil {
			t.Fatal(err)
		}
		srv := serve(h)
		t.Cleanup(srv.Close)
		u, _ := url.Parse(srv.URL)
		rr.urls = append(rr.urls, u)
		nodes = append(nodes, &node{bus: bus, hub: hub, srv: srv})
	}
	proxy := httptest.NewServer(rr)
	t.Cleanup(proxy.Close)

	ft := &faultTransport{base: http.DefaultTransport.(*http.Transport).Clone(), after: 0.1, rng: rand.New(rand.NewPCG(3, 7))}
	alice, err := openLP(proxy.URL+"/lp/", &http.Client{Transport: ft, Timeout: 10 * time.Second}, "", 30)
	if err != nil {
		t.Fatal(err)
	}
	defer alice.cancel()
	bob := coretest.Dial(nodes[1].hub, false)
	bob.Open(t, app, "bob", "alice")
	mustSend(t, alice, &protocol.Command{Kind: protocol.KindSessionOpen, AppID: app, PeerID: "alice", SessionPeerIDs: []string{"bob"}, I: 1})

	// alice reads everything: her acks and bob's messages.
	var acks, got []string
	readErr := make(chan error, 1)
	go func() {
		deadline := time.Now().Add(120 * time.Second)
		for len(acks) < n || len(got) < n {
			if time.Now().After(deadline) {
				readErr <- fmt.Errorf("alice: %d acks, %d messages after 120 s", len(acks), len(got))
				return
			}
			cmd, err := alice.read()
			if err != nil {
				readErr <- err
				return
			}
			switch cmd.Kind {
			case protocol.KindAck:
				acks = append(acks, cmd.UID)
			case protocol.KindDirect:
				if cmd.Msg != fmt.Sprint("b", len(got)) {
					readErr <- fmt.Errorf("alice got %q as message %d", cmd.Msg, len(got))
					return
				}
				got = append(got, cmd.ID)
			}
		}
		readErr <- nil
	}()
	// Wait for alice's open to reach bob's node (presence), then both
	// send at once.
	if p := bob.Expect(t, protocol.KindPresence); p.Status != protocol.StatusOn {
		t.Fatalf("presence = %+v", *p)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			if err := alice.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: "alice", ToPeerIDs: []string{"bob"}, Msg: fmt.Sprint("a", i), I: int64(i + 2)}); err != nil {
				t.Errorf("alice send %d: %v", i, err)
				return
			}
		}
	}()
	for i := range n {
		if err := bob.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: "bob", ToPeerIDs: []string{"alice"}, Msg: fmt.Sprint("b", i), I: int64(i + 2)}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if err := <-readErr; err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Fatalf("message %s delivered twice to alice", id)
		}
		seen[id] = true
	}
	bobGot, bobAcks := 0, 0
	for bobGot < n || bobAcks < n {
		f, err := bob.Next(30 * time.Second)
		if err != nil {
			t.Fatalf("bob: %d messages, %d acks: %v", bobGot, bobAcks, err)
		}
		switch f.Kind {
		case protocol.KindAck:
			bobAcks++
		case protocol.KindDirect:
			if f.Msg != fmt.Sprint("a", bobGot) {
				t.Fatalf("bob got %q as message %d", f.Msg, bobGot)
			}
			bobGot++
		}
	}
	t.Logf("%d requests through the proxy; %d responses lost and resent", rr.count.Load(), ft.lostResponses.Load())

	// The node holding alice's session dies: 410 at once from the others.
	var owner *node
	for _, nd := range nodes {
		if strings.HasPrefix(alice.sid, string(nd.bus.Self())+"~") {
			owner = nd
		}
	}
	if owner == nil {
		t.Fatalf("sid %q names no node", alice.sid)
	}
	rr.drop(owner.srv.URL)
	owner.srv.CloseClientConnections()
	owner.srv.Close()
	owner.bus.Close()
	start := time.Now()
	ft.after = 0
	var he *errHTTP
	if err := alice.pollOnce(); !errors.As(err, &he) || he.status != http.StatusGone {
		t.Fatalf("poll after the owner died: %v, want 410", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("410 took %s", d)
	}
	again, err := openLP(proxy.URL+"/lp/", nil, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer again.cancel()
	mustSend(t, again, &protocol.Command{Kind: protocol.KindSessionOpen, AppID: app, PeerID: "alice", I: 1})
	offline := 0
	for offline < 50 { // the inbox keeps the newest 50 unacknowledged
		cmd, err := again.read()
		if err != nil {
			t.Fatalf("after %d offline messages: %v", offline, err)
		}
		if cmd.Kind != protocol.KindDirect {
			continue
		}
		if !cmd.Offline || !seen[cmd.ID] || cmd.Msg != fmt.Sprint("b", n-50+offline) {
			t.Fatalf("redelivered %+v", *cmd)
		}
		offline++
	}
}

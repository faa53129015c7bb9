package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/rtgate/rtgate/internal/natsembed/natstest"
	"github.com/rtgate/rtgate/internal/serverproc"
)

// startEmbedCluster runs n rtgate nodes in this process, each with an
// embedded nats-server routed to the others: the whole cluster with
// nothing else installed. extra, if given, adds node i's flags.
func startEmbedCluster(t *testing.T, n int, extra ...func(i int) []string) []*inProcess {
	t.Helper()
	routes, err := serverproc.NewRoutes(n)
	if err != nil {
		t.Fatal(err)
	}
	nodes := make([]*inProcess, n)
	for i := range nodes {
		ctx, cancel := context.WithCancel(context.Background())
		s := &inProcess{out: newOutput(), cancel: cancel, done: make(chan struct{})}
		args := append([]string{"--listen", "127.0.0.1:0", "--quic", "off", "--data", t.TempDir(),
			"--node-name", fmt.Sprint("node", i)}, routes.EmbedArgs(i, "127.0.0.1:0")...)
		for _, f := range extra {
			args = append(args, f(i)...)
		}
		go func() {
			defer close(s.done)
			s.err = run(ctx, args, func(string) string { return "" }, s.out)
		}()
		nodes[i] = s
		t.Cleanup(func() { s.stop(t) })
	}
	for _, s := range nodes {
		select {
		case a := <-s.out.addr:
			s.addr = a
		case <-s.done:
			t.Fatalf("node exited before listening: %v", s.err)
		case <-time.After(90 * time.Second):
			t.Fatalf("node did not report its address; output:\n%s", s.out)
		}
	}
	return nodes
}

// TestEmbedClusterChat: three rtgate processes' worth of nodes with
// --nats-embed form a cluster; peers on different nodes see each other's
// presence and exchange messages, and /healthz reports the cluster.
func TestEmbedClusterChat(t *testing.T) {
	nodes := startEmbedCluster(t, 3)
	for _, s := range nodes {
		code, _, body := httpGet(t, "http://"+s.addr+"/healthz")
		var v map[string]string
		if code != 200 || json.Unmarshal([]byte(body), &v) != nil || v["cluster"] != "ok" || v["node"] == "" {
			t.Fatalf("healthz %d %s", code, body)
		}
	}
	a := dial(t, "ws://"+nodes[0].addr+"/")
	a.open("app", "alice", "bob")
	b := dial(t, "ws://"+nodes[2].addr+"/")
	if got := b.open("app", "bob", "alice"); fmt.Sprint(got["onlineSessionPeerIds"]) != "[alice]" {
		t.Fatalf("opened = %v", got)
	}
	if p := a.next("presence", ""); fmt.Sprint(p["sessionPeerIds"]) != "[bob]" || p["status"] != "on" {
		t.Fatalf("presence = %v", p)
	}
	a.send(map[string]any{"cmd": "direct", "peerId": "alice", "msg": "live", "toPeerIds": []string{"bob"}, "transient": true})
	if got := b.next("direct", ""); got["msg"] != "live" || got["fromPeerId"] != "alice" {
		t.Fatalf("transient = %v", got)
	}
	a.send(map[string]any{"cmd": "direct", "peerId": "alice", "msg": "kept", "toPeerIds": []string{"bob"}, "i": 2})
	ack := a.next("ack", "")
	if got := b.next("direct", ""); got["msg"] != "kept" || got["id"] != ack["uid"] {
		t.Fatalf("persistent = %v, ack %v", got, ack)
	}
	b.ws.Close()
	if p := a.next("presence", ""); fmt.Sprint(p["sessionPeerIds"]) != "[bob]" || p["status"] != "off" {
		t.Fatalf("presence = %v", p)
	}
	// Offline: stored in the cluster store (JetStream), redelivered when
	// bob opens on another node.
	a.send(map[string]any{"cmd": "direct", "peerId": "alice", "msg": "while away", "toPeerIds": []string{"bob"}, "i": 3})
	ack = a.next("ack", "")
	b2 := dial(t, "ws://"+nodes[1].addr+"/")
	b2.open("app", "bob")
	if got := b2.next("direct", ""); got["msg"] != "kept" || got["offline"] != true {
		t.Fatalf("first redelivered = %v (the unacked earlier message)", got)
	}
	// The sender's ack precedes the live copies (spec/semantics.md), so
	// bob's open on node 1, right after the ack, can be seen by node 0
	// before it looks for bob's sessions: then "while away" comes live,
	// without offline. Either way it comes, with the acknowledged id.
	if got := b2.next("direct", ""); got["msg"] != "while away" || got["id"] != ack["uid"] {
		t.Fatalf("offline = %v, ack %v", got, ack)
	}
}

// TestGatewayKillPresence is acceptance test 3 with processes: two rtgate
// binaries on three nats-servers (in this test process); the only
// gateway holding bob is killed with SIGKILL, and alice's watcher on the
// other gateway gets `off` within the lease (10 s) plus a second. In the
// variant bob reconnects to the surviving gateway first, and alice sees
// no off/on at all.
func TestGatewayKillPresence(t *testing.T) {
	for _, reconnect := range []bool{false, true} {
		name := "off after the lease"
		if reconnect {
			name = "back on the other gateway first"
		}
		t.Run(name, func(t *testing.T) {
			nc := natstest.Start(t, 3)
			urls := nc.URL()
			g1 := startBinary(t, t.TempDir(), "--quic", "off", "--node-name", "g1", "--nats", urls)
			g2 := startBinary(t, t.TempDir(), "--quic", "off", "--node-name", "g2", "--nats", urls)
			alice := dial(t, "ws://"+g1.addr+"/")
			alice.open("app", "alice", "bob")
			bob := dial(t, "ws://"+g2.addr+"/")
			bob.open("app", "bob")
			if p := alice.next("presence", ""); p["status"] != "on" {
				t.Fatalf("presence = %v", p)
			}
			killed := time.Now()
			if err := g2.cmd.Process.Kill(); err != nil { // SIGKILL, by pid
				t.Fatal(err)
			}
			<-g2.exited
			if reconnect {
				bob2 := dial(t, "ws://"+g1.addr+"/")
				bob2.open("app", "bob")
				alice.ws.SetReadDeadline(killed.Add(12 * time.Second))
				for {
					_, b, err := alice.ws.ReadMessage()
					if err != nil {
						break // the deadline: nothing came
					}
					if strings.Contains(string(b), `"presence"`) {
						t.Fatalf("presence event %s after bob moved to the other gateway", b)
					}
				}
				return
			}
			// next's own deadline (10 s) is the lease: read with a longer one.
			alice.ws.SetReadDeadline(killed.Add(20 * time.Second))
			var p map[string]any
			for p == nil {
				_, b, err := alice.ws.ReadMessage()
				if err != nil {
					t.Fatalf("no presence off: %v", err)
				}
				var m map[string]any
				if json.Unmarshal(b, &m) == nil && m["cmd"] == "presence" {
					p = m
				}
			}
			took := time.Since(killed)
			if p["status"] != "off" {
				t.Fatalf("presence = %v", p)
			}
			t.Logf("off %s after SIGKILL (lease 10 s)", took.Round(time.Millisecond))
			if took > 11*time.Second {
				t.Fatalf("off after %s, over lease + 1 s", took)
			}
		})
	}
}

// TestGatewayKillUnderLoad is acceptance test 10: alice on gateway g1
// sends persistent messages to bob on g2; g2 is killed with SIGKILL in the
// middle; bob reconnects to g1 (as through the load balancer) within 5 s
// and ends up with every message alice got an ack for.
func TestGatewayKillUnderLoad(t *testing.T) {
	nc := natstest.Start(t, 3)
	g1 := startBinary(t, t.TempDir(), "--quic", "off", "--node-name", "g1", "--nats", nc.URL())
	g2 := startBinary(t, t.TempDir(), "--quic", "off", "--node-name", "g2", "--nats", nc.URL())
	alice := dial(t, "ws://"+g1.addr+"/")
	alice.open("app", "alice", "bob")

	var mu sync.Mutex
	got := map[string]bool{} // guarded by mu
	// bob reads and acknowledges on one connection until it fails.
	read := func(c *client) error {
		for {
			c.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
			_, b, err := c.ws.ReadMessage()
			if err != nil {
				return err
			}
			var m map[string]any
			if json.Unmarshal(b, &m) != nil || m["cmd"] != "direct" {
				continue
			}
			id, _ := m["id"].(string)
			mu.Lock()
			got[id] = true
			mu.Unlock()
			if err := c.ws.WriteJSON(map[string]any{"cmd": "ack", "peerId": "bob", "ids": []string{id}}); err != nil {
				return err
			}
		}
	}
	bob := dial(t, "ws://"+g2.addr+"/")
	bob.open("app", "bob")
	alice.next("presence", "")
	bobDone := make(chan error, 1)
	go func() { bobDone <- read(bob) }()

	var acked []string
	send := func(n int) {
		for range n {
			i := len(acked) + 2
			alice.send(map[string]any{"cmd": "direct", "peerId": "alice", "msg": fmt.Sprint(i), "toPeerIds": []string{"bob"}, "i": i})
			acked = append(acked, alice.next("ack", "")["uid"].(string))
		}
	}
	send(100)
	killed := time.Now()
	if err := g2.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-bobDone // bob's connection dropped
	send(30)  // while bob is away (fewer than the inbox's 50)
	bob2 := dial(t, "ws://"+g1.addr+"/")
	bob2.open("app", "bob")
	resumed := time.Since(killed)
	go func() { bobDone <- read(bob2) }()
	send(100)
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		missing := 0
		var idx []int
		for i, id := range acked {
			if !got[id] {
				missing++
				idx = append(idx, i)
			}
		}
		mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged messages never reached bob (indexes %v)", missing, len(acked), idx)
		}
		time.Sleep(20 * time.Millisecond) // polling bob's reader, bounded by the deadline
	}
	t.Logf("bob resumed on the surviving gateway %s after SIGKILL; all %d acknowledged messages arrived", resumed.Round(time.Millisecond), len(acked))
	if resumed > 5*time.Second {
		t.Fatalf("resumed after %s, over 5 s", resumed)
	}
}

// TestClusterRouter: every node's /v1/route hands out the live nodes'
// advertised URLs in turn: node 0 its listen address (the default),
// node 1 its --public-url, node 2 none (--advertise-url off). A node that
// leaves is no longer handed out.
func TestClusterRouter(t *testing.T) {
	nodes := startEmbedCluster(t, 3, func(i int) []string {
		switch i {
		case 1:
			return []string{"--public-url", "http://n1.example.org:1234"}
		case 2:
			return []string{"--advertise-url", "off"}
		}
		return nil
	})
	// answers asks node i's router n times; want is every URL it should
	// name, each at least once and nothing else.
	answers := func(i, n int) []string {
		var got []string
		for range n {
			code, _, body := httpGet(t, "http://"+nodes[i].addr+"/v1/route?appId=app")
			var v struct {
				Server, Secondary string
				TTL               int
			}
			if code != 200 || json.Unmarshal([]byte(body), &v) != nil || v.TTL != 60 {
				t.Fatalf("node %d router: %d %s", i, code, body)
			}
			got = append(got, v.Server)
		}
		slices.Sort(got)
		return slices.Compact(got)
	}
	want := []string{"ws://" + nodes[0].addr + "/", "ws://n1.example.org:1234/"}
	slices.Sort(want)
	deadline := time.Now().Add(20 * time.Second)
	for i := range nodes {
		for got := answers(i, 4); fmt.Sprint(got) != fmt.Sprint(want); got = answers(i, 4) {
			if time.Now().After(deadline) {
				t.Fatalf("node %d router hands out %v, want %v", i, got, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if err := nodes[0].stop(t); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 3; i++ {
		for got := answers(i, 2); fmt.Sprint(got) != "[ws://n1.example.org:1234/]"; got = answers(i, 2) {
			if time.Now().After(deadline) {
				t.Fatalf("node %d router hands out %v after node 0 left", i, got)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// TestPartitionFencingProcess is acceptance test 12 with processes: the
// rtgate binary g2 reaches the three nats-servers only through a TCP
// proxy (the servers do not advertise the others' URLs, so its client
// cannot go around it); g1 reaches them directly. The proxy is cut: g2
// closes bob's connection with 1001 (reconnect elsewhere) before its
// 10 s lease runs out, /healthz says so, and alice on g1 sees bob `off`.
// The proxy heals: g2 comes back under a new incarnation and serves bob
// again, across the nodes.
func TestPartitionFencingProcess(t *testing.T) {
	nc := natstest.Start(t, 3, natstest.NoAdvertise)
	proxy := natstest.NewProxy(t, strings.TrimPrefix(nc.Servers[2].ClientURL(), "nats://"))
	g1 := startBinary(t, t.TempDir(), "--quic", "off", "--node-name", "g1", "--nats", nc.URL())
	g2 := startBinary(t, t.TempDir(), "--quic", "off", "--node-name", "g2", "--nats", proxy.URL())
	health := func() (int, map[string]string) {
		code, _, body := httpGet(t, "http://"+g2.addr+"/healthz")
		var v map[string]string
		json.Unmarshal([]byte(body), &v)
		return code, v
	}
	code, h := health()
	before := h["node"]
	if code != 200 || h["cluster"] != "ok" || before == "" {
		t.Fatalf("g2 healthz %d %v", code, h)
	}
	alice := dial(t, "ws://"+g1.addr+"/")
	alice.open("app", "alice", "bob")
	bob := dial(t, "ws://"+g2.addr+"/")
	bob.open("app", "bob")
	if p := alice.next("presence", ""); p["status"] != "on" {
		t.Fatalf("presence = %v", p)
	}

	cut := time.Now()
	proxy.Cut(true)
	const lease = 10 * time.Second
	bob.ws.SetReadDeadline(cut.Add(lease + 5*time.Second))
	var closeErr *websocket.CloseError
	for {
		_, _, err := bob.ws.ReadMessage()
		if err != nil {
			if !errors.As(err, &closeErr) {
				t.Fatalf("bob's connection ended with %v, not a close frame", err)
			}
			break
		}
	}
	fenced := time.Since(cut)
	if closeErr.Code != websocket.CloseGoingAway {
		t.Fatalf("bob closed with %d (%s), want 1001", closeErr.Code, closeErr.Text)
	}
	if fenced >= lease {
		t.Fatalf("g2 closed bob %s after the cut, not before its %s lease ran out", fenced, lease)
	}
	t.Logf("g2 fenced itself %s after the cut (lease %s): 1001 %q", fenced.Round(time.Millisecond), lease, closeErr.Text)
	if code, h := health(); code != 503 {
		t.Fatalf("g2 healthz while cut off: %d %v", code, h)
	}
	alice.ws.SetReadDeadline(cut.Add(lease + 10*time.Second)) // the off comes with the lease's end
	for {
		_, b, err := alice.ws.ReadMessage()
		if err != nil {
			t.Fatalf("no presence off for bob: %v", err)
		}
		var m map[string]any
		if json.Unmarshal(b, &m) == nil && m["cmd"] == "presence" {
			if m["status"] != "off" {
				t.Fatalf("presence = %v", m)
			}
			break
		}
	}
	t.Logf("alice saw bob off %s after the cut", time.Since(cut).Round(time.Millisecond))

	proxy.Cut(false)
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, h = health()
		if code == 200 && h["cluster"] == "ok" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("g2 not healthy 30 s after the proxy healed: %d %v\n%s", code, h, g2.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if h["node"] == before || !strings.HasPrefix(h["node"], "g2-") {
		t.Fatalf("g2 came back as %q, was %q: want a new incarnation", h["node"], before)
	}
	bob2 := dial(t, "ws://"+g2.addr+"/")
	bob2.open("app", "bob", "alice")
	if p := alice.next("presence", ""); p["status"] != "on" {
		t.Fatalf("presence = %v", p)
	}
	alice.send(map[string]any{"cmd": "direct", "peerId": "alice", "msg": "back", "toPeerIds": []string{"bob"}, "transient": true})
	if got := bob2.next("direct", ""); got["msg"] != "back" {
		t.Fatalf("direct = %v", got)
	}
	// SIGKILL, by pid: the process is a real one.
	if err := g2.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-g2.exited
}

// TestNATSMonitorSyncGuard: with --nats-monitor, a node refuses to start
// on a nats-server whose JetStream does not sync every write, saying
// which and what to set, and starts on one that does (acceptance test 11).
func TestNATSMonitorSyncGuard(t *testing.T) {
	nsrv := func(syncAlways bool) (client, monitor string) {
		s, err := natsserver.NewServer(&natsserver.Options{
			Host: "127.0.0.1", Port: natsserver.RANDOM_PORT, HTTPHost: "127.0.0.1", HTTPPort: natsserver.RANDOM_PORT,
			JetStream: true, StoreDir: t.TempDir(), SyncAlways: syncAlways, NoSigs: true, NoLog: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatal("nats-server not ready")
		}
		return s.ClientURL(), "http://" + s.MonitorAddr().String()
	}
	url, monitor := nsrv(false)
	code, out := runBinary(t, nil, "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--quic", "off",
		"--nats", url, "--nats-unsafe-single-replica", "--nats-monitor", monitor)
	if code == 0 || !strings.Contains(out, "does not sync every write") || !strings.Contains(out, "sync_interval: always") {
		t.Fatalf("exit %d on a server with the default sync interval; output:\n%s", code, out)
	}
	url, monitor = nsrv(true)
	p := startBinary(t, t.TempDir(), "--quic", "off", "--nats", url, "--nats-unsafe-single-replica", "--nats-monitor", monitor)
	if !strings.Contains(p.out.String(), "nats-server syncs every write") {
		t.Fatalf("no check logged; output:\n%s", p.out)
	}
}

// TestHeldEntriesSurviveKill: alice and bob are on g1; bob reads but
// never acks, so g1 holds bob's inbox entries in memory (InboxDelay) when
// it gets SIGKILL right after the last ack to alice. bob reconnects to g2
// within 5 s and still gets every message alice got an ack for: g2
// publishes g1's held entries from the history records once g1's writer
// key goes stale, and sends them to bob's open session.
func TestHeldEntriesSurviveKill(t *testing.T) {
	nc := natstest.Start(t, 3)
	g1 := startBinary(t, t.TempDir(), "--quic", "off", "--node-name", "g1", "--nats", nc.URL())
	g2 := startBinary(t, t.TempDir(), "--quic", "off", "--node-name", "g2", "--nats", nc.URL())
	alice := dial(t, "ws://"+g1.addr+"/")
	alice.open("app", "alice", "bob")
	bob := dial(t, "ws://"+g1.addr+"/")
	bob.open("app", "bob")
	var acked []string
	for i := range 40 {
		alice.send(map[string]any{"cmd": "direct", "peerId": "alice", "msg": fmt.Sprint(i), "toPeerIds": []string{"bob"}, "i": i + 2})
		acked = append(acked, alice.next("ack", "")["uid"].(string))
	}
	killed := time.Now()
	if err := g1.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	bob2 := dial(t, "ws://"+g2.addr+"/")
	bob2.open("app", "bob")
	resumed := time.Since(killed)
	got := map[string]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < len(acked) {
		bob2.ws.SetReadDeadline(deadline)
		_, b, err := bob2.ws.ReadMessage()
		if err != nil {
			missing := 0
			for _, id := range acked {
				if !got[id] {
					missing++
				}
			}
			t.Fatalf("%d of %d acknowledged messages never reached bob on g2: %v\ng2 output:\n%s", missing, len(acked), err, g2.out)
		}
		var m map[string]any
		if json.Unmarshal(b, &m) != nil || m["cmd"] != "direct" {
			continue
		}
		id, _ := m["id"].(string)
		got[id] = true
		if err := bob2.ws.WriteJSON(map[string]any{"cmd": "ack", "peerId": "bob", "ids": []string{id}}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("bob reopened on g2 %v after g1's SIGKILL; all %d messages arrived %v after the kill", resumed.Round(time.Millisecond), len(acked), time.Since(killed).Round(time.Millisecond))
	if resumed > 5*time.Second {
		t.Fatalf("resumed after %s, over 5 s", resumed)
	}
}

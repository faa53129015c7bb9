package main

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rtgate/rtgate/internal/natsembed/natstest"
)

// TestClusterPush: three embedded nodes with the same push webhook; the
// messages stored for an offline peer produce one webhook call each, made
// by whichever node took the notice from the shared push queue.
func TestClusterPush(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls[r.Header.Get("Idempotency-Key")]++
		mu.Unlock()
	}))
	defer hook.Close()
	cfg := filepath.Join(t.TempDir(), "rtgate.json")
	if err := os.WriteFile(cfg, []byte(`{"apps":[{"id":"papp","key":"k","masterKey":"m",
		"push":{"url":"`+hook.URL+`","secret":"s3cret"}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	nodes := startEmbedCluster(t, 3, func(int) []string { return []string{"--config", cfg} })
	alice := dial(t, "ws://"+nodes[1].addr+"/")
	alice.open("papp", "alice", "bob")
	const n = 5
	var ids []string
	for i := range n {
		alice.send(map[string]any{"cmd": "direct", "peerId": "alice", "toPeerIds": []string{"bob"}, "msg": fmt.Sprint("m", i), "i": i + 1})
		ids = append(ids, alice.next("ack", "")["uid"].(string))
	}
	// Wait until the nodes together finished n notices.
	handled := regexp.MustCompile(`(?m)^rtgate_pushqueue_handled_total (\d+)`)
	deadline := time.Now().Add(60 * time.Second)
	for {
		total := 0
		for _, s := range nodes {
			_, _, m := httpGet(t, "http://"+s.addr+"/metrics")
			if v := handled.FindStringSubmatch(m); v != nil {
				k, _ := strconv.Atoi(v[1])
				total += k
			}
		}
		if total == n {
			break
		}
		if total > n || time.Now().After(deadline) {
			t.Fatalf("%d notices handled, want %d", total, n)
		}
		time.Sleep(100 * time.Millisecond) // polling three processes' metrics
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != n {
		t.Fatalf("webhook calls %v, want one for each of %v", calls, ids)
	}
	for _, id := range ids {
		if calls["papp:"+id] != 1 {
			t.Fatalf("webhook calls %v, want one for each of %v", calls, ids)
		}
	}
}

// TestClusterPushKill: two rtgate binaries on three nats-servers share the
// push queue; the webhook holds the calls of node g2 (each node's config
// names it in the URL) and answers g1's at once. Once every notice is
// either sent by g1 or held by g2, g2 is killed with SIGKILL by pid. Every
// message then has its webhook call: the notices g2 held come again from
// g1 (after the queue's 30 s AckWait) with the same Idempotency-Key, and
// those are the only keys called twice.
func TestClusterPushKill(t *testing.T) {
	const n = 40
	var (
		mu       sync.Mutex
		calls    = map[string]map[string]int{} // node -> key -> calls; guarded by mu
		inFlight = map[string]bool{}           // keys g2 is being held on; guarded by mu
		killed   bool                          // guarded by mu
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		node, key := r.URL.Query().Get("node"), r.Header.Get("Idempotency-Key")
		// The server notices a client gone (and ends r's context) only
		// once the body is read.
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		if calls[node] == nil {
			calls[node] = map[string]int{}
		}
		calls[node][key]++
		hold := node == "g2" && !killed
		if hold {
			inFlight[key] = true
		}
		mu.Unlock()
		if hold {
			<-r.Context().Done() // until g2 dies
			return
		}
	}))
	defer hook.Close()
	nc := natstest.Start(t, 3)
	var nodes []*process
	for _, name := range []string{"g1", "g2"} {
		cfg := filepath.Join(t.TempDir(), "rtgate.json")
		if err := os.WriteFile(cfg, []byte(`{"apps":[{"id":"papp","key":"k","masterKey":"m",
			"push":{"url":"`+hook.URL+`/?node=`+name+`","secret":"s3cret"}}]}`), 0o600); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, startBinary(t, t.TempDir(), "--quic", "off", "--node-name", name, "--nats", nc.URL(), "--config", cfg))
	}
	g1, g2 := nodes[0], nodes[1]
	alice := dial(t, "ws://"+g1.addr+"/")
	alice.open("papp", "alice", "bob") // v1: a message goes only to watched peers
	var ids []string
	for i := range n {
		alice.send(map[string]any{"cmd": "direct", "peerId": "alice", "toPeerIds": []string{"bob"}, "msg": fmt.Sprint("m", i), "i": i + 1})
		ids = append(ids, alice.next("ack", "")["uid"].(string))
	}
	// Every notice is accounted for: sent by g1 or held by g2. No call can
	// start any more until the AckWait of g2's notices runs out.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		g1n, g2n := len(calls["g1"]), len(inFlight)
		mu.Unlock()
		if g1n+g2n == n {
			if g2n == 0 {
				t.Fatalf("g1 sent all %d notices before g2 took one: nothing to kill it in the middle of", n)
			}
			break
		}
		if time.Now().After(deadline) {
			_, _, m1 := httpGet(t, "http://"+g1.addr+"/metrics")
			_, _, m2 := httpGet(t, "http://"+g2.addr+"/metrics")
			re := regexp.MustCompile(`(?m)^rtgate_push.*$`)
			t.Fatalf("after 60 s: g1 sent %d notices, g2 holds %d, want %d together; calls %v\ng1:\n%s\n%s\ng2:\n%s\n%s", g1n, g2n, n, calls,
				g1.out, re.FindAllString(m1, -1), g2.out, re.FindAllString(m2, -1))
		}
	}
	mu.Lock()
	killed = true
	held := maps.Clone(inFlight)
	mu.Unlock()
	if err := g2.cmd.Process.Kill(); err != nil { // SIGKILL, by pid
		t.Fatal(err)
	}
	<-g2.exited
	t.Logf("g2 killed while holding %d of %d notices", len(held), n)

	// g1 takes g2's notices once their AckWait (30 s) has passed.
	for deadline := time.Now().Add(120 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		mu.Lock()
		g1n := len(calls["g1"])
		mu.Unlock()
		if g1n == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the kill, g1 sent %d notices of %d", g1n, n)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		key := "papp:" + id
		want2 := 0
		if held[key] {
			want2 = 1
		}
		if calls["g1"][key] != 1 || calls["g2"][key] != want2 {
			t.Errorf("key %s: %d calls from g1, %d from g2; want 1 and %d (held by g2 at the kill: %v)",
				key, calls["g1"][key], calls["g2"][key], want2, held[key])
		}
	}
	if len(calls["g1"]) != n || len(calls["g2"]) != len(held) {
		t.Errorf("calls for keys that are not the messages': g1 %v, g2 %v", calls["g1"], calls["g2"])
	}
}

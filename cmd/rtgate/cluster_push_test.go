package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
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

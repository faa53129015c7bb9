package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rtgate/rtgate/internal/config"
	"github.com/rtgate/rtgate/internal/opsview"
)

// checkOperatorView checks, on a running three-node cluster whose node 0
// runs the history indexer: the status endpoint on the client port and on
// `rtgate cluster status` (nodes, incarnations, connections, the assets
// and their consumers), and that every metric the Grafana dashboard names
// is on node 0's /metrics; then kicks alice (connected to node 1 as a)
// from node 2. TestClusterHistory calls it.
func checkOperatorView(t *testing.T, nodes []*inProcess, a *client) {
	t.Helper()
	code, body := httpDo(t, "GET", "http://"+nodes[2].addr+statusPath)
	var st opsview.Status
	if code != 200 || json.Unmarshal([]byte(body), &st) != nil {
		t.Fatalf("status: %d %s", code, body)
	}
	if len(st.Nodes) != 3 || st.Nodes[0].Name != "node0" || !st.Nodes[0].Indexer || st.Nodes[0].IndexerLag != 0 ||
		st.Nodes[1].Indexer || st.Nodes[1].Connections != 1 || st.Nodes[1].Incarnation == "" {
		t.Fatalf("status nodes: %+v", st.Nodes)
	}
	var hist *opsview.Asset
	for i, a := range st.Assets {
		if a.Name == "RT_HIST" {
			hist = &st.Assets[i]
		}
	}
	if hist == nil || hist.Replicas != 3 || hist.Leader == "" || len(hist.Followers) != 2 ||
		len(hist.Consumers) != 1 || hist.Consumers[0].Name != "hist-idx-node0" || hist.Consumers[0].Pending != 0 {
		t.Fatalf("status: RT_HIST %+v in %+v", hist, st.Assets)
	}

	// The command line, through node 0's embedded nats-server.
	url := regexp.MustCompile(`client_url=(nats://[0-9.:]+)`).FindStringSubmatch(nodes[0].out.String())
	if url == nil {
		t.Fatal("no client_url in node 0's log")
	}
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if c := runCluster(ctx, []string{"status", "--nats", url[1]}, &out, &errOut, func(string) string { return "" }); c != 0 {
		t.Fatalf("rtgate cluster status: exit %d: %s", c, errOut.String())
	}
	for _, want := range []string{"nodes: 3", "node0", "history indexer lag 0", "RT_HIST", "R3 leader", "consumer hist-idx-node0", "RT_INBOX"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("rtgate cluster status lacks %q:\n%s", want, out.String())
		}
	}

	// The dashboard's metrics.
	b, err := os.ReadFile("../../docs/grafana/rtgate-cluster.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	_, _, metrics := httpGet(t, "http://"+nodes[0].addr+"/metrics")
	var names []string
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, m := range regexp.MustCompile(`rtgate_[a-z0-9_]+`).FindAllString(tg.Expr, -1) {
				names = append(names, m)
				if !regexp.MustCompile(`(?m)^` + m + `[{ ]`).MatchString(metrics) {
					t.Errorf("dashboard panel %q names %s, not on /metrics", p.Title, m)
				}
			}
		}
	}
	if names = slices.Compact(slices.Sorted(slices.Values(names))); len(names) < 10 {
		t.Fatalf("dashboard names only %v", names)
	}

	// Kick alice from node 2: node 1 closes her connection with 1000.
	code, body = httpDo(t, "POST", "http://"+nodes[2].addr+kickPath+"?peer=alice&reason=bye")
	if code != 200 || !strings.Contains(body, `"connections":1,`) || !strings.Contains(body, `"connection":true`) ||
		!strings.Contains(body, `"node":"`+st.Nodes[1].Incarnation+`"`) || strings.Count(body, `"node":`) != 1 {
		t.Fatalf("kick: %d %s", code, body)
	}
	a.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := a.ws.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			if ce.Code != 1000 || ce.Text != "bye" {
				t.Fatalf("kicked with %d %q", ce.Code, ce.Text)
			}
			break
		}
		if err != nil {
			t.Fatalf("kicked connection: %v", err)
		}
	}
	checkSessionClose(t, nodes, url[1])

	// The client has seen its close; the node forgets the connection once
	// its reader has ended, a moment later. A second kick then finds none.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out.Reset()
		errOut.Reset()
		c := runCluster(ctx, []string{"kick", "--nats", url[1], "--app", "app", "--peer", "alice"}, &out, &errOut, func(string) string { return "" })
		if c == 0 && strings.Contains(out.String(), "0 nodes held alice, 0 connections closed, 0 sessions closed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rtgate cluster kick: exit %d: %s %s", c, out.String(), errOut.String())
		}
	}
}

// checkSessionClose lists carol's sessions, then closes one session of a
// multiplexed modern connection on node 1 from the command line (through
// node 0's nats-server, to node 1's control subject): carol gets `session closed` with 4115 and the
// reason, and dave's session on the same connection stays open.
func checkSessionClose(t *testing.T, nodes []*inProcess, natsURL string) {
	t.Helper()
	m := dialSubprotocol(t, "ws://"+nodes[1].addr+"/", "rtgate.json.1")
	m.open("app", "carol")
	m.open("app", "dave")
	other := dialSubprotocol(t, "ws://"+nodes[1].addr+"/", "rtgate.json.1")
	other.open("app", "carol")
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The listing names both of carol's sessions, with the addresses the
	// node sees; the kick below picks the multiplexed one by it.
	addr := m.ws.LocalAddr().String()
	if c := runCluster(ctx, []string{"sessions", "--nats", natsURL, "--app", "app", "--peer", "carol"}, &out, &errOut,
		func(string) string { return "" }); c != 0 {
		t.Fatalf("rtgate cluster sessions: exit %d: %s %s", c, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "1 nodes hold carol, 2 sessions") || !strings.Contains(out.String(), "ws modern session of carol from "+addr) ||
		!strings.Contains(out.String(), "ws modern session of carol from "+other.ws.LocalAddr().String()) {
		t.Fatalf("rtgate cluster sessions:\n%s", out.String())
	}
	out.Reset()
	// The same listing over HTTP, from node 2.
	code, body := httpDo(t, "GET", "http://"+nodes[2].addr+sessionsPath+"?peer=carol")
	if code != 200 || !strings.Contains(body, `"sessions":2}`) || !strings.Contains(body, `"addr":"`+addr+`"`) {
		t.Fatalf("GET %s: %d %s", sessionsPath, code, body)
	}
	if c := runCluster(ctx, []string{"kick", "--nats", natsURL, "--app", "app", "--peer", "carol", "--session", "--addr", addr, "--reason", "one session"},
		&out, &errOut, func(string) string { return "" }); c != 0 {
		t.Fatalf("rtgate cluster kick --session: exit %d: %s %s", c, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "1 nodes held carol, 0 connections closed, 1 sessions closed") ||
		!strings.Contains(out.String(), "ws session closed of carol from "+addr) {
		t.Fatalf("rtgate cluster kick --session:\n%s", out.String())
	}
	closed := m.next("session", "closed")
	if closed["peerId"] != "carol" || closed["code"] != float64(4115) || closed["reason"] != "one session" || closed["i"] != nil {
		t.Fatalf("session closed push: %v", closed)
	}
	m.send(map[string]any{"cmd": "session", "op": "query", "appId": "app", "peerId": "dave", "sessionPeerIds": []string{"carol"}, "i": 7})
	q := m.next("session", "query-result")
	if q["i"] != float64(7) || !slices.Equal(anyStrings(q["onlineSessionPeerIds"]), []string{"carol"}) {
		t.Fatalf("dave's query after carol's close: %v", q)
	}
	m.send(map[string]any{"cmd": "session", "op": "query", "appId": "app", "peerId": "carol", "sessionPeerIds": []string{"dave"}, "i": 8})
	if e := m.next("error", ""); e["code"] != float64(4105) || e["i"] != float64(8) {
		t.Fatalf("carol's query after her close: %v", e)
	}
	// The other connection's carol session is untouched: she answers.
	other.send(map[string]any{"cmd": "session", "op": "query", "appId": "app", "peerId": "carol", "sessionPeerIds": []string{"dave"}, "i": 9})
	if q := other.next("session", "query-result"); q["i"] != float64(9) {
		t.Fatalf("carol's other session: %v", q)
	}
}

func anyStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestStatusNeedsMasterKey: with apps configured, the status, the kick and
// the session listing on the client port need one of their master keys; a single node says it is
// not a cluster node.
func TestStatusNeedsMasterKey(t *testing.T) {
	s := &server{apps: []config.App{{ID: "a1", Key: "k1", MasterKey: "m1"}, {ID: "a2", Key: "k2"}}}
	for _, tc := range []struct {
		id, key string
		want    int
	}{
		{"a1", "m1,master", 404}, {"a1", "m1", 401}, {"a1", "k1", 401}, {"a2", ",master", 401},
		{"a2", "m1,master", 401}, {"", "", 401},
	} {
		req := httptest.NewRequest("GET", statusPath, nil)
		req.Header.Set("X-LC-Id", tc.id)
		req.Header.Set("X-LC-Key", tc.key)
		w := httptest.NewRecorder()
		s.clusterStatus(true)(w, req)
		if w.Code != tc.want {
			t.Errorf("%s %q: %d %s, want %d", tc.id, tc.key, w.Code, w.Body, tc.want)
		}
		if tc.want != 401 {
			continue
		}
		for _, h := range []http.HandlerFunc{s.clusterKick(true), s.clusterSessions(true)} {
			w := httptest.NewRecorder()
			h(w, req)
			if w.Code != 401 {
				t.Errorf("kick or sessions with %s %q: %d %s, want 401", tc.id, tc.key, w.Code, w.Body)
			}
		}
	}
}

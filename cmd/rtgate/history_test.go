package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func httpDo(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-LC-Id", "app")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

type logEntry struct {
	Timestamp int64  `json:"timestamp"`
	ConvID    string `json:"conv-id"`
	Data      string `json:"data"`
	MsgID     string `json:"msg-id"`
}

func logsOn(t *testing.T, addr, query string) []logEntry {
	t.Helper()
	code, body := httpDo(t, "GET", "http://"+addr+"/1.1/rtm/messages/logs?"+query)
	var out []logEntry
	if code != 200 || json.Unmarshal([]byte(body), &out) != nil {
		t.Fatalf("logs on %s: %d %s", addr, code, body)
	}
	return out
}

// TestClusterHistory: on a three-node cluster whose node 0 runs the
// history indexer (--history-indexer), a message is on the history pages
// of every node right after its ack, a DELETE on one node removes it from
// every node's pages, and node 0's /metrics shows the indexer's lag; then
// the operator's view (checkOperatorView).
func TestClusterHistory(t *testing.T) {
	nodes := startEmbedCluster(t, 3, func(i int) []string {
		if i == 0 {
			return []string{"--history-indexer"}
		}
		return nil
	})
	a := dial(t, "ws://"+nodes[1].addr+"/")
	a.open("app", "alice", "bob")
	for i := range 3 {
		a.send(map[string]any{"cmd": "direct", "peerId": "alice", "msg": fmt.Sprint("m", i), "toPeerIds": []string{"bob"}, "i": i + 1})
		ack := a.next("ack", "")
		for _, s := range nodes { // read-your-writes, on every node
			got := logsOn(t, s.addr, "from=alice")
			if len(got) != i+1 || got[0].MsgID != ack["uid"] || got[0].Data != fmt.Sprint("m", i) {
				t.Fatalf("node %s right after ack %v: %+v", s.addr, ack, got)
			}
		}
	}
	first := logsOn(t, nodes[2].addr, "from=alice")[2]
	code, body := httpDo(t, "DELETE", "http://"+nodes[2].addr+"/1.1/rtm/messages/logs?"+url.Values{
		"convid": {first.ConvID}, "msgid": {first.MsgID}, "timestamp": {fmt.Sprint(first.Timestamp)}}.Encode())
	if code != 200 {
		t.Fatalf("DELETE: %d %s\nnode 2:\n%s", code, body, nodes[2].out)
	}
	for _, s := range nodes {
		got := logsOn(t, s.addr, "convid="+url.QueryEscape(first.ConvID))
		if len(got) != 2 || got[0].Data != "m2" || got[1].Data != "m1" {
			t.Fatalf("node %s after delete: %+v", s.addr, got)
		}
	}
	_, _, metrics := httpGet(t, "http://"+nodes[0].addr+"/metrics")
	for _, name := range []string{"rtgate_hist_indexer_lag_messages", "rtgate_hist_indexer_applied_seq 4"} {
		if !strings.Contains(metrics, name) {
			t.Errorf("/metrics of the indexer node lacks %q", name)
		}
	}
	checkOperatorView(t, nodes, a)
}

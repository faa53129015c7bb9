package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPushHookFromConfigFile: an app with a push webhook in the config file
// gets a signed notice when a persistent message is stored for an offline
// peer, and none for an online one.
func TestPushHookFromConfigFile(t *testing.T) {
	got := make(chan map[string]any, 4)
	hdrs := make(chan http.Header, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var v map[string]any
		json.Unmarshal(b, &v)
		got <- v
		hdrs <- r.Header
	}))
	defer hook.Close()

	dir := t.TempDir()
	cfg := filepath.Join(dir, "rtgate.json")
	os.WriteFile(cfg, []byte(`{"apps":[{"id":"papp","key":"k","masterKey":"m",
		"push":{"url":"`+hook.URL+`","secret":"s3cret","text":"You have a new message"}}]}`), 0o600)
	s := start(t, filepath.Join(dir, "data"), "--config", cfg)

	alice := dial(t, "ws://"+s.addr+"/")
	alice.open("papp", "alice", "bob")
	alice.send(map[string]any{"cmd": "direct", "peerId": "alice", "toPeerIds": []string{"bob"}, "msg": "hi", "i": 2})
	ack := alice.next("ack", "")

	select {
	case v := <-got:
		h := <-hdrs
		if v["from"] != "alice" || v["msgId"] != ack["uid"] || v["text"] != "You have a new message" {
			t.Fatalf("notice = %v (ack %v)", v, ack)
		}
		if to, _ := v["to"].([]any); len(to) != 1 || to[0] != "bob" {
			t.Fatalf("notice to = %v", v["to"])
		}
		if h.Get("X-Rtgate-Signature") == "" || h.Get("Idempotency-Key") != "papp:"+ack["uid"].(string) {
			t.Fatalf("headers = %v", h)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no push notice")
	}

	bob := dial(t, "ws://"+s.addr+"/")
	bob.open("papp", "bob")
	alice.send(map[string]any{"cmd": "direct", "peerId": "alice", "toPeerIds": []string{"bob"}, "msg": "online now", "i": 3})
	alice.next("ack", "")
	bob.next("direct", "")
	select {
	case v := <-got:
		t.Fatalf("notice for an online peer: %v", v)
	case <-time.After(300 * time.Millisecond):
	}
}

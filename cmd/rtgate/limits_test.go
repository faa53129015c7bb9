package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rtgate/rtgate/core"
)

// TestHubLimitsFromConfigFile: the signature nonce cache and the group size
// limit given in the config file reach the hub.
func TestHubLimitsFromConfigFile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "rtgate.json")
	os.WriteFile(cfg, []byte(`{"apps":[{"id":"sapp","key":"k","masterKey":"m","signatures":true}],
		"limits":{"nonceCache":100,"signatureWindow":"1h","maxGroupMembers":1}}`), 0o600)
	s := start(t, filepath.Join(dir, "data"), "--config", cfg)

	ts := strconv.FormatInt(time.Now().Unix(), 10)
	open := map[string]any{"cmd": "session", "op": "open", "appId": "sapp", "peerId": "alice", "sessionPeerIds": []string{},
		"t": ts, "n": "once", "s": core.Sign("m", core.SessionSignFields("sapp", "alice", nil, ts, "once", false)...), "i": 1}
	first := dial(t, "ws://"+s.addr+"/")
	first.send(open)
	first.next("session", "opened")
	replay := dial(t, "ws://"+s.addr+"/")
	replay.send(open)
	if code := replay.closeCode(); code != 4108 {
		t.Fatalf("replayed nonce: close %d, want 4108", code)
	}

	// maxGroupMembers 1: the creator fills the group, an invite is rejected.
	gts := strconv.FormatInt(time.Now().Unix(), 10)
	first.send(map[string]any{"cmd": "room", "op": "join", "peerId": "alice", "t": gts, "n": "g1",
		"s": core.Sign("m", core.RoomSignFields("sapp", "alice", "", nil, gts, "g1", "join")...), "i": 2})
	room := first.next("room", "joined")["roomId"].(string)
	first.send(map[string]any{"cmd": "room", "op": "invite", "peerId": "alice", "roomId": room, "roomPeerIds": []string{"bob"},
		"t": gts, "n": "g2", "s": core.Sign("m", core.RoomSignFields("sapp", "alice", room, []string{"bob"}, gts, "g2", "invite")...), "i": 3})
	if r := first.next("room", ""); r["op"] != "members-joined" && r["op"] != "reject" {
		t.Fatalf("got %v", r)
	} else if r["op"] == "members-joined" {
		if r = first.next("room", ""); r["op"] != "reject" {
			t.Fatalf("invite past maxGroupMembers: got %v, want reject", r)
		}
	}
}

// TestDedupeFromConfigFile: by default a modern client's repeated send
// (same client id) is acked with the first uid; "dedupeWindow":"-1s" in
// the config file turns that off.
func TestDedupeFromConfigFile(t *testing.T) {
	for _, c := range []struct {
		name, limits string
		same         bool
	}{
		{"default", `{}`, true},
		{"off", `{"dedupeWindow":"-1s"}`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "rtgate.json")
			os.WriteFile(cfg, []byte(`{"limits":`+c.limits+`}`), 0o600)
			s := start(t, filepath.Join(dir, "data"), "--config", cfg)
			a := dialSubprotocol(t, "ws://"+s.addr+"/", "rtgate.json.1")
			a.send(map[string]any{"cmd": "session", "op": "open", "appId": "dev", "peerId": "alice", "sessionPeerIds": []string{"bob"}, "i": 1})
			a.next("session", "opened")
			var uids []any
			for i := 2; i < 4; i++ {
				a.send(map[string]any{"cmd": "direct", "peerId": "alice", "toPeerIds": []string{"bob"}, "msg": "hi", "id": "c-1", "i": i})
				uids = append(uids, a.next("ack", "")["uid"])
			}
			if same := uids[0] == uids[1]; same != c.same {
				t.Fatalf("acks %v: same uid %v, want %v", uids, same, c.same)
			}
		})
	}
}

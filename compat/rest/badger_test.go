package rest_test

import (
	"testing"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/storage/badger"
)

// TestHistorySurvivesRestart writes history and a group through the REST
// API on a badger store, closes it, reopens the directory and reads both
// back.
func TestHistorySurvivesRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("badger")
	}
	dir := t.TempDir()
	open := func() *badger.Store {
		st, err := badger.New(badger.Config{Dir: dir, MemTableSize: 1 << 20, GCInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	conv := core.ConvID([]string{"u0988", "u1234"})

	st := open()
	e := newEnv(t, st, nil)
	a := e.post(`{"from_peer":"u1234","to_peers":["u0988"],"message":"before restart","transient":false}`)
	var created struct{ ObjectID string }
	e.do("POST", groups, appHdr, `{"name":"durable"}`).decode(t, 201, &created)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = open()
	t.Cleanup(func() { st.Close() })
	e = newEnv(t, st, nil)
	got := e.logs("convid="+conv, appHdr)
	if len(got) != 1 || got[0].MsgID != a.MsgID || got[0].Data != "before restart" || got[0].Timestamp != a.Timestamp {
		t.Fatalf("history after restart: %+v", got)
	}
	var unread struct{ Count int }
	e.do("GET", "/1.1/rtm/messages/unread/u0988", appHdr, "").decode(t, 200, &unread)
	if unread.Count != 1 {
		t.Fatalf("unread after restart = %d", unread.Count)
	}
	var g map[string]any
	e.do("GET", groups+"/"+created.ObjectID, appHdr, "").decode(t, 200, &g)
	if g["name"] != "durable" {
		t.Fatalf("group after restart: %+v", g)
	}
}

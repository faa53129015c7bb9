package rest_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rtgate/rtgate/cluster/natsbus"
	"github.com/rtgate/rtgate/compat/rest"
	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/internal/natsembed/natstest"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/storage/badger"
	"github.com/rtgate/rtgate/storage/histindex"
	"github.com/rtgate/rtgate/storage/jetstream"
)

// TestClusterREST runs one script of REST calls and realtime sessions
// twice: on a single node (Badger), and on three cluster nodes (three
// nats-servers, the JetStream store, natsbus, a history indexer) with the
// requests spread round-robin over the nodes and the sessions on
// different nodes. Every answer (status and body) and every frame a
// session receives must be the same, byte for byte once the generated
// values (message ids, group ids, times) are numbered in order of
// appearance. It covers server-side send (direct, group, open group,
// persistent and transient, live delivery across nodes), unread counts,
// open-group onlines, the AVOSRealtimeGroups class, history pages and
// DELETE, and error answers.
func TestClusterREST(t *testing.T) {
	runOnBoth(t, restScript)
}

// runOnBoth runs script on a single Badger node and on three cluster
// nodes, and compares what the two runs saw.
func runOnBoth(t *testing.T, script func(*restRun)) {
	t.Helper()
	if testing.Short() {
		t.Skip("three nats-servers and Badger")
	}
	single, err := badger.New(badger.Config{Dir: t.TempDir(), MemTableSize: 4 << 20, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { single.Close() })
	one := &restRun{t: t, nodes: []*env{newEnv(t, single, nil)}}
	clu := &restRun{t: t, nodes: newClusterNodes(t, 3)}
	script(one)
	script(clu)
	compareRuns(t, one, clu)
}

// compareRuns fails t at the first line where the two runs' transcripts
// differ.
func compareRuns(t *testing.T, one, clu *restRun) {
	t.Helper()
	want, got := one.transcript(), clu.transcript()
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(wl), len(gl)) {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			t.Fatalf("line %d differs:\nsingle node: %s\ncluster:     %s\n\nsingle node transcript:\n%s", i+1, w, g, want)
		}
	}
	t.Logf("%d REST calls and session frames compared (%d lines)", clu.calls, len(gl))
}

// newClusterNodes starts three nats-servers and n rtgate nodes on them,
// wired as cmd/rtgate wires a cluster node, with a history indexer on
// node 0.
func newClusterNodes(t *testing.T, n int) []*env {
	t.Helper()
	c := natstest.Start(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	quiet := slog.New(slog.DiscardHandler)
	app := &core.App{ID: appID, Key: appKey, MasterKey: masterKey}
	var nodes []*env
	for i := range n {
		bus, err := natsbus.Open(ctx, natsbus.Config{Conn: c.Connect(i % 3), Name: fmt.Sprint("node", i), Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { bus.Close() })
		js, err := jetstream.Open(ctx, bus.Conn(), jetstream.Config{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { js.Close() })
		hub, err := core.New(core.Config{Store: js, Apps: core.StaticApps{appID: app}, Deliverer: bus, Presence: bus, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		cl, err := histindex.NewClient(histindex.ClientConfig{Conn: bus.Conn()})
		if err != nil {
			t.Fatal(err)
		}
		h, err := rest.New(rest.Config{Store: histindex.Wrap(js, cl), Hub: hub, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle(rest.Prefix, h)
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		nodes = append(nodes, &env{t: t, srv: srv, hub: hub, store: js, app: app})
	}
	// The indexer, once the stores have made the history stream.
	ix, err := histindex.Open(ctx, histindex.Config{Conn: c.Connect(0), Dir: t.TempDir(), Name: "ix",
		MemTableSize: 4 << 20, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return nodes
}

// restRun is one run of restScript: its nodes, the next node a request
// goes to, and what it saw.
type restRun struct {
	t     *testing.T
	nodes []*env
	next  int
	calls int
	out   strings.Builder
}

// node returns the node that takes the next request (round-robin).
func (r *restRun) node() *env {
	e := r.nodes[r.next%len(r.nodes)]
	r.next++
	return e
}

// call makes one request on the next node and writes its answer to the
// transcript; it returns the answer.
func (r *restRun) call(method, path string, hdr map[string]string, body string) answer {
	r.t.Helper()
	r.calls++
	a := r.node().do(method, path, hdr, body)
	shown, err := url.QueryUnescape(path) // so that the ids in it are numbered
	if err != nil {
		shown = path
	}
	fmt.Fprintf(&r.out, "%s %s -> %d %s\n", method, shown, a.status, a.body)
	return a
}

// send posts a server-side send and waits until the clock has passed its
// time, so that no two messages of a run share a millisecond (their times
// are then numbered alike in both runs).
func (r *restRun) send(body string) sentAnswer {
	r.t.Helper()
	var s sentAnswer
	r.call("POST", "/1.1/rtm/messages", masterHdr, body).decode(r.t, 200, &s)
	r.tick(s.Timestamp)
	return s
}

// tick waits, bounded, until the wall clock is past ms.
func (r *restRun) tick(ms int64) {
	for deadline := time.Now().Add(time.Second); time.Now().UnixMilli() <= ms && time.Now().Before(deadline); {
		time.Sleep(100 * time.Microsecond)
	}
}

// session opens peer on node i (mod the node count). No waiting: a REST
// call on any node after `opened` sees the peer online.
func (r *restRun) session(i int, peer string) *coretest.MemConn {
	r.t.Helper()
	c := coretest.Dial(r.nodes[i%len(r.nodes)].hub, false)
	c.Open(r.t, appID, peer)
	return c
}

// settle waits until cond holds on every node (at once on a single
// node; presence and open groups spread over a cluster in milliseconds).
func (r *restRun) settle(what string, cond func(*core.Hub) bool) {
	r.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for _, e := range r.nodes {
		for !cond(e.hub) {
			if time.Now().After(deadline) {
				r.t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// expect writes the next frame peer's session receives to the transcript.
func (r *restRun) expect(peer string, c *coretest.MemConn, k protocol.Kind) *protocol.Command {
	r.t.Helper()
	f := c.Expect(r.t, k)
	fmt.Fprintf(&r.out, "%s got %s from=%q msg=%q id=%s t=%d room=%s transient=%v offline=%v\n",
		peer, f.Kind, f.FromPeerID, f.Msg, f.ID, f.Timestamp, f.RoomID, f.Transient, f.Offline)
	return f
}

// join makes peer's session join a group and waits for the answer.
func (r *restRun) join(c *coretest.MemConn, peer, group string) {
	r.t.Helper()
	if err := c.Send(&protocol.Command{Kind: protocol.KindRoomJoin, PeerID: peer, RoomID: group, I: 7}); err != nil {
		r.t.Fatal(err)
	}
	c.Expect(r.t, protocol.KindRoomJoined)
}

// generated matches the values a run makes up: message ids (14 base62
// after msg-id or id=), group ids (24 hex), times in ms and ISO times.
var generated = regexp.MustCompile(`("msg-id":"|id=)([0-9A-Za-z]{14})\b|\b([0-9a-f]{24})\b|\b(1[0-9]{12})\b|(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)`)

// transcript returns what the run saw, each generated value replaced by
// its kind and its rank of first appearance (ISO times, which the
// single-node tests check, by one placeholder).
func (r *restRun) transcript() string {
	text := r.out.String()
	names := map[string]string{}
	count := map[string]int{}
	name := func(kind, v string) string {
		if n, ok := names[v]; ok {
			return n
		}
		count[kind]++
		names[v] = fmt.Sprintf("<%s%d>", kind, count[kind])
		return names[v]
	}
	var b strings.Builder
	last := 0
	for _, m := range generated.FindAllStringSubmatchIndex(text, -1) {
		b.WriteString(text[last:m[0]])
		last = m[1]
		switch {
		case m[2] >= 0: // prefix and message id
			b.WriteString(text[m[2]:m[3]] + name("msg", text[m[4]:m[5]]))
		case m[6] >= 0:
			b.WriteString(name("group", text[m[6]:m[7]]))
		case m[8] >= 0:
			b.WriteString(name("ms", text[m[8]:m[9]]))
		default:
			b.WriteString("<iso time>")
		}
	}
	b.WriteString(text[last:])
	return b.String()
}

// restScript is what both runs do.
func restScript(r *restRun) {
	t := r.t
	// AVOSRealtimeGroups: create, read, update, query.
	var g struct{ ObjectID string }
	r.call("POST", groups, appHdr, `{"name":"room","size":3,"tags":["a","b"],"meta":{"x":1.5}}`).decode(t, 201, &g)
	r.call("GET", groups+"/"+g.ObjectID, appHdr, "")
	r.call("PUT", groups+"/"+g.ObjectID, appHdr, `{"name":"pals","size":{"__op":"Delete"}}`)
	r.call("GET", groups+"/"+g.ObjectID, appHdr, "")
	r.call("PUT", groups+"/"+g.ObjectID, appHdr, `{"m":["x"]}`)
	r.call("PUT", groups+"/000000000000000000000000", appHdr, `{"name":"x"}`)
	var open struct{ ObjectID string }
	r.call("POST", groups, appHdr, `{"tr":true,"name":"lobby"}`).decode(t, 201, &open)

	// A peer that just opened on node 2 gets a send made at once on
	// node 0, live.
	eve := r.session(2, "eve")
	r.next = 3 * (r.next/3 + 1)
	r.send(`{"from_peer":"alice","to_peers":["eve"],"message":"just opened"}`)
	r.expect("eve", eve, protocol.KindDirect)

	// Sessions on different nodes; bob and carol join the group.
	bob := r.session(1, "bob")
	carol := r.session(2, "carol")
	r.join(bob, "bob", g.ObjectID)
	r.expect("bob", bob, protocol.KindRoomMembersJoined)
	r.join(carol, "carol", g.ObjectID)
	r.expect("bob", bob, protocol.KindRoomMembersJoined)
	r.expect("carol", carol, protocol.KindRoomMembersJoined)
	for _, q := range []string{
		"", "where=" + url.QueryEscape(`{"name":"pals"}`), "where=" + url.QueryEscape(`{"m":"bob"}`),
		"where=" + url.QueryEscape(`{"tr":true}`), "where=" + url.QueryEscape(`{"objectId":"`+g.ObjectID+`"}`),
		"limit=0", "limit=1&skip=1", "count=1", "where=" + url.QueryEscape(`{"name":{"$ne":"x"}}`), "where=nope",
	} {
		r.call("GET", groups+"?"+q, appHdr, "")
	}

	// Server-side sends: a persistent direct message to a peer online on
	// another node, one to an offline peer, a transient one, a group one.
	a1 := r.send(`{"from_peer":"alice","to_peers":["bob"],"message":"hi bob","transient":false}`)
	r.expect("bob", bob, protocol.KindDirect)
	a2 := r.send(`{"from_peer":"alice","to_peers":["dave","bob"],"message":{"text":"to two","n":2},"transient":false}`)
	r.expect("bob", bob, protocol.KindDirect)
	r.send(`{"from_peer":"alice","to_peers":["carol"],"message":"live only"}`)
	r.expect("carol", carol, protocol.KindDirect)
	r.send(`{"from_peer":"server","group_id":"` + g.ObjectID + `","message":"to the group","transient":false}`)
	r.expect("bob", bob, protocol.KindDirect)
	r.expect("carol", carol, protocol.KindDirect)
	r.send(`{"from_peer":"bob","group_id":"` + g.ObjectID + `","message":"transient to the group"}`)
	r.expect("bob", bob, protocol.KindDirect)
	r.expect("carol", carol, protocol.KindDirect)

	// Unread counts, on every node in turn.
	for _, p := range []string{"bob", "dave", "carol", "nobody", "we/ird id"} {
		for range 3 { // on each node of a cluster
			r.call("GET", "/1.1/rtm/messages/unread/"+url.PathEscape(p), appHdr, "")
		}
	}

	// An open group with members on every node: onlines, and a send
	// from each node reaches them all. No waiting: a count or a send
	// made on any node after a member's join (or open, or leave) was
	// answered sees it.
	members := map[string]*coretest.MemConn{}
	names := []string{"o1", "o2", "o3", "o4"}
	for i, p := range names {
		members[p] = r.session(i, p)
		r.join(members[p], p, open.ObjectID)
	}
	for range 3 { // on each node of a cluster
		r.call("GET", "/1.1/rtm/transient_group/onlines?gid="+open.ObjectID, appHdr, "")
	}
	for i := range 3 {
		r.send(fmt.Sprintf(`{"from_peer":"srv","group_id":%q,"message":"open %d","transient":false}`, open.ObjectID, i))
		for _, p := range names {
			r.expect(p, members[p], protocol.KindDirect)
		}
	}
	members["o2"].Drop()
	if err := members["o3"].Send(&protocol.Command{Kind: protocol.KindRoomLeave, PeerID: "o3", RoomID: open.ObjectID, I: 8}); err != nil {
		t.Fatal(err)
	}
	members["o3"].Expect(t, protocol.KindRoomLeft)
	for range 3 { // on each node of a cluster
		r.call("GET", "/1.1/rtm/transient_group/onlines?gid="+open.ObjectID, appHdr, "")
	}
	// o2 opens again, on another node: back in the group; o3, which left,
	// opens again: not.
	r.session(2, "o2")
	r.session(0, "o3")
	for range 3 { // on each node of a cluster
		r.call("GET", "/1.1/rtm/transient_group/onlines?gid="+open.ObjectID, appHdr, "")
	}
	r.call("GET", "/1.1/rtm/transient_group/onlines?gid=000000000000000000000000", appHdr, "")
	r.call("GET", "/1.1/rtm/transient_group/onlines", appHdr, "")

	// History, on every node, then a DELETE and the pages and unread
	// counts after it.
	conv := core.ConvID([]string{"alice", "bob"})
	pages := func() {
		for _, q := range []string{
			"convid=" + conv, "convid=" + conv + "&limit=1", "convid=" + g.ObjectID, "convid=" + open.ObjectID,
			"from=alice", "from=server", "", "limit=2", fmt.Sprintf("convid=%s&max_ts=%d", conv, a2.Timestamp), fmt.Sprintf("max_ts=%d&msgid=%s", a2.Timestamp, a2.MsgID),
		} {
			for range 3 { // on each node of a cluster
				hdr := masterHdr
				if strings.HasPrefix(q, "convid") {
					hdr = appHdr
				}
				r.call("GET", "/1.1/rtm/messages/logs?"+q, hdr, "")
			}
		}
	}
	pages()
	del := "/1.1/rtm/messages/logs?" + url.Values{"convid": {conv}, "msgid": {a1.MsgID}, "timestamp": {fmt.Sprint(a1.Timestamp)}}.Encode()
	r.call("DELETE", del, masterHdr, "")
	r.call("DELETE", del, masterHdr, "")
	pages()
	for range 3 { // on each node of a cluster
		r.call("GET", "/1.1/rtm/messages/unread/bob", appHdr, "")
	}

	// Error answers.
	for _, b := range []string{
		`{"from_peer":"a","group_id":"000000000000000000000000","message":"x"}`,
		`{"from_peer":"a","to_peers":["b"]}`,
		`{"from_peer":"a:b","to_peers":["c"],"message":"x"}`,
		`{"from_peer":"a","to_peers":["b"],"group_id":"` + g.ObjectID + `","message":"x"}`,
	} {
		r.call("POST", "/1.1/rtm/messages", masterHdr, b)
	}
	r.call("POST", "/1.1/rtm/messages", appHdr, `{"from_peer":"a","to_peers":["b"],"message":"x"}`)
	// The old JS SDK's envelope: a GET of the group in a POST body.
	r.call("POST", groups+"/"+g.ObjectID, nil, `{"_method":"GET","_ApplicationId":"`+appID+`","_ApplicationKey":"`+appKey+`"}`)

	for _, c := range []*coretest.MemConn{bob, carol, members["o1"], members["o4"]} {
		c.ExpectNone(t, 50*time.Millisecond)
	}
}

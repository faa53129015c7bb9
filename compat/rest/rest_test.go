package rest_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rtgate/rtgate/compat/rest"
	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/memory"
)

const (
	appID     = "app1"
	appKey    = "appkey"
	masterKey = "masterkey"
)

var (
	appHdr    = map[string]string{"X-AVOSCloud-Application-Id": appID, "X-AVOSCloud-Application-Key": appKey}
	masterHdr = map[string]string{"X-LC-Id": appID, "X-LC-Key": masterKey + ",master"}
)

type env struct {
	t     *testing.T
	srv   *httptest.Server
	hub   *core.Hub
	store storage.Store
	app   *core.App
	// spread, when set, are the servers of every cluster node: do sends
	// each request to the next one (round-robin), srv is unused.
	spread []*httptest.Server
	next   int
}

// onEachSetup runs fn on one node (the memory store), and, unless
// -short, on three cluster nodes with the requests spread over them
// (sessions open on e.hub, node 0).
func onEachSetup(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Run("one node", func(t *testing.T) { fn(t, newEnv(t, nil, nil)) })
	t.Run("three nodes", func(t *testing.T) {
		if testing.Short() {
			t.Skip("three nats-servers")
		}
		nodes := newClusterNodes(t, 3)
		e := *nodes[0]
		for _, n := range nodes {
			e.spread = append(e.spread, n.srv)
		}
		fn(t, &e)
	})
}

// newEnv serves a handler over loopback HTTP, with app1 (keys set) and a
// memory store; mod may change the rest config.
func newEnv(t *testing.T, store storage.Store, mod func(*rest.Config)) *env {
	t.Helper()
	if store == nil {
		store = memory.New(memory.Config{})
	}
	app := &core.App{ID: appID, Key: appKey, MasterKey: masterKey}
	hub, err := core.New(core.Config{Store: store, Apps: core.StaticApps{appID: app}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.Config{Store: store, Hub: hub}
	if mod != nil {
		mod(&cfg)
	}
	h, err := rest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(rest.Prefix, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, hub: hub, store: store, app: app}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (e *env) do(method, path string, hdr map[string]string, body string) answer {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	srv := e.srv
	if len(e.spread) > 0 {
		srv = e.spread[e.next%len(e.spread)]
		e.next++
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// decode decodes a 2xx answer's body into v.
func (a answer) decode(t *testing.T, status int, v any) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d; body %s", a.status, status, a.body)
	}
	if err := json.Unmarshal([]byte(a.body), v); err != nil {
		t.Fatalf("body %q: %v", a.body, err)
	}
}

// wantError checks an error answer's status and JSON code.
func (a answer) wantError(t *testing.T, status, code int) {
	t.Helper()
	var e struct {
		Code  int    `json:"code"`
		Error string `json:"error"`
	}
	if a.status != status || json.Unmarshal([]byte(a.body), &e) != nil || e.Code != code || e.Error == "" {
		t.Fatalf("answer %d %s, want %d with code %d", a.status, a.body, status, code)
	}
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type %q", ct)
	}
}

type logRec struct {
	Timestamp int64           `json:"timestamp"`
	ConvID    string          `json:"conv-id"`
	Data      string          `json:"data"`
	From      string          `json:"from"`
	AppID     string          `json:"app-id"`
	MsgID     string          `json:"msg-id"`
	IsRoom    bool            `json:"is-room"`
	To        json.RawMessage `json:"to"`
	FromIP    string          `json:"from-ip"`
}

func (e *env) logs(query string, hdr map[string]string) []logRec {
	e.t.Helper()
	var out []logRec
	e.do("GET", "/1.1/rtm/messages/logs?"+query, hdr, "").decode(e.t, 200, &out)
	return out
}

type sentAnswer struct {
	MsgID     string `json:"msg-id"`
	Timestamp int64  `json:"timestamp"`
}

func (e *env) post(body string) sentAnswer {
	e.t.Helper()
	var s sentAnswer
	e.do("POST", "/1.1/rtm/messages", masterHdr, body).decode(e.t, 200, &s)
	if s.MsgID == "" || s.Timestamp == 0 {
		e.t.Fatalf("send answer %+v", s)
	}
	return s
}

// TestConvIDExample posts between u1234 and u0988 and reads the history of
// the documented conversation id md5("u0988:u1234").
func TestConvIDExample(t *testing.T) { onEachSetup(t, testConvIDExample) }

func testConvIDExample(t *testing.T, e *env) {
	const conv = "bcd26a54e98687390b0abb4d83683d4b"
	if got := core.ConvID([]string{"u1234", "u0988"}); got != conv {
		t.Fatalf("ConvID = %s", got)
	}
	a := e.post(`{"from_peer":"u1234","to_peers":["u0988"],"message":"hi","transient":false}`)
	b := e.post(`{"from_peer":"u0988","to_peers":["u1234"],"message":{"text":"yo", "n": 1},"transient":false}`)
	// a server-side send through the hub lands in the same conversation.
	m, err := e.hub.SendAs(t.Context(), core.Send{App: e.app, From: "u1234", To: []string{"u0988"}, Text: "third"})
	if err != nil {
		t.Fatal(err)
	}
	e.post(`{"from_peer":"u1234","to_peers":["u0988"],"message":"transient by default"}`) // not stored

	got := e.logs("convid="+conv, appHdr)
	if len(got) != 3 {
		t.Fatalf("logs = %+v", got)
	}
	ids := []string{got[0].MsgID, got[1].MsgID, got[2].MsgID}
	if !slices.Equal(ids, []string{m.ID, b.MsgID, a.MsgID}) {
		// equal times break ties by id descending; accept either order of equal-time records
		for _, r := range got {
			if !slices.Contains([]string{m.ID, b.MsgID, a.MsgID}, r.MsgID) {
				t.Fatalf("logs ids %v", ids)
			}
		}
	}
	for i := 1; i < len(got); i++ {
		if got[i].Timestamp > got[i-1].Timestamp {
			t.Fatalf("not newest first: %+v", got)
		}
	}
	for _, r := range got {
		if r.ConvID != conv || r.AppID != appID || r.IsRoom || (r.FromIP == "") != (r.MsgID == m.ID) {
			t.Fatalf("record %+v", r)
		}
	}
	var rb logRec
	for _, r := range got {
		if r.MsgID == b.MsgID {
			rb = r
		}
	}
	if rb.Data != `{"text":"yo","n":1}` || rb.From != "u0988" || string(rb.To) != `["u1234"]` || rb.Timestamp != b.Timestamp {
		t.Fatalf("object message record %+v to=%s", rb, rb.To)
	}
	// paging: limit 1, then max_ts + msgid after the first record.
	p1 := e.logs("convid="+conv+"&limit=1", appHdr)
	if len(p1) != 1 || p1[0].MsgID != got[0].MsgID {
		t.Fatalf("page 1 = %+v", p1)
	}
	p2 := e.logs(url.Values{"convid": {conv}, "limit": {"5"}, "max_ts": {itoa(p1[0].Timestamp)}, "msgid": {p1[0].MsgID}}.Encode(), appHdr)
	if len(p2) != 2 || p2[0].MsgID != got[1].MsgID || p2[1].MsgID != got[2].MsgID {
		t.Fatalf("page 2 = %+v, all %+v", p2, got)
	}
	// timestamp is inclusive, max_ts exclusive.
	if r := e.logs("convid="+conv+"&timestamp="+itoa(got[2].Timestamp), appHdr); len(r) == 0 || r[len(r)-1].MsgID != got[2].MsgID {
		t.Fatalf("timestamp inclusive: %+v", r)
	}
	if r := e.logs("convid="+conv+"&max_ts="+itoa(got[2].Timestamp), appHdr); slices.ContainsFunc(r, func(x logRec) bool { return x.Timestamp >= got[2].Timestamp }) {
		t.Fatalf("max_ts exclusive: %+v", r)
	}
	// trailing slash (iOS/Android), from (master), whole app (master).
	if r := e.logs("convid="+conv, appHdr); len(r) != 3 {
		t.Fatal(r)
	}
	var slash []logRec
	e.do("GET", "/1.1/rtm/messages/logs/?convid="+conv, appHdr, "").decode(t, 200, &slash)
	if len(slash) != 3 {
		t.Fatalf("trailing slash: %+v", slash)
	}
	if r := e.logs("from=u0988", masterHdr); len(r) != 1 || r[0].MsgID != b.MsgID {
		t.Fatalf("from: %+v", r)
	}
	if r := e.logs("", masterHdr); len(r) != 3 {
		t.Fatalf("app-wide: %+v", r)
	}
	e.do("GET", "/1.1/rtm/messages/logs?from=u0988", appHdr, "").wantError(t, 403, rest.CodeForbidden)
	e.do("GET", "/1.1/rtm/messages/logs", appHdr, "").wantError(t, 403, rest.CodeForbidden)
	e.do("GET", "/1.1/rtm/messages/logs?convid=x&from=y", masterHdr, "").wantError(t, 400, rest.CodeBadRequest)
	e.do("GET", "/1.1/rtm/messages/logs?convid=x&limit=ten", appHdr, "").wantError(t, 400, rest.CodeBadRequest)

	// unread: u0988 has a and m pending (b was sent by u0988).
	var unread struct{ Count int }
	e.do("GET", "/1.1/rtm/messages/unread/u0988", appHdr, "").decode(t, 200, &unread)
	if unread.Count != 2 {
		t.Fatalf("unread = %d", unread.Count)
	}

	// delete one record (master), then it is gone from history and inbox.
	q := url.Values{"convid": {conv}, "msgid": {a.MsgID}, "timestamp": {itoa(a.Timestamp)}}.Encode()
	e.do("DELETE", "/1.1/rtm/messages/logs?"+q, appHdr, "").wantError(t, 403, rest.CodeForbidden)
	if d := e.do("DELETE", "/1.1/rtm/messages/logs?"+q, masterHdr, ""); d.status != 200 || d.body != "{}" {
		t.Fatalf("delete = %+v", d)
	}
	e.do("DELETE", "/1.1/rtm/messages/logs?"+q, masterHdr, "").wantError(t, 404, rest.CodeObjectNotFound)
	e.do("DELETE", "/1.1/rtm/messages/logs?convid="+conv, masterHdr, "").wantError(t, 400, rest.CodeBadRequest)
	if r := e.logs("convid="+conv, appHdr); len(r) != 2 {
		t.Fatalf("after delete: %+v", r)
	}
	e.do("GET", "/1.1/rtm/messages/unread/u0988", appHdr, "").decode(t, 200, &unread)
	if unread.Count != 1 {
		t.Fatalf("unread after delete = %d", unread.Count)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestSendDelivers checks live delivery of a REST send, group sends and
// the send validation.
func TestSendDelivers(t *testing.T) { onEachSetup(t, testSendDelivers) }

func testSendDelivers(t *testing.T, e *env) {
	bob := coretest.Dial(e.hub, false)
	bob.Open(t, appID, "bob")
	e.post(`{"from_peer":"alice","to_peers":["bob"],"message":"live"}`)
	if m := bob.Expect(t, protocol.KindDirect); m.Msg != "live" || m.FromPeerID != "alice" || !m.Transient {
		t.Fatalf("delivered %+v", *m)
	}

	// a group made over REST, joined by bob; a persistent group send.
	var created struct{ ObjectID string }
	e.do("POST", "/1.1/classes/AVOSRealtimeGroups", appHdr, `{"name":"g"}`).decode(t, 201, &created)
	if err := bob.Send(&protocol.Command{Kind: protocol.KindRoomJoin, PeerID: "bob", RoomID: created.ObjectID, I: 1}); err != nil {
		t.Fatal(err)
	}
	bob.Expect(t, protocol.KindRoomJoined)
	bob.Expect(t, protocol.KindRoomMembersJoined)
	s := e.post(`{"from_peer":"server","group_id":"` + created.ObjectID + `","message":"to all","transient":false}`)
	if m := bob.Expect(t, protocol.KindDirect); m.RoomID != created.ObjectID || m.ID != s.MsgID {
		t.Fatalf("group delivered %+v", *m)
	}
	r := e.logs("convid="+created.ObjectID, appHdr)
	if len(r) != 1 || !r[0].IsRoom || string(r[0].To) != `"`+created.ObjectID+`"` || r[0].Data != "to all" {
		t.Fatalf("group log %+v", r)
	}

	tests := []struct {
		name   string
		hdr    map[string]string
		body   string
		status int
		code   int
	}{
		{"app key is not enough", appHdr, `{"from_peer":"a","to_peers":["b"],"message":"x"}`, 403, rest.CodeForbidden},
		{"malformed json", masterHdr, `{"from_peer":`, 400, rest.CodeInvalidJSON},
		{"not an object", masterHdr, `["a"]`, 400, rest.CodeInvalidJSON},
		{"no from", masterHdr, `{"to_peers":["b"],"message":"x"}`, 400, rest.CodeBadRequest},
		{"no recipients", masterHdr, `{"from_peer":"a","message":"x"}`, 400, rest.CodeBadRequest},
		{"both recipients and group", masterHdr, `{"from_peer":"a","to_peers":["b"],"group_id":"g","message":"x"}`, 400, rest.CodeBadRequest},
		{"21 recipients", masterHdr, `{"from_peer":"a","to_peers":["1","2","3","4","5","6","7","8","9","10","11","12","13","14","15","16","17","18","19","20","21"],"message":"x"}`, 400, rest.CodeBadRequest},
		{"no message", masterHdr, `{"from_peer":"a","to_peers":["b"]}`, 400, rest.CodeBadRequest},
		{"numeric message", masterHdr, `{"from_peer":"a","to_peers":["b"],"message":5}`, 400, rest.CodeIncorrectType},
		{"to_peers not a list", masterHdr, `{"from_peer":"a","to_peers":"b","message":"x"}`, 400, rest.CodeIncorrectType},
		{"message too long", masterHdr, `{"from_peer":"a","to_peers":["b"],"message":"` + strings.Repeat("x", protocol.MaxMessageBytes+1) + `"}`, 400, rest.CodeBadRequest},
		{"unknown group", masterHdr, `{"from_peer":"a","group_id":"000000000000000000000000","message":"x"}`, 404, rest.CodeObjectNotFound},
		{"v2 conv_id", masterHdr, `{"from_peer":"a","conv_id":"c","message":"x"}`, 400, rest.CodeBadRequest},
		{"':' in from_peer", masterHdr, `{"from_peer":"cp:cq","to_peers":["cr"],"message":"x"}`, 400, rest.CodeBadRequest},
		{"':' in to_peers", masterHdr, `{"from_peer":"cp","to_peers":["cq:cr"],"message":"x"}`, 400, rest.CodeBadRequest},
		{"from_peer not UTF-8", masterHdr, "{\"from_peer\":\"u\xff\",\"to_peers\":[\"b\"],\"message\":\"x\"}", 400, rest.CodeInvalidJSON},
		{"body over 64 KiB", masterHdr, `{"from_peer":"a","message":"` + strings.Repeat("x", 70<<10) + `"}`, 413, rest.CodeObjectTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.do("POST", "/1.1/rtm/messages", tc.hdr, tc.body).wantError(t, tc.status, tc.code)
		})
	}
}

func TestOnlines(t *testing.T) { onEachSetup(t, testOnlines) }

func testOnlines(t *testing.T, e *env) {
	var created struct{ ObjectID string }
	e.do("POST", "/1.1/classes/AVOSRealtimeGroups", appHdr, `{"tr":true}`).decode(t, 201, &created)
	for _, p := range []string{"a", "b"} {
		c := coretest.Dial(e.hub, false)
		c.Open(t, appID, p)
		if err := c.Send(&protocol.Command{Kind: protocol.KindRoomJoin, PeerID: p, RoomID: created.ObjectID, I: 1}); err != nil {
			t.Fatal(err)
		}
		c.Expect(t, protocol.KindRoomJoined)
	}
	var on struct{ Result int }
	e.do("GET", "/1.1/rtm/transient_group/onlines?gid="+created.ObjectID, appHdr, "").decode(t, 200, &on)
	if on.Result != 2 {
		t.Fatalf("onlines = %d", on.Result)
	}
	e.do("GET", "/1.1/rtm/transient_group/onlines", appHdr, "").wantError(t, 400, rest.CodeBadRequest)
	// a REST send to an open group is transient and live only.
	e.post(`{"from_peer":"srv","group_id":"` + created.ObjectID + `","message":"hey","transient":false}`)
	if r := e.logs("convid="+created.ObjectID, appHdr); len(r) != 0 {
		t.Fatalf("open group message stored: %+v", r)
	}
}

func TestHistorySignature(t *testing.T) {
	now := time.Unix(1415000000, 0)
	e := newEnv(t, nil, func(c *rest.Config) {
		c.HistorySignatures = map[string]bool{appID: true}
		c.Now = func() time.Time { return now }
	})
	conv := core.ConvID([]string{"alice", "bob"})
	sig := core.Sign(masterKey, appID, "alice", conv, "n1", "1415000000")
	ok := url.Values{"convid": {conv}, "peerid": {"alice"}, "nonce": {"n1"}, "signature_ts": {"1415000000"}, "signature": {sig}}
	e.logs(ok.Encode(), appHdr)
	short := url.Values{"convid": {conv}, "peerid": {"alice"}, "nonce": {"n1"}, "sign_ts": {"1415000000"}, "sign": {strings.ToUpper(sig)}}
	e.logs(short.Encode(), appHdr)
	e.logs("convid="+conv, masterHdr) // master needs none

	bad := func(mod func(url.Values)) string {
		v := url.Values{}
		for k, x := range ok {
			v[k] = x
		}
		mod(v)
		return v.Encode()
	}
	// A peer id with ':' is refused (400) even with a signature made for
	// it: "eve:x" over conv would sign the same string as "eve" over
	// "x:"+conv.
	colon := url.Values{"convid": {conv}, "peerid": {"alice:x"}, "nonce": {"n1"}, "signature_ts": {"1415000000"},
		"signature": {core.Sign(masterKey, appID, "alice:x", conv, "n1", "1415000000")}}
	e.do("GET", "/1.1/rtm/messages/logs?"+colon.Encode(), appHdr, "").wantError(t, 400, rest.CodeBadRequest)
	for name, q := range map[string]string{
		"missing":      "convid=" + conv,
		"wrong peer":   bad(func(v url.Values) { v.Set("peerid", "eve") }),
		"wrong nonce":  bad(func(v url.Values) { v.Set("nonce", "n2") }),
		"other conv":   bad(func(v url.Values) { v.Set("convid", "x") }),
		"expired":      bad(func(v url.Values) { v.Set("signature_ts", "1414970000") }),
		"malformed ts": bad(func(v url.Values) { v.Set("signature_ts", "soon") }),
	} {
		t.Run(name, func(t *testing.T) {
			e.do("GET", "/1.1/rtm/messages/logs?"+q, appHdr, "").wantError(t, 401, rest.CodeUnauthorized)
		})
	}
}

func TestRoutingAndCORS(t *testing.T) {
	e := newEnv(t, nil, nil)
	a := e.do("OPTIONS", "/1.1/rtm/messages/logs", map[string]string{
		"Origin": "https://chat.example", "Access-Control-Request-Method": "GET",
		"Access-Control-Request-Headers": "x-lc-id, x-lc-sign"}, "")
	if a.status != 204 || a.header.Get("Access-Control-Allow-Origin") != "*" ||
		a.header.Get("Access-Control-Allow-Headers") != "x-lc-id, x-lc-sign" ||
		!strings.Contains(a.header.Get("Access-Control-Allow-Methods"), "DELETE") {
		t.Fatalf("preflight %+v", a)
	}
	nf := e.do("GET", "/1.1/nothing", appHdr, "")
	nf.wantError(t, 404, rest.CodeNoEndpoint)
	if nf.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatal("no CORS on errors")
	}
	e.do("GET", "/1.1/classes/_User", appHdr, "").wantError(t, 404, rest.CodeObjectNotFound)
	m := e.do("PATCH", "/1.1/rtm/messages/logs", appHdr, "")
	m.wantError(t, 405, rest.CodeMethodNotAllowed)
	if m.header.Get("Allow") != "GET, DELETE, OPTIONS" {
		t.Fatalf("Allow = %q", m.header.Get("Allow"))
	}
	e.do("GET", "/1.1/rtm/messages", masterHdr, "").wantError(t, 405, rest.CodeMethodNotAllowed)

	// allowed origins
	e2 := newEnv(t, nil, func(c *rest.Config) { c.AllowedOrigins = []string{"https://ok.example"} })
	if a := e2.do("GET", "/1.1/rtm/messages/unread/x", map[string]string{"Origin": "https://ok.example",
		"X-LC-Id": appID, "X-LC-Key": appKey}, ""); a.header.Get("Access-Control-Allow-Origin") != "https://ok.example" || a.status != 200 {
		t.Fatalf("allowed origin %+v", a)
	}
	if a := e2.do("GET", "/1.1/rtm/messages/unread/x", map[string]string{"Origin": "https://evil.example",
		"X-LC-Id": appID, "X-LC-Key": appKey}, ""); a.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("other origin %+v", a)
	}
}

func TestUnreadPeerIDEscaped(t *testing.T) { onEachSetup(t, testUnreadPeerIDEscaped) }

func testUnreadPeerIDEscaped(t *testing.T, e *env) {
	e.post(`{"from_peer":"a","to_peers":["we/ird id"],"message":"x","transient":false}`)
	var unread struct{ Count int }
	e.do("GET", "/1.1/rtm/messages/unread/"+url.PathEscape("we/ird id"), appHdr, "").decode(t, 200, &unread)
	if unread.Count != 1 {
		t.Fatalf("unread = %d", unread.Count)
	}
}

// rawRequest writes head and a partial body on a raw connection kept open,
// and returns the answer the server sends, how long it took, and whether
// the server then closed the connection.
func rawRequest(t *testing.T, addr, head, partial string) (resp *http.Response, body string, took time.Duration, closed bool) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	if _, err := io.WriteString(conn, head+partial); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	took = time.Since(start)
	_, err = br.ReadByte()
	return resp, string(b), took, err == io.EOF
}

// TestSlowBody: a REST request whose body never completes is cut (issue 15
// defect 3: it held its connection for 420 s and more, with no key). Keys
// in the headers are checked before the body is read, so a wrong key is
// refused at once; without header keys (they may come in the body) the
// body gets BodyTimeout. Either way the answer is JSON and the connection
// is closed, and other clients are served meanwhile.
func TestSlowBody(t *testing.T) {
	e := newEnv(t, nil, func(c *rest.Config) { c.BodyTimeout = 300 * time.Millisecond })
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	const post = "POST /1.1/rtm/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
	for _, tc := range []struct {
		name    string
		headers string
		status  int
		code    int
		fast    bool // answered before BodyTimeout
	}{
		{"no keys", "", http.StatusRequestTimeout, rest.CodeTimeout, false},
		{"wrong key", "X-LC-Id: " + appID + "\r\nX-LC-Key: guess\r\n", http.StatusUnauthorized, rest.CodeUnauthorized, true},
		{"unknown app", "X-LC-Id: nope\r\nX-LC-Key: guess\r\n", http.StatusUnauthorized, rest.CodeUnauthorized, true},
		{"master key", "X-LC-Id: " + appID + "\r\nX-LC-Key: " + masterKey + ",master\r\n", http.StatusRequestTimeout, rest.CodeTimeout, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan struct{})
			go func() { // another client meanwhile
				defer close(done)
				e.do("GET", "/1.1/rtm/messages/unread/bob", appHdr, "")
			}()
			resp, body, took, closed := rawRequest(t, addr, post+tc.headers+"\r\n", "{")
			<-done
			var eb struct {
				Code  int    `json:"code"`
				Error string `json:"error"`
			}
			if resp.StatusCode != tc.status || json.Unmarshal([]byte(body), &eb) != nil || eb.Code != tc.code {
				t.Fatalf("answer %d %s, want %d code %d", resp.StatusCode, body, tc.status, tc.code)
			}
			if tc.fast && took >= 300*time.Millisecond {
				t.Fatalf("answered after %v: the body was waited for", took)
			}
			if !closed {
				t.Fatal("connection left open")
			}
		})
	}
}

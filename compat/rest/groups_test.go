package rest_test

import (
	"net/url"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/rtgate/rtgate/compat/rest"
	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/storage/memory"
)

var isoRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

const groups = "/1.1/classes/AVOSRealtimeGroups"

func TestGroupClass(t *testing.T) {
	clock := time.Date(2014, 11, 26, 2, 52, 14, 587e6, time.UTC)
	store := memory.New(memory.Config{Now: func() time.Time { return clock }})
	e := newEnv(t, store, func(c *rest.Config) { c.Now = func() time.Time { return clock } })

	// create: 201, objectId + createdAt, Location.
	var created struct{ ObjectID, CreatedAt string }
	a := e.do("POST", groups, appHdr, `{"name":"friends","owner":"alice","size":3,"ACL":{"*":{"read":true}}}`)
	a.decode(t, 201, &created)
	if len(created.ObjectID) != 24 || created.CreatedAt != "2014-11-26T02:52:14.587Z" {
		t.Fatalf("created %+v", created)
	}
	if a.header.Get("Location") != groups+"/"+created.ObjectID {
		t.Fatalf("Location %q", a.header.Get("Location"))
	}
	id := created.ObjectID

	// members come only from the realtime protocol.
	alice := coretest.Dial(e.hub, false)
	alice.Open(t, appID, "alice")
	if err := alice.Send(&protocol.Command{Kind: protocol.KindRoomJoin, PeerID: "alice", RoomID: id, I: 1}); err != nil {
		t.Fatal(err)
	}
	alice.Expect(t, protocol.KindRoomJoined)

	// get
	var g map[string]any
	e.do("GET", groups+"/"+id, appHdr, "").decode(t, 200, &g)
	if g["objectId"] != id || g["name"] != "friends" || g["size"] != 3.0 || g["tr"] != false ||
		g["createdAt"] != "2014-11-26T02:52:14.587Z" || !isoRE.MatchString(g["updatedAt"].(string)) {
		t.Fatalf("object %+v", g)
	}
	if m := g["m"].([]any); len(m) != 1 || m[0] != "alice" {
		t.Fatalf("m = %v", g["m"])
	}
	e.do("GET", groups+"/000000000000000000000000", appHdr, "").wantError(t, 404, rest.CodeObjectNotFound)

	// update app columns; null and {"__op":"Delete"} delete.
	clock = clock.Add(time.Second)
	var upd struct{ UpdatedAt string }
	e.do("PUT", groups+"/"+id, appHdr, `{"name":"pals","owner":null,"size":{"__op":"Delete"},"topic":"go"}`).decode(t, 200, &upd)
	if upd.UpdatedAt != "2014-11-26T02:52:15.587Z" {
		t.Fatalf("updatedAt %q", upd.UpdatedAt)
	}
	g = nil
	e.do("GET", groups+"/"+id, appHdr, "").decode(t, 200, &g)
	if g["name"] != "pals" || g["topic"] != "go" || g["owner"] != nil || g["size"] != nil {
		t.Fatalf("after update %+v", g)
	}

	// an open group and a second ordinary one.
	var open, other struct{ ObjectID string }
	// Distinct creation times: groups created in the same millisecond are
	// ordered by id, which is random.
	clock = clock.Add(time.Second)
	e.do("POST", groups, appHdr, `{"tr":true,"name":"lobby"}`).decode(t, 201, &open)
	clock = clock.Add(time.Second)
	e.do("POST", groups, appHdr, `{"name":"pals"}`).decode(t, 201, &other)

	query := func(where string, extra ...string) []string {
		t.Helper()
		v := url.Values{}
		if where != "" {
			v.Set("where", where)
		}
		for i := 0; i < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		var res struct{ Results []map[string]any }
		e.do("GET", groups+"?"+v.Encode(), appHdr, "").decode(t, 200, &res)
		var ids []string
		for _, r := range res.Results {
			ids = append(ids, r["objectId"].(string))
		}
		return ids
	}
	for _, tc := range []struct {
		name  string
		where string
		extra []string
		want  []string
	}{
		{"all, oldest first", "", nil, []string{id, open.ObjectID, other.ObjectID}},
		{"by member", `{"m":"alice"}`, nil, []string{id}},
		{"by member unknown", `{"m":"bob"}`, nil, nil},
		{"by column", `{"name":"pals"}`, nil, []string{id, other.ObjectID}},
		{"by member and column", `{"m":"alice","name":"pals"}`, nil, []string{id}},
		{"open groups", `{"tr":true}`, nil, []string{open.ObjectID}},
		{"ordinary groups skip 1", `{"tr":false}`, []string{"skip", "1"}, []string{other.ObjectID}},
		{"by objectId", `{"objectId":"` + id + `"}`, nil, []string{id}},
		{"by objectId and wrong column", `{"objectId":"` + id + `","name":"x"}`, nil, nil},
		{"limit", "", []string{"limit", "2"}, []string{id, open.ObjectID}},
		{"limit 0", "", []string{"limit", "0"}, nil},
		{"skip", "", []string{"skip", "2"}, []string{other.ObjectID}},
		{"order ignored", "", []string{"order", "-createdAt"}, []string{id, open.ObjectID, other.ObjectID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := query(tc.where, tc.extra...); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}

	bad := []struct {
		name   string
		method string
		path   string
		body   string
		status int
		code   int
	}{
		{"create with members", "POST", groups, `{"m":["alice"]}`, 400, rest.CodeImmutableField},
		{"create with objectId", "POST", groups, `{"objectId":"x"}`, 400, rest.CodeImmutableField},
		{"create with createdAt", "POST", groups, `{"createdAt":"x"}`, 400, rest.CodeImmutableField},
		{"create tr not bool", "POST", groups, `{"tr":"yes"}`, 400, rest.CodeIncorrectType},
		{"create bad column", "POST", groups, `{"bad name":1}`, 400, rest.CodeInvalidKeyName},
		{"create malformed", "POST", groups, `{"name":`, 400, rest.CodeInvalidJSON},
		{"create array", "POST", groups, `[]`, 400, rest.CodeInvalidJSON},
		{"update members", "PUT", groups + "/" + id, `{"m":{"__op":"AddUnique","objects":["eve"]}}`, 400, rest.CodeImmutableField},
		{"update tr", "PUT", groups + "/" + id, `{"tr":true}`, 400, rest.CodeImmutableField},
		{"update updatedAt", "PUT", groups + "/" + id, `{"updatedAt":"x"}`, 400, rest.CodeImmutableField},
		{"update increment", "PUT", groups + "/" + id, `{"n":{"__op":"Increment","amount":1}}`, 400, rest.CodeIncorrectType},
		{"update missing", "PUT", groups + "/000000000000000000000000", `{"name":"x"}`, 404, rest.CodeObjectNotFound},
		{"update malformed", "PUT", groups + "/" + id, `{`, 400, rest.CodeInvalidJSON},
		{"where malformed", "GET", groups + "?where=%7B", "", 400, rest.CodeInvalidJSON},
		{"where operator", "GET", groups + "?where=" + url.QueryEscape(`{"m":{"$in":["a"]}}`), "", 400, rest.CodeInvalidQuery},
		{"where m not string", "GET", groups + "?where=" + url.QueryEscape(`{"m":["a"]}`), "", 400, rest.CodeInvalidQuery},
		{"where createdAt", "GET", groups + "?where=" + url.QueryEscape(`{"createdAt":"x"}`), "", 400, rest.CodeInvalidQuery},
		{"count", "GET", groups + "?count=1", "", 400, rest.CodeInvalidQuery},
		{"bad limit", "GET", groups + "?limit=-1", "", 400, rest.CodeBadRequest},
		{"delete not allowed", "DELETE", groups + "/" + id, "", 405, rest.CodeMethodNotAllowed},
		{"no key", "GET", groups, "", 401, rest.CodeUnauthorized},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			hdr := appHdr
			if tc.name == "no key" {
				hdr = map[string]string{"X-LC-Id": appID}
			}
			e.do(tc.method, tc.path, hdr, tc.body).wantError(t, tc.status, tc.code)
		})
	}
	// the members were not touched by any of that.
	g = nil
	e.do("GET", groups+"/"+id, appHdr, "").decode(t, 200, &g)
	if m := g["m"].([]any); len(m) != 1 || m[0] != "alice" {
		t.Fatalf("m = %v", g["m"])
	}
}

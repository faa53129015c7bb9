package rest_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/rtgate/rtgate/compat/rest"
	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/spec"
)

// loadOpenAPI loads and validates spec/openapi.json (as embedded by
// package spec, which rtgate serves) with kin-openapi.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(spec.OpenAPI())
	if err != nil {
		t.Fatalf("load spec/openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("spec/openapi.json is not a valid OpenAPI 3 document: %v", err)
	}
	return doc
}

// TestOpenAPIListsEveryRoute: every route the handler serves is in the
// document, and every operation of the document is served.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	served := map[string]bool{}
	for _, r := range rest.Routes() {
		served[r.Method+" "+r.Path] = true
		item := doc.Paths.Value(r.Path)
		if item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("%s %s is served but not in spec/openapi.json", r.Method, r.Path)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !served[method+" "+path] {
				t.Errorf("spec/openapi.json has %s %s, which rest.Routes does not serve", method, path)
			}
		}
	}
}

// TestResponsesMatchOpenAPI sends real requests to the handler (over
// loopback HTTP, a memory store and a hub with a live session) and
// validates each request and answer against the document: successes and
// errors of every endpoint.
func TestResponsesMatchOpenAPI(t *testing.T) {
	doc := loadOpenAPI(t)
	e := newEnv(t, nil, func(c *rest.Config) { c.OpenAPI = spec.OpenAPI() })
	doc.Servers = openapi3.Servers{{URL: e.srv.URL}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	// bob is online, so unread counts and deliveries are real.
	bob := coretest.Dial(e.hub, false)
	bob.Open(t, appID, "bob")

	var groupID, msgID, msgTS string
	steps := []struct {
		name   string
		method string
		path   string
		hdr    map[string]string
		body   string
		status int
		after  func(a answer)
	}{
		{"send persistent", "POST", "/1.1/rtm/messages", masterHdr, `{"from_peer":"alice","to_peers":["bob","carol"],"message":"hello","transient":false}`, 200,
			func(a answer) {
				var v struct {
					ID string `json:"msg-id"`
					TS int64  `json:"timestamp"`
				}
				a.decode(t, 200, &v)
				msgID, msgTS = v.ID, itoa(v.TS)
			}},
		{"send an object, transient", "POST", "/1.1/rtm/messages", masterHdr, `{"from_peer":"alice","to_peers":["bob"],"message":{"_lctype":-1,"_lctext":"hi"}}`, 200, nil},
		{"history of a conversation", "GET", "/1.1/rtm/messages/logs?convid=" + core.ConvID([]string{"alice", "bob", "carol"}) + "&limit=10", appHdr, "", 200, nil},
		{"history of the app", "GET", "/1.1/rtm/messages/logs", masterHdr, "", 200, nil},
		{"history: bad limit", "GET", "/1.1/rtm/messages/logs?convid=x&limit=ten", appHdr, "", 400, nil},
		{"history by sender needs the master key", "GET", "/1.1/rtm/messages/logs?from=alice", appHdr, "", 403, nil},
		{"unread", "GET", "/1.1/rtm/messages/unread/carol", appHdr, "", 200, nil},
		{"create a group", "POST", "/1.1/classes/AVOSRealtimeGroups", appHdr, `{"name":"friends"}`, 201,
			func(a answer) {
				var v struct {
					ID string `json:"objectId"`
				}
				a.decode(t, 201, &v)
				groupID = v.ID
			}},
		{"create an open group", "POST", "/1.1/classes/AVOSRealtimeGroups", appHdr, `{"tr":true,"topic":"lobby"}`, 201, nil},
		{"query groups", "GET", "/1.1/classes/AVOSRealtimeGroups?where=" + url.QueryEscape(`{"name":"friends"}`), appHdr, "", 200, nil},
		{"get a group", "GET", "/1.1/classes/AVOSRealtimeGroups/{group}", appHdr, "", 200, nil},
		{"update a group", "PUT", "/1.1/classes/AVOSRealtimeGroups/{group}", appHdr, `{"name":"family","old":null}`, 200, nil},
		{"unknown group", "GET", "/1.1/classes/AVOSRealtimeGroups/nope", appHdr, "", 404, nil},
		{"open-group onlines", "GET", "/1.1/rtm/transient_group/onlines?gid={group}", appHdr, "", 200, nil},
		{"send to a group", "POST", "/1.1/rtm/messages", masterHdr, `{"from_peer":"alice","group_id":"{group}","message":"to all","transient":false}`, 200, nil},
		{"history of a group", "GET", "/1.1/rtm/messages/logs?convid={group}", appHdr, "", 200, nil},
		{"delete a message", "DELETE", "/1.1/rtm/messages/logs?convid=" + core.ConvID([]string{"alice", "bob", "carol"}) + "&msgid={msg}&timestamp={ts}", masterHdr, "", 200, nil},
		{"wrong key", "GET", "/1.1/rtm/messages/unread/bob", map[string]string{"X-LC-Id": appID, "X-LC-Key": "wrong"}, "", 401, nil},
		{"the document itself", "GET", "/1.1/openapi.json", nil, "", 200, nil},
		{"the document itself, with a wrong key", "GET", "/1.1/openapi.json", map[string]string{"X-LC-Id": appID, "X-LC-Key": "wrong"}, "", 200, nil},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			fill := strings.NewReplacer("{group}", groupID, "{msg}", msgID, "{ts}", msgTS)
			path, body := fill.Replace(s.path), fill.Replace(s.body)
			a := e.do(s.method, path, withJSON(s.hdr, body), body)
			if a.status != s.status {
				t.Fatalf("status %d, want %d; body %s", a.status, s.status, a.body)
			}
			validate(t, router, s.method, e.srv.URL+path, withJSON(s.hdr, body), body, a)
			if s.after != nil {
				s.after(a)
			}
		})
	}
}

// validate checks one request and its answer against the document.
func validate(t *testing.T, router routers.Router, method, u string, hdr map[string]string, body string, a answer) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s: not in the document: %v", method, u, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	ctx := context.Background()
	if a.status < 400 { // a request the server refused may break the document on purpose
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			t.Errorf("request does not match the document: %v", err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: a.status, Header: a.header,
		Body: io.NopCloser(bytes.NewReader([]byte(a.body))), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		t.Errorf("answer %d %s does not match the document: %v", a.status, a.body, err)
	}
}

// withJSON adds Content-Type: application/json to hdr when there is a body.
func withJSON(hdr map[string]string, body string) map[string]string {
	out := map[string]string{}
	for k, v := range hdr {
		out[k] = v
	}
	if body != "" {
		out["Content-Type"] = "application/json"
	}
	return out
}

package router_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rtgate/rtgate/compat/router"
	"github.com/rtgate/rtgate/core"
)

type answer struct {
	status int
	header http.Header
	body   string
}

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) answer {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	body, _ := io.ReadAll(w.Result().Body)
	return answer{w.Code, w.Result().Header, string(body)}
}

func newHandler(t *testing.T, cfg router.Config) *router.Handler {
	t.Helper()
	h, err := router.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestRoute(t *testing.T) {
	apps := core.StaticApps{"app1": &core.App{ID: "app1"}}
	tests := []struct {
		name   string
		cfg    router.Config
		target string
		status int
		want   string // exact body
	}{
		{"http public url gives ws", router.Config{PublicURL: "http://127.0.0.1:8080"},
			"/v1/route?appId=a", 200,
			`{"server":"ws://127.0.0.1:8080/","ttl":3600,"groupId":"g0","secondary":"ws://127.0.0.1:8080/"}`},
		{"secure=1 gives wss", router.Config{PublicURL: "http://127.0.0.1:8080"},
			"/v1/route?appId=a&secure=1", 200,
			`{"server":"wss://127.0.0.1:8080/","ttl":3600,"groupId":"g0","secondary":"wss://127.0.0.1:8080/"}`},
		{"secure other than 1 is plain", router.Config{PublicURL: "http://h:1"},
			"/v1/route?appId=a&secure=0", 200,
			`{"server":"ws://h:1/","ttl":3600,"groupId":"g0","secondary":"ws://h:1/"}`},
		{"explicit wss url stays wss", router.Config{PublicURL: "wss://rtm.example.org/rt"},
			"/v1/route?appId=a", 200,
			`{"server":"wss://rtm.example.org/rt","ttl":3600,"groupId":"g0","secondary":"wss://rtm.example.org/rt"}`},
		{"https url is wss", router.Config{PublicURL: "https://rtm.example.org"},
			"/v1/route?appId=a", 200,
			`{"server":"wss://rtm.example.org/","ttl":3600,"groupId":"g0","secondary":"wss://rtm.example.org/"}`},
		{"empty public url uses Host", router.Config{},
			"http://10.1.2.3:9000/v1/route?appId=a", 200,
			`{"server":"ws://10.1.2.3:9000/","ttl":3600,"groupId":"g0","secondary":"ws://10.1.2.3:9000/"}`},
		{"ttl group and secondary", router.Config{PublicURL: "ws://a:1/", SecondaryURL: "ws://b:2/x", TTL: 90 * time.Second, GroupID: "a0"},
			"/v1/route?appId=a&_t=123&installationId=i", 200,
			`{"server":"ws://a:1/","ttl":90,"groupId":"a0","secondary":"ws://b:2/x"}`},
		{"known app", router.Config{PublicURL: "http://h:1", Apps: apps},
			"/v1/route?appId=app1", 200,
			`{"server":"ws://h:1/","ttl":3600,"groupId":"g0","secondary":"ws://h:1/"}`},
		{"unknown app is 404", router.Config{PublicURL: "http://h:1", Apps: apps},
			"/v1/route?appId=nope", 404, `{"code":4100,"error":"unknown appId"}`},
		{"dev apps accept any", router.Config{PublicURL: "http://h:1", Apps: core.DevApps{}},
			"/v1/route?appId=whatever", 200,
			`{"server":"ws://h:1/","ttl":3600,"groupId":"g0","secondary":"ws://h:1/"}`},
		{"missing appId is 400", router.Config{}, "/v1/route", 400,
			`{"code":400,"error":"appId is required"}`},
		{"jsonp", router.Config{PublicURL: "http://h:1"},
			"/v1/route?appId=a&cb=jQuery1110_42", 200,
			`/**/jQuery1110_42({"server":"ws://h:1/","ttl":3600,"groupId":"g0","secondary":"ws://h:1/"});`},
		{"jsonp error keeps status", router.Config{Apps: apps},
			"/v1/route?appId=x&cb=f", 404, `/**/f({"code":4100,"error":"unknown appId"});`},
		{"bad callback is 400 json", router.Config{},
			"/v1/route?appId=a&cb=alert(1)//", 400, `{"code":400,"error":"invalid callback name"}`},
		{"callback starting with digit", router.Config{},
			"/v1/route?appId=a&cb=1f", 400, `{"code":400,"error":"invalid callback name"}`},
		{"callback too long", router.Config{},
			"/v1/route?appId=a&cb=" + strings.Repeat("f", 129), 400, `{"code":400,"error":"invalid callback name"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := get(t, newHandler(t, tt.cfg), "GET", tt.target, nil)
			if a.status != tt.status || a.body != tt.want {
				t.Fatalf("got %d %s\nwant %d %s", a.status, a.body, tt.status, tt.want)
			}
			ct := a.header.Get("Content-Type")
			if strings.HasPrefix(tt.want, "/**/") != strings.HasPrefix(ct, "application/javascript") {
				t.Errorf("Content-Type %q for body %s", ct, a.body)
			}
			if a.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", a.header.Get("Cache-Control"))
			}
			if !strings.HasPrefix(tt.want, "/**/") {
				var v map[string]any
				if err := json.Unmarshal([]byte(a.body), &v); err != nil {
					t.Errorf("body is not JSON: %v", err)
				}
			}
		})
	}
}

func TestCORS(t *testing.T) {
	anyOrigin := newHandler(t, router.Config{})
	list := newHandler(t, router.Config{AllowedOrigins: []string{"https://ok.example"}})
	tests := []struct {
		name   string
		h      http.Handler
		origin string
		want   string
	}{
		{"any origin by default", anyOrigin, "https://x.example", "*"},
		{"any origin without Origin", anyOrigin, "", "*"},
		{"allowed origin echoed", list, "https://ok.example", "https://ok.example"},
		{"other origin not allowed", list, "https://evil.example", ""},
		{"origin compared case-insensitively", list, "https://OK.example", "https://OK.example"},
		{"star in the list allows any", newHandler(t, router.Config{AllowedOrigins: []string{"https://a", "*"}}), "https://b", "*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := get(t, tt.h, "GET", "/v1/route?appId=a", map[string]string{"Origin": tt.origin})
			if a.status != 200 {
				t.Fatalf("status %d", a.status)
			}
			if got := a.header.Get("Access-Control-Allow-Origin"); got != tt.want {
				t.Fatalf("Allow-Origin %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("preflight", func(t *testing.T) {
		a := get(t, anyOrigin, "OPTIONS", "/v1/route?appId=a", map[string]string{
			"Origin": "https://x.example", "Access-Control-Request-Method": "GET",
			"Access-Control-Request-Headers": "x-requested-with"})
		if a.status != http.StatusNoContent || a.header.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(a.header.Get("Access-Control-Allow-Methods"), "GET") ||
			a.header.Get("Access-Control-Allow-Headers") != "x-requested-with" {
			t.Fatalf("preflight: %d %v", a.status, a.header)
		}
	})
	t.Run("post refused", func(t *testing.T) {
		a := get(t, anyOrigin, "POST", "/v1/route?appId=a", nil)
		if a.status != http.StatusMethodNotAllowed || a.body != `{"code":405,"error":"method not allowed"}` {
			t.Fatalf("got %d %s", a.status, a.body)
		}
	})
}

func TestBadPublicURL(t *testing.T) {
	for _, u := range []string{"ftp://h", "h:80", "http://", "http://h/?a=1", "http://u:p@h/", "://"} {
		if _, err := router.New(router.Config{PublicURL: u}); !errors.Is(err, router.ErrBadPublicURL) {
			t.Errorf("PublicURL %q: err %v, want ErrBadPublicURL", u, err)
		}
		if _, err := router.New(router.Config{SecondaryURL: u}); !errors.Is(err, router.ErrBadPublicURL) {
			t.Errorf("SecondaryURL %q: err %v, want ErrBadPublicURL", u, err)
		}
	}
}

// TestOverHTTP checks the handler behind a real server, as the JS client
// reaches it.
func TestOverHTTP(t *testing.T) {
	srv := httptest.NewServer(newHandler(t, router.Config{}))
	defer srv.Close()
	res, err := http.Get(srv.URL + "/v1/route?appId=a")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r struct {
		Server string `json:"server"`
		TTL    int    `json:"ttl"`
	}
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	want := "ws://" + strings.TrimPrefix(srv.URL, "http://") + "/"
	if r.Server != want || r.TTL != 3600 {
		t.Fatalf("got %+v, want server %s", r, want)
	}
}

// TestOverHTTPS: a request that comes over TLS gets wss:// without
// secure=1, on its own host and port.
func TestOverHTTPS(t *testing.T) {
	srv := httptest.NewTLSServer(newHandler(t, router.Config{}))
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL + "/v1/route?appId=a")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r struct {
		Server string `json:"server"`
	}
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	if want := "wss://" + strings.TrimPrefix(srv.URL, "https://") + "/"; r.Server != want {
		t.Fatalf("server %s, want %s", r.Server, want)
	}
}

// TestNodes: with a cluster's node URLs, the router hands them out in
// turn (secondary: the next one), with secure=1 as wss, a ttl of at most
// a minute, skipping URLs it cannot use; with none it answers as one node.
func TestNodes(t *testing.T) {
	var nodes []string
	h := newHandler(t, router.Config{PublicURL: "http://lb:80", Apps: core.StaticApps{"app1": &core.App{ID: "app1"}},
		Nodes: func() []string { return nodes }})
	route := func(target string) map[string]any {
		t.Helper()
		a := get(t, h, "GET", target, nil)
		var v map[string]any
		if a.status != 200 || json.Unmarshal([]byte(a.body), &v) != nil {
			t.Fatalf("%s: %d %s", target, a.status, a.body)
		}
		return v
	}
	if v := route("/v1/route?appId=app1"); v["server"] != "ws://lb:80/" || v["ttl"] != 3600.0 {
		t.Fatalf("no nodes: %v", v)
	}
	nodes = []string{"ws://127.0.0.1:1/", "http://127.0.0.1:2", "ftp://bad", "https://n3.example.org/rt"}
	want := []string{"ws://127.0.0.1:1/", "ws://127.0.0.1:2/", "wss://n3.example.org/rt"}
	var got []string
	for i := 0; i < 9; i++ {
		v := route("/v1/route?appId=app1")
		got = append(got, v["server"].(string))
		if v["ttl"] != 60.0 || v["groupId"] != "g0" {
			t.Fatalf("answer %v", v)
		}
		if i > 0 && got[i] == got[i-1] {
			t.Fatalf("the same node twice in a row: %v", got)
		}
		k := slices.Index(want, got[i])
		if k < 0 {
			t.Fatalf("server %q is not a node URL %v", got[i], want)
		}
		if v["secondary"] != want[(k+1)%3] {
			t.Fatalf("secondary %v after server %v", v["secondary"], got[i])
		}
	}
	// In turn: every three consecutive answers name the three nodes.
	for i := 0; i+3 <= len(got); i++ {
		w := slices.Clone(got[i : i+3])
		slices.Sort(w)
		if fmt.Sprint(w) != fmt.Sprint(want) {
			t.Fatalf("answers %v: %v is not every node once", got, got[i:i+3])
		}
	}
	if v := route("/v1/route?appId=app1&secure=1"); !strings.HasPrefix(v["server"].(string), "wss://") ||
		!strings.HasPrefix(v["secondary"].(string), "wss://") {
		t.Fatalf("secure=1: %v", v)
	}
	if a := get(t, h, "GET", "/v1/route?appId=nope", nil); a.status != 404 {
		t.Fatalf("unknown app with nodes: %d %s", a.status, a.body)
	}
	nodes = []string{"ftp://only-bad"}
	if v := route("/v1/route?appId=app1"); v["server"] != "ws://lb:80/" {
		t.Fatalf("no usable node: %v", v)
	}
	// A short configured ttl stays.
	h2 := newHandler(t, router.Config{TTL: 10 * time.Second, Nodes: func() []string { return []string{"ws://a:1/"} }})
	if a := get(t, h2, "GET", "/v1/route?appId=x", nil); !strings.Contains(a.body, `"ttl":10,`) || !strings.Contains(a.body, `"server":"ws://a:1/"`) ||
		!strings.Contains(a.body, `"secondary":"ws://a:1/"`) {
		t.Fatalf("one node, ttl 10: %s", a.body)
	}
}

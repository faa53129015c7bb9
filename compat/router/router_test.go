package router_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
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

package fuzz

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rtgate/rtgate/compat/rest"
	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/storage/memory"
)

// restMethods are the methods FuzzREST picks from (by its method byte).
var restMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete,
	http.MethodHead, http.MethodOptions, http.MethodPatch}

// restAuth are the credential headers FuzzREST picks from (by its auth
// byte): none, app key, master key, the other header family, a wrong key,
// a request sign with a fixed old timestamp.
var restAuth = []map[string]string{
	{},
	{"X-LC-Id": "app1", "X-LC-Key": "appkey"},
	{"X-LC-Id": "app1", "X-LC-Key": "masterkey,master"},
	{"X-AVOSCloud-Application-Id": "app1", "X-AVOSCloud-Master-Key": "masterkey"},
	{"X-LC-Id": "app1", "X-LC-Key": "wrong"},
	{"X-LC-Id": "dev", "X-LC-Sign": "28ad0513f8788d58bb0f7caa0af23400,1389085779854"},
}

// FuzzREST sends one request to the REST API: a method and credentials
// picked by two bytes, then any path and query under /1.1/ and any body.
// App "app1" has keys; any other id is a dev app (any key is master).
func FuzzREST(f *testing.F) {
	f.Add(byte(0), byte(2), "rtm/messages/logs?convid=bcd26a54e98687390b0abb4d83683d4b&limit=2", []byte(nil))
	f.Add(byte(0), byte(2), "rtm/messages/logs/?from=u1&max_ts=10&msgid=a&timestamp=9", []byte(nil))
	f.Add(byte(1), byte(2), "rtm/messages", []byte(`{"from_peer":"a","to_peers":["b"],"message":"hi","transient":false}`))
	f.Add(byte(1), byte(2), "rtm/messages", []byte(`{"from_peer":"a","to_peers":"b","message":1}`))
	f.Add(byte(3), byte(3), "rtm/messages/logs?convid=c&msgid=m&timestamp=1", []byte(nil))
	f.Add(byte(0), byte(1), "rtm/messages/unread/bob", []byte(nil))
	f.Add(byte(0), byte(1), "rtm/transient_group/onlines?gid=g", []byte(nil))
	f.Add(byte(1), byte(2), "classes/AVOSRealtimeGroups", []byte(`{"m":["a","b"],"name":"x"}`))
	f.Add(byte(0), byte(1), `classes/AVOSRealtimeGroups?where={"m":"a"}&limit=1&skip=0`, []byte(nil))
	f.Add(byte(2), byte(2), "classes/AVOSRealtimeGroups/0123456789abcdef01234567", []byte(`{"m":{"__op":"Delete"}}`))
	f.Add(byte(1), byte(0), "classes/AVOSRealtimeGroups",
		[]byte(`{"_ApplicationId":"app1","_ApplicationKey":"appkey","_method":"GET","where":{"m":"a"}}`))
	f.Add(byte(5), byte(5), "rtm/messages/logs?convid=x", []byte(nil))
	f.Fuzz(func(t *testing.T, method, auth byte, target string, body []byte) {
		store := memory.New(memory.Config{})
		apps := appsWith(core.App{ID: "app1", Key: "appkey", MasterKey: "masterkey"})
		hub, err := core.New(core.Config{Store: store, Apps: apps, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		h, err := rest.New(rest.Config{Store: store, Hub: hub, Logger: slog.New(slog.DiscardHandler),
			HistorySignatures: map[string]bool{"app1": len(target)%2 == 0}})
		if err != nil {
			t.Fatal(err)
		}
		r, err := http.NewRequest(restMethods[int(method)%len(restMethods)], "http://x/1.1/"+target, strings.NewReader(string(body)))
		if err != nil {
			return // not a request a client could send
		}
		for k, v := range restAuth[int(auth)%len(restAuth)] {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		code, out := w.Code, w.Body.Bytes()
		if code >= 500 || code < 200 {
			t.Fatalf("%s %s %q: HTTP %d %q", r.Method, target, body, code, out)
		}
		if r.Method != http.MethodHead && code != http.StatusNoContent {
			if !json.Valid(out) {
				t.Fatalf("%s %s %q: HTTP %d answer %q is not JSON", r.Method, target, body, code, out)
			}
			if code >= 400 {
				var e struct {
					Code  *int    `json:"code"`
					Error *string `json:"error"`
				}
				if json.Unmarshal(out, &e) != nil || e.Code == nil || e.Error == nil {
					t.Fatalf("%s %s %q: HTTP %d answer %q is not {code, error}", r.Method, target, body, code, out)
				}
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hub.Shutdown(ctx); err != nil {
			t.Fatalf("hub shutdown: %v", err)
		}
	})
}

// appsWith is the keyed app a, and a dev app for any other id.
type appsWith core.App

func (a appsWith) App(id string) (*core.App, bool) {
	if id == a.ID {
		app := core.App(a)
		return &app, true
	}
	return core.DevApps{}.App(id)
}

package rest_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/rtgate/rtgate/compat/rest"
	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/storage/memory"
)

// The example of the 2014 REST docs: app key and master key of app
// mdx1l0uh…, timestamp 1389085779854.
const (
	docApp    = "mdx1l0uh1p08tdpsk8ffn4uxjh2bbhl86rebrk3muph08qx7"
	docKey    = "n35a5fdhawz56y24pjn3u9d5zp9r1nhpebrxyyu359cq0ddo"
	docMaster = "h2ln3ffyfzysxmkl4p3ja7ih0y6sq5knsa2j0qnm1blk2rn2"
	docMs     = 1389085779854
)

func TestRequestSignDocExample(t *testing.T) {
	now := time.UnixMilli(docMs)
	if got := rest.RequestSign(docKey, now, false); got != "28ad0513f8788d58bb0f7caa0af23400,1389085779854" {
		t.Fatalf("app sign = %s", got)
	}
	if got := rest.RequestSign(docMaster, now, true); got != "c884fe684c17c972eb4e33bc8b29cb5b,1389085779854,master" {
		t.Fatalf("master sign = %s", got)
	}
}

func TestAuth(t *testing.T) {
	clock := time.UnixMilli(docMs).Add(10 * time.Minute)
	store := memory.New(memory.Config{})
	apps := core.StaticApps{
		docApp:  &core.App{ID: docApp, Key: docKey, MasterKey: docMaster},
		"dev":   &core.App{ID: "dev"},
		"nokey": &core.App{ID: "nokey", MasterKey: "m"},
	}
	hub, err := core.New(core.Config{Store: store, Apps: apps})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, store, func(c *rest.Config) {
		c.Hub, c.Apps = hub, apps
		c.Now = func() time.Time { return clock }
	})
	const unread = "/1.1/rtm/messages/unread/bob" // app key
	const logs = "/1.1/rtm/messages/logs"         // app-wide: master
	avos := func(kv ...string) map[string]string {
		m := map[string]string{"X-AVOSCloud-Application-Id": docApp}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	lc := func(key, sign string) map[string]string {
		m := map[string]string{"X-LC-Id": docApp}
		if key != "" {
			m["X-LC-Key"] = key
		}
		if sign != "" {
			m["X-LC-Sign"] = sign
		}
		return m
	}
	docSign := "28ad0513f8788d58bb0f7caa0af23400,1389085779854"
	docMasterSign := "c884fe684c17c972eb4e33bc8b29cb5b,1389085779854,master"
	tests := []struct {
		name   string
		path   string
		hdr    map[string]string
		status int // 200, or the error status
		code   int
	}{
		{"app key", unread, avos("X-AVOSCloud-Application-Key", docKey), 200, 0},
		{"master key on app endpoint", unread, avos("X-AVOSCloud-Master-Key", docMaster), 200, 0},
		{"master key", logs, avos("X-AVOSCloud-Master-Key", docMaster), 200, 0},
		{"doc request sign, 10 min old", unread, avos("X-AVOSCloud-Request-Sign", docSign), 200, 0},
		{"doc master request sign", logs, avos("X-AVOSCloud-Request-Sign", docMasterSign), 200, 0},
		{"sign upper case hex", unread, avos("X-AVOSCloud-Request-Sign", "28AD0513F8788D58BB0F7CAA0AF23400,1389085779854"), 200, 0},
		{"lc key", unread, lc(docKey, ""), 200, 0},
		{"lc master", logs, lc(docMaster+",master", ""), 200, 0},
		{"lc sign", logs, lc("", docMasterSign), 200, 0},
		{"fresh sign", logs, lc("", rest.RequestSign(docMaster, clock.Add(-14*time.Minute), true)), 200, 0},
		{"dev app any key is master", logs, map[string]string{"X-LC-Id": "dev", "X-LC-Key": "whatever"}, 200, 0},
		{"dev app no key", logs, map[string]string{"X-AVOSCloud-Application-Id": "dev"}, 200, 0},

		{"no app id", unread, map[string]string{"X-LC-Key": docKey}, 401, rest.CodeUnauthorized},
		{"unknown app", unread, map[string]string{"X-LC-Id": "nope", "X-LC-Key": docKey}, 401, rest.CodeUnauthorized},
		{"no key", unread, avos(), 401, rest.CodeUnauthorized},
		{"wrong key", unread, avos("X-AVOSCloud-Application-Key", "nope"), 401, rest.CodeUnauthorized},
		{"master key as app key", unread, avos("X-AVOSCloud-Application-Key", docMaster), 401, rest.CodeUnauthorized},
		{"app key claimed master", unread, lc(docKey+",master", ""), 401, rest.CodeUnauthorized},
		{"app key on master endpoint", logs, avos("X-AVOSCloud-Application-Key", docKey), 403, rest.CodeForbidden},
		{"app sign on master endpoint", logs, avos("X-AVOSCloud-Request-Sign", docSign), 403, rest.CodeForbidden},
		{"sign too old", unread, lc("", rest.RequestSign(docKey, clock.Add(-16*time.Minute), false)), 401, rest.CodeUnauthorized},
		{"sign from the future", unread, lc("", rest.RequestSign(docKey, clock.Add(16*time.Minute), false)), 401, rest.CodeUnauthorized},
		{"sign with master suffix but app key", unread, avos("X-AVOSCloud-Request-Sign", docSign+",master"), 401, rest.CodeUnauthorized},
		{"sign malformed", unread, avos("X-AVOSCloud-Request-Sign", "abc"), 401, rest.CodeUnauthorized},
		{"sign bad ts", unread, avos("X-AVOSCloud-Request-Sign", "abc,xyz"), 401, rest.CodeUnauthorized},
		{"app without key: app key refused", unread, map[string]string{"X-LC-Id": "nokey", "X-LC-Key": ""}, 401, rest.CodeUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do(http.MethodGet, tc.path, tc.hdr, "")
			if tc.status == 200 {
				if a.status != 200 {
					t.Fatalf("answer %d %s", a.status, a.body)
				}
				return
			}
			a.wantError(t, tc.status, tc.code)
		})
	}
}

// TestBodyEnvelope drives the class API the way the old AV JavaScript SDK
// did: POST text/plain bodies with _ApplicationId, _ApplicationKey and
// _method.
func TestBodyEnvelope(t *testing.T) {
	e := newEnv(t, nil, nil)
	txt := map[string]string{"Content-Type": "text/plain"}
	var created struct{ ObjectID string }
	e.do("POST", "/1.1/classes/AVOSRealtimeGroups", txt,
		`{"name":"lobby","_ApplicationId":"app1","_ApplicationKey":"appkey","_ClientVersion":"js0.4.6"}`).decode(t, 201, &created)
	var res struct{ Results []map[string]any }
	e.do("POST", "/1.1/classes/AVOSRealtimeGroups", txt,
		`{"where":{"name":"lobby"},"limit":10,"_method":"GET","_ApplicationId":"app1","_ApplicationKey":"appkey","_InstallationId":"i"}`).decode(t, 200, &res)
	if len(res.Results) != 1 || res.Results[0]["objectId"] != created.ObjectID {
		t.Fatalf("results %+v", res)
	}
	var upd struct{ UpdatedAt string }
	e.do("POST", "/1.1/classes/AVOSRealtimeGroups/"+created.ObjectID, txt,
		`{"name":"hall","_method":"PUT","_ApplicationId":"app1","_ApplicationKey":"appkey"}`).decode(t, 200, &upd)
	var got map[string]any
	e.do("POST", "/1.1/classes/AVOSRealtimeGroups/"+created.ObjectID, txt,
		`{"_method":"GET","_ApplicationId":"app1","_ApplicationKey":"appkey"}`).decode(t, 200, &got)
	if got["name"] != "hall" {
		t.Fatalf("object %+v", got)
	}
	e.do("POST", "/1.1/rtm/messages/logs", txt,
		`{"_method":"GET","_ApplicationId":"app1","_ApplicationKey":"appkey"}`).wantError(t, 403, rest.CodeForbidden)
	e.do("POST", "/1.1/rtm/messages/logs", txt,
		`{"_method":"GET","_ApplicationId":"app1","_MasterKey":"masterkey"}`).decode(t, 200, &[]any{})
	e.do("POST", "/1.1/classes/AVOSRealtimeGroups", txt,
		`{"_method":"GET","_ApplicationId":"app1","_ApplicationKey":"wrong"}`).wantError(t, 401, rest.CodeUnauthorized)
}

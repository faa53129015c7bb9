package rest

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rtgate/rtgate/core"
)

// creds are the credentials of one request, from headers or the body
// envelope.
type creds struct {
	appID  string
	key    string // an app key, or the master key when master
	master bool
	sign   string // X-AVOSCloud-Request-Sign / X-LC-Sign value; wins over key
}

// headerCreds reads both header families. X-LC-* wins when both are sent;
// a request sign wins over a key.
func headerCreds(hd http.Header) creds {
	var c creds
	c.appID = first(hd.Get("X-LC-Id"), hd.Get("X-AVOSCloud-Application-Id"))
	c.sign = first(hd.Get("X-LC-Sign"), hd.Get("X-AVOSCloud-Request-Sign"))
	if k := hd.Get("X-LC-Key"); k != "" {
		c.key, c.master = k, false
		if base, ok := strings.CutSuffix(k, ",master"); ok {
			c.key, c.master = base, true
		}
	} else if k := hd.Get("X-AVOSCloud-Master-Key"); k != "" {
		c.key, c.master = k, true
	} else {
		c.key = hd.Get("X-AVOSCloud-Application-Key")
	}
	return c
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func unauthorized(msg string) *apiError {
	return errorf(http.StatusUnauthorized, CodeUnauthorized, "unauthorized: %s", msg)
}

// authenticate resolves the app and whether the caller holds its master
// key. An app with neither Key nor MasterKey (dev mode) accepts any
// credentials, or none, as master.
func (h *Handler) authenticate(c creds) (*core.App, bool, error) {
	if c.appID == "" {
		return nil, false, unauthorized("missing application id")
	}
	app, ok := h.cfg.Apps.App(c.appID)
	if !ok {
		return nil, false, unauthorized("unknown application id")
	}
	if app.Key == "" && app.MasterKey == "" {
		return app, true, nil
	}
	if c.sign != "" {
		master, err := h.checkRequestSign(app, c.sign)
		return app, master, err
	}
	switch {
	case c.key == "":
		return nil, false, unauthorized("missing application key")
	case c.master && keyEqual(app.MasterKey, c.key):
		return app, true, nil
	case !c.master && keyEqual(app.Key, c.key):
		return app, false, nil
	}
	return nil, false, unauthorized("wrong key")
}

// keyEqual compares a configured key with a presented one in constant
// time; an unset key matches nothing.
func keyEqual(want, got string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// checkRequestSign verifies "md5hex(<ms><key>),<ms>[,master]", the ms
// timestamp within RequestSignWindow of now.
func (h *Handler) checkRequestSign(app *core.App, sign string) (master bool, err error) {
	parts := strings.Split(sign, ",")
	if len(parts) == 3 && parts[2] == "master" {
		master = true
	} else if len(parts) != 2 {
		return false, unauthorized("malformed request sign")
	}
	ms, perr := strconv.ParseInt(parts[1], 10, 64)
	if perr != nil {
		return false, unauthorized("malformed request sign timestamp")
	}
	skew := h.cfg.Now().Sub(time.UnixMilli(ms))
	if skew < 0 {
		skew = -skew
	}
	if skew > h.cfg.RequestSignWindow {
		return false, unauthorized("request sign timestamp outside the window")
	}
	key := app.Key
	if master {
		key = app.MasterKey
	}
	if key == "" {
		return false, unauthorized("wrong request sign")
	}
	sum := md5.Sum([]byte(parts[1] + key))
	want := hex.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(parts[0]))) != 1 {
		return false, unauthorized("wrong request sign")
	}
	return master, nil
}

// RequestSign returns an X-AVOSCloud-Request-Sign / X-LC-Sign value for key
// at time now (with the ",master" suffix when master).
func RequestSign(key string, now time.Time, master bool) string {
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	sum := md5.Sum([]byte(ts + key))
	s := hex.EncodeToString(sum[:]) + "," + ts
	if master {
		s += ",master"
	}
	return s
}

// envelope is the JSON body form of the old AV JavaScript SDK: every call
// is a POST whose body carries the credentials (_ApplicationId,
// _ApplicationKey or _MasterKey), the real method (_method) and, for GET
// and DELETE, the query parameters.
type envelope struct {
	creds  creds
	method string
	params map[string]string // GET/DELETE: query parameters
	body   []byte            // POST/PUT: the body without the _ fields
}

// parseEnvelope returns the envelope of a POST body, or nil when the body
// is not a JSON object with an _ApplicationId.
func parseEnvelope(body []byte) *envelope {
	if !strings.Contains(string(body), `"_ApplicationId"`) {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil // not an envelope; the endpoint reports the JSON error
	}
	str := func(k string) string {
		var s string
		json.Unmarshal(m[k], &s)
		return s
	}
	env := &envelope{method: http.MethodPost, params: map[string]string{}}
	env.creds.appID = str("_ApplicationId")
	if env.creds.appID == "" {
		return nil
	}
	if k := str("_MasterKey"); k != "" {
		env.creds.key, env.creds.master = k, true
	} else {
		env.creds.key = first(str("_ApplicationKey"), str("_JavaScriptKey"))
	}
	if meth := strings.ToUpper(str("_method")); meth != "" {
		env.method = meth
	}
	rest := map[string]json.RawMessage{}
	for k, v := range m {
		if strings.HasPrefix(k, "_") {
			continue
		}
		rest[k] = v
		var s string
		if json.Unmarshal(v, &s) == nil {
			env.params[k] = s
		} else {
			env.params[k] = string(v)
		}
	}
	env.body, _ = json.Marshal(rest)
	return env
}

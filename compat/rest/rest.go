package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/internal/origin"
	"github.com/rtgate/rtgate/storage"
)

// Prefix is where the handler is mounted: every path it serves starts with
// it (mux.Handle(rest.Prefix, h)).
const Prefix = "/1.1/"

// Error codes in the JSON error body: LeanCloud/Parse codes where the
// service had one, the HTTP status otherwise.
const (
	CodeInternal         = 1   // storage or other internal failure (500)
	CodeObjectNotFound   = 101 // no such group, message or class (404)
	CodeInvalidQuery     = 102 // unsupported where/count/operator (400)
	CodeInvalidKeyName   = 105 // a column name that is not [A-Za-z][A-Za-z0-9_]* (400)
	CodeInvalidJSON      = 107 // malformed JSON body or where (400)
	CodeIncorrectType    = 111 // a value of the wrong JSON type (400)
	CodeObjectTooLarge   = 116 // body over Config.MaxBodyBytes (413)
	CodeTimeout          = 124 // the body did not arrive within Config.BodyTimeout (408)
	CodeForbidden        = 119 // master key required (403)
	CodeImmutableField   = 136 // write to m, tr, objectId, createdAt or updatedAt (400)
	CodeBadRequest       = 400 // missing or malformed parameter (400)
	CodeUnauthorized     = 401 // unknown app, wrong key, bad sign or history signature (401)
	CodeNoEndpoint       = 404 // no such endpoint (404)
	CodeMethodNotAllowed = 405 // method not allowed on this endpoint (405)
	CodeNotImplemented   = 501 // the store cannot answer this (history on a cluster node) (501)
)

const (
	defaultMaxBody           = 64 << 10
	defaultRequestSignWindow = 15 * time.Minute
	defaultSignatureWindow   = 6 * time.Hour
	defaultStoreTimeout      = 10 * time.Second
	defaultBodyTimeout       = 10 * time.Second
	maxSendRecipients        = 20 // POST /1.1/rtm/messages to_peers
)

// Config configures a Handler. The zero value of every field is its
// documented default; Store and Hub are required.
type Config struct {
	// Apps resolves app ids and keys. Nil means Hub.Apps(). Apps without
	// Key and MasterKey (core.DevApps) accept any credentials, or none, as
	// master: development only.
	Apps core.Apps
	// Store answers history, unread and group queries. Required.
	Store storage.Store
	// Hub sends messages (POST /1.1/rtm/messages) and counts open-group
	// sessions (transient_group/onlines). Required.
	Hub *core.Hub
	// Logger receives internal errors. Nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock (request signs, history signatures, group times).
	// Nil means time.Now.
	Now func() time.Time

	// HistorySignatures lists the app ids whose history queries need a
	// signature (v1 "聊天记录签名认证") unless made with the master key.
	// Nil means no app needs one.
	HistorySignatures map[string]bool
	// SignatureWindow is how far a history signature's signature_ts (s)
	// may be from now, either way. Zero means 6 h, as for session
	// signatures.
	SignatureWindow time.Duration
	// RequestSignWindow is how far the ms timestamp of an
	// X-AVOSCloud-Request-Sign / X-LC-Sign may be from now, either way.
	// Zero means 15 min.
	RequestSignWindow time.Duration
	// MaxBodyBytes bounds a request body; larger ones get 413. Zero means
	// 64 KiB.
	MaxBodyBytes int64
	// StoreTimeout bounds the storage calls of one request. Zero means 10 s.
	StoreTimeout time.Duration
	// BodyTimeout bounds the time to read a request body, from when the
	// handler starts; a slower body gets 408 (code 124) and the
	// connection is closed. Keys sent in headers are checked before the
	// body is read. Zero means 10 s.
	BodyTimeout time.Duration
	// AllowedOrigins lists the origins allowed cross-origin (compared
	// case-insensitively; "*" allows any; see internal/origin).
	// Empty means any origin (Access-Control-Allow-Origin: *).
	AllowedOrigins []string
	// OpenAPI is the OpenAPI 3 document served at Prefix+OpenAPIPath
	// (cmd/rtgate passes spec.OpenAPI()); nil: that path answers 404.
	OpenAPI []byte
}

// Handler serves /1.1/. Create it with New.
type Handler struct {
	cfg     Config
	origins origin.Policy // of cfg.AllowedOrigins
	log     *slog.Logger
	store   storage.Store
	hub     *core.Hub
}

var _ http.Handler = (*Handler)(nil)

// New returns a handler for cfg.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("rest: Config.Store is required")
	}
	if cfg.Hub == nil {
		return nil, errors.New("rest: Config.Hub is required")
	}
	if cfg.Apps == nil {
		cfg.Apps = cfg.Hub.Apps()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SignatureWindow <= 0 {
		cfg.SignatureWindow = defaultSignatureWindow
	}
	if cfg.RequestSignWindow <= 0 {
		cfg.RequestSignWindow = defaultRequestSignWindow
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = defaultBodyTimeout
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = defaultMaxBody
	}
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = defaultStoreTimeout
	}
	return &Handler{cfg: cfg, log: cfg.Logger, store: cfg.Store, hub: cfg.Hub, origins: origin.New(cfg.AllowedOrigins)}, nil
}

// apiError is an error answer: HTTP status, JSON code and text.
type apiError struct {
	status int
	code   int
	msg    string
	allow  string // the Allow header of a 405
}

func (e *apiError) Error() string { return fmt.Sprintf("rest: %d/%d: %s", e.status, e.code, e.msg) }

func errorf(status, code int, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

func badParam(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, CodeBadRequest, format, args...)
}

// errorBody is the JSON error answer.
type errorBody struct {
	Code  int    `json:"code"`
	Error string `json:"error"`
}

// request is one authenticated call.
type request struct {
	r      *http.Request
	app    *core.App
	master bool
	query  url.Values
	body   []byte // POST and PUT only
	param  string // the path parameter (peer id, object id), unescaped
	hdr    http.Header
}

// header returns the response header, for endpoints that add to it.
func (rq *request) header() http.Header { return rq.hdr }

// need says which key an endpoint needs.
type need int

const (
	appKey    need = iota
	masterKey      // the master key (dev apps: any key)
	nothing        // no authentication (the OpenAPI document)
)

type endpoint struct {
	method string
	need   need
	serve  func(h *Handler, ctx context.Context, rq *request) (int, any, error)
}

// Route is one endpoint: an HTTP method and a path template whose
// "{name}" segment is a path parameter. HEAD is answered like GET and
// OPTIONS (a CORS preflight) on every path; neither is listed.
type Route struct {
	Method string
	Path   string // "/1.1/rtm/messages/unread/{peerId}"
}

// routes are the endpoints in the order route tries them.
var routes = []struct {
	Route
	endpoint
}{
	{Route{http.MethodGet, Prefix + "rtm/messages/logs"}, endpoint{need: appKey, serve: (*Handler).logs}},
	{Route{http.MethodDelete, Prefix + "rtm/messages/logs"}, endpoint{need: masterKey, serve: (*Handler).deleteLog}},
	{Route{http.MethodPost, Prefix + "rtm/messages"}, endpoint{need: masterKey, serve: (*Handler).send}},
	{Route{http.MethodGet, Prefix + "rtm/messages/unread/{peerId}"}, endpoint{need: appKey, serve: (*Handler).unread}},
	{Route{http.MethodGet, Prefix + "rtm/transient_group/onlines"}, endpoint{need: appKey, serve: (*Handler).onlines}},
	{Route{http.MethodGet, Prefix + "classes/" + groupClass}, endpoint{need: appKey, serve: (*Handler).queryGroups}},
	{Route{http.MethodPost, Prefix + "classes/" + groupClass}, endpoint{need: appKey, serve: (*Handler).createGroup}},
	{Route{http.MethodGet, Prefix + "classes/" + groupClass + "/{objectId}"}, endpoint{need: appKey, serve: (*Handler).getGroup}},
	{Route{http.MethodPut, Prefix + "classes/" + groupClass + "/{objectId}"}, endpoint{need: appKey, serve: (*Handler).updateGroup}},
	{Route{http.MethodGet, Prefix + OpenAPIPath}, endpoint{need: nothing, serve: (*Handler).openAPI}},
}

// Routes lists every endpoint the handler serves (the OpenAPI document,
// spec/openapi.json, describes each; a test checks they agree).
func Routes() []Route {
	out := make([]Route, len(routes))
	for i, r := range routes {
		out[i] = r.Route
	}
	return out
}

// route finds the endpoints of a path: the methods it answers and its path
// parameter. err is a 404 for a path the handler does not serve.
func route(escapedPath string) (eps []endpoint, param string, err *apiError) {
	p := strings.TrimPrefix(escapedPath, Prefix)
	if p == escapedPath {
		return nil, "", errorf(http.StatusNotFound, CodeNoEndpoint, "no such endpoint")
	}
	seg := strings.Split(p, "/")
	if n := len(seg); n > 1 && seg[n-1] == "" { // one trailing slash is fine
		seg = seg[:n-1]
	}
	for _, r := range routes {
		if arg, ok := match(strings.Split(strings.TrimPrefix(r.Path, Prefix), "/"), seg); ok {
			e := r.endpoint
			e.method = r.Method
			eps, param = append(eps, e), arg
		}
	}
	if eps != nil {
		return eps, param, nil
	}
	if len(seg) >= 2 && seg[0] == "classes" && seg[1] != groupClass {
		cls, _ := url.PathUnescape(seg[1])
		return nil, "", errorf(http.StatusNotFound, CodeObjectNotFound, "class %q not found: only %s is served", cls, groupClass)
	}
	return nil, "", errorf(http.StatusNotFound, CodeNoEndpoint, "no such endpoint")
}

// match matches path segments against a template's; a "{name}" segment
// matches any one segment, returned as arg.
func match(template, seg []string) (arg string, ok bool) {
	if len(template) != len(seg) {
		return "", false
	}
	for i, t := range template {
		switch {
		case strings.HasPrefix(t, "{"):
			arg = seg[i]
		case t != seg[i]:
			return "", false
		}
	}
	return arg, true
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.origins.SetCORS(w.Header(), r)
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodOptions {
		h.preflight(w, r)
		return
	}
	status, v, err := h.serve(w, r)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			h.log.Error("rest request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			ae = errorf(http.StatusInternalServerError, CodeInternal, "internal error")
		}
		if ae.allow != "" {
			w.Header().Set("Allow", ae.allow)
		}
		writeJSON(w, ae.status, errorBody{ae.code, ae.msg})
		return
	}
	writeJSON(w, status, v)
}

// serve routes, authenticates and runs one request. Keys in the headers
// are checked before the body is read, and the body is read within
// BodyTimeout, so a client without keys cannot hold a connection by
// sending a body slowly (issue 15, defect 3).
func (h *Handler) serve(w http.ResponseWriter, r *http.Request) (int, any, error) {
	hdr := w.Header()
	eps, param, rerr := route(r.URL.EscapedPath())
	if rerr != nil {
		return 0, nil, rerr
	}
	if param != "" {
		var err error
		if param, err = url.PathUnescape(param); err != nil || param == "" {
			return 0, nil, errorf(http.StatusNotFound, CodeNoEndpoint, "malformed path")
		}
	}
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	rq := &request{r: r, query: r.URL.Query(), param: param, hdr: hdr}
	if len(eps) == 1 && eps[0].need == nothing && method == eps[0].method {
		return eps[0].serve(h, r.Context(), rq) // public: keys, right or wrong, do not matter
	}
	cr := headerCreds(r.Header)
	var app *core.App
	var master bool
	if cr.appID != "" {
		var err error
		if app, master, err = h.authenticate(cr); err != nil {
			if r.ContentLength != 0 {
				dropBody(w, r)
			}
			return 0, nil, err
		}
	}
	if method == http.MethodPost || method == http.MethodPut {
		body, err := h.readBody(w, r)
		if err != nil {
			return 0, nil, err
		}
		rq.body = body
		if method == http.MethodPost {
			if env := parseEnvelope(body); env != nil {
				if env.creds.appID != "" {
					cr, app = env.creds, nil // the envelope's keys win
				}
				method = env.method
				if method == http.MethodGet || method == http.MethodDelete {
					for k, v := range env.params {
						rq.query.Set(k, v)
					}
					rq.body = nil
				} else {
					rq.body = env.body
				}
			}
		}
	}
	var ep *endpoint
	for i := range eps {
		if eps[i].method == method {
			ep = &eps[i]
		}
	}
	if ep == nil {
		allow := make([]string, 0, len(eps)+1)
		for _, e := range eps {
			allow = append(allow, e.method)
		}
		allow = append(allow, http.MethodOptions)
		ae := errorf(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method %s not allowed here", method)
		ae.allow = strings.Join(allow, ", ")
		return 0, nil, ae
	}
	if app == nil {
		var err error
		if app, master, err = h.authenticate(cr); err != nil {
			return 0, nil, err
		}
	}
	if ep.need == masterKey && !master {
		return 0, nil, errorf(http.StatusForbidden, CodeForbidden, "this operation needs the master key")
	}
	rq.app, rq.master = app, master
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.StoreTimeout)
	defer cancel()
	return ep.serve(h, ctx, rq)
}

// readBody reads a request body bounded in size and in time; on an error
// the connection is closed after the answer (what is left of the body is
// not read).
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > h.cfg.MaxBodyBytes {
		dropBody(w, r)
		return nil, errorf(http.StatusRequestEntityTooLarge, CodeObjectTooLarge, "body over %d bytes", h.cfg.MaxBodyBytes)
	}
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(h.cfg.BodyTimeout)) // unsupported writers (tests) have no deadline
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		dropBody(w, r)
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			return nil, errorf(http.StatusRequestEntityTooLarge, CodeObjectTooLarge, "body over %d bytes", h.cfg.MaxBodyBytes)
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil, errorf(http.StatusRequestTimeout, CodeTimeout, "the request body did not arrive within %s", h.cfg.BodyTimeout)
		}
		return nil, badParam("reading body: %v", err)
	}
	rc.SetReadDeadline(time.Time{})
	return b, nil
}

// dropBody makes the server close the connection after the answer without
// reading what is left of the request body: net/http would otherwise read
// up to 256 KiB of it, as slowly as the client sends it, to reuse the
// connection.
//
// It also makes net/http close that connection gently: a close with unread
// request bytes in the socket makes the kernel send a reset, which can
// reach the client before it has read the answer (it then sees
// "connection reset by peer" instead of the 413). net/http half-closes
// first and waits a little (500 ms) when a request went over a
// http.MaxBytesReader limit, so dropBody goes over one: a limit of 0 and
// a read of one byte of what is already buffered (the read deadline is
// now, so it never waits for the client).
func dropBody(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Connection", "close")
	http.NewResponseController(w).SetReadDeadline(time.Now())
	var one [1]byte
	http.MaxBytesReader(w, r.Body, 0).Read(one[:])
}

// decodeObject decodes a JSON object body into v (a struct pointer or a
// map), refusing anything else with 107.
func decodeObject(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return errorf(http.StatusBadRequest, CodeInvalidJSON, "body must be a JSON object")
	}
	if !utf8.Valid(body) {
		// RFC 8259 §8.1; decoding would turn stray bytes into U+FFFD and
		// make distinct peer ids one.
		return errorf(http.StatusBadRequest, CodeInvalidJSON, "body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return errorf(http.StatusBadRequest, CodeIncorrectType, "field %q: want %s, got %s", te.Field, te.Type, te.Value)
		}
		return errorf(http.StatusBadRequest, CodeInvalidJSON, "malformed JSON: %v", err)
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, CodeInvalidJSON, "malformed JSON: data after the object")
	}
	return nil
}

// allowHeaders are the request headers a preflight allows when the
// browser does not list the ones it wants.
const allowHeaders = "Content-Type, X-AVOSCloud-Application-Id, X-AVOSCloud-Application-Key, X-AVOSCloud-Master-Key, " +
	"X-AVOSCloud-Request-Sign, X-AVOSCloud-Session-Token, X-LC-Id, X-LC-Key, X-LC-Sign, X-LC-Session, X-LC-Prod, X-LC-UA"

func (h *Handler) preflight(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE, OPTIONS")
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		hd.Set("Access-Control-Allow-Headers", req)
	} else {
		hd.Set("Access-Control-Allow-Headers", allowHeaders)
	}
	hd.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

// writeJSON writes v as a JSON answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil { // cannot happen for our types
		status = http.StatusInternalServerError
		body = []byte(`{"code":1,"error":"internal error"}`)
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json; charset=utf-8")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// storeError maps a storage error to an answer.
func storeError(err error, what string) error {
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return errorf(http.StatusNotFound, CodeObjectNotFound, "%s not found", what)
	case errors.Is(err, storage.ErrInvalid):
		return badParam("%s: %v", what, err)
	case errors.Is(err, storage.ErrNotSupported):
		return errorf(http.StatusNotImplemented, CodeNotImplemented, "%s: %v", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func remoteIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

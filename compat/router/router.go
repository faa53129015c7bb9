// Package router serves the v1 "push router": GET /v1/route, which tells a
// client which WebSocket URL to connect to (reference/protocol-v1.md §1.1).
//
// The answer is {"server":..,"ttl":..,"groupId":"g0","secondary":..}. The
// URL comes from Config.PublicURL (or, when that is empty, from the
// request's Host header); `secure=1`, or asking over TLS, gets wss://
// instead of ws://. The
// handler sends CORS headers (any origin by default) and answers JSONP when
// the query has `cb=<name>`. Errors are non-200 with a JSON body
// {"code":<int>,"error":"<text>"}: 400 for a missing appId or a bad
// callback name, 404 (code 4100) for an appId the configured apps do not
// know.
//
// In a cluster (Config.Nodes set), the answer names the live nodes' own
// URLs in turn (round robin), `secondary` being the next one, and its ttl
// is at most a minute, so that clients that cache it find the other nodes
// soon after one dies. With no node URL known, it answers as on one node.
//
// Concurrency: a Handler's configuration is immutable after New; it is
// safe for concurrent use.
//
// Imports: the standard library, core (the Apps interface) and protocol
// (close codes reused as error codes), internal/origin (CORS).
package router

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/internal/origin"
	"github.com/rtgate/rtgate/protocol"
)

// Path is where the handler is usually mounted.
const Path = "/v1/route"

// Error codes in the JSON error body.
const (
	CodeBadRequest = 400                                // missing appId, bad callback name
	CodeUnknownApp = int(protocol.CloseAppNotAvailable) // appId not configured (4100, the v2 close code)
	CodeBadMethod  = 405                                // not GET, HEAD or OPTIONS
)

const (
	maxCallbackBytes = 128       // longest JSONP callback name accepted
	defaultTTL       = time.Hour // Config.TTL zero value
	defaultGroupID   = "g0"      // Config.GroupID zero value
	maxNodeTTL       = time.Minute
)

// ErrBadPublicURL is returned by New for a public URL it cannot use.
var ErrBadPublicURL = errors.New("router: bad public URL")

// Config configures a Handler. The zero value of every field is its
// documented default.
type Config struct {
	// PublicURL is where clients reach the WebSocket endpoint, as
	// http://, https://, ws:// or wss:// with host, optional port and
	// optional path (default path "/"). With http:// or ws:// the answer
	// is ws:// by default and wss:// (same host and port) for `secure=1`
	// or a request that came over TLS;
	// with https:// or wss:// it is always wss://. Empty means the
	// request's Host header with path "/" (fine for development; set it
	// behind a proxy or when the Host header is not trusted).
	PublicURL string
	// SecondaryURL is the fallback WebSocket URL (iOS uses it after a
	// failed connect), with the same rules as PublicURL. Empty means the
	// same URL as `server`.
	SecondaryURL string
	// TTL is how long clients may cache the answer. Zero means 1 h.
	TTL time.Duration
	// GroupID is the push group returned as `groupId`. Empty means "g0",
	// the group every v1 client assumes.
	GroupID string
	// Apps, when non-nil, refuses app ids it does not know with 404. Nil
	// accepts every non-empty app id (dev mode).
	Apps core.Apps
	// Nodes, when set, returns the WebSocket URLs of the cluster's live
	// nodes (each with the rules of PublicURL; ones it cannot use are
	// skipped). The handler hands them out in turn, starting at a random
	// one, and ignores PublicURL and SecondaryURL while the list has a
	// usable URL. Nil, or an empty list, answers with PublicURL as on a
	// single node. It is called once per request.
	Nodes func() []string
	// AllowedOrigins lists the origins allowed to read the answer
	// cross-origin ("https://chat.example.org", compared
	// case-insensitively; "*" allows any). Empty means any origin (Access-Control-Allow-Origin: *), which the v1 JS
	// client needs when the page is served from elsewhere.
	AllowedOrigins []string
}

// Handler answers GET /v1/route. Create it with New.
type Handler struct {
	cfg       Config
	origins   origin.Policy // of cfg.AllowedOrigins
	public    *url.URL      // nil: use the request's Host
	secondary *url.URL      // nil: same as public
	forceTLS  [2]bool       // public, secondary: https/wss given, always wss
	next      atomic.Uint64 // round robin over Config.Nodes
}

var _ http.Handler = (*Handler)(nil)

// New returns a handler for cfg, or ErrBadPublicURL.
func New(cfg Config) (*Handler, error) {
	if cfg.TTL <= 0 {
		cfg.TTL = defaultTTL
	}
	if cfg.GroupID == "" {
		cfg.GroupID = defaultGroupID
	}
	h := &Handler{cfg: cfg, origins: origin.New(cfg.AllowedOrigins)}
	// Routers that clients reach in turn (DNS round robin) should not all
	// start with the same node.
	h.next.Store(rand.Uint64())
	var err error
	if h.public, h.forceTLS[0], err = parsePublic(cfg.PublicURL); err != nil {
		return nil, err
	}
	if h.secondary, h.forceTLS[1], err = parsePublic(cfg.SecondaryURL); err != nil {
		return nil, err
	}
	return h, nil
}

// CheckURL returns nil when s is usable as Config.PublicURL or as a URL
// of Config.Nodes, else an error wrapping ErrBadPublicURL.
func CheckURL(s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty", ErrBadPublicURL)
	}
	_, _, err := parsePublic(s)
	return err
}

// parsePublic checks a public URL; "" gives nil.
func parsePublic(s string) (u *url.URL, tls bool, err error) {
	if s == "" {
		return nil, false, nil
	}
	u, err = url.Parse(s)
	if err != nil {
		return nil, false, fmt.Errorf("%w %q: %v", ErrBadPublicURL, s, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "ws":
	case "https", "wss":
		tls = true
	default:
		return nil, false, fmt.Errorf("%w %q: scheme must be http, https, ws or wss", ErrBadPublicURL, s)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, false, fmt.Errorf("%w %q: want scheme://host[:port][/path]", ErrBadPublicURL, s)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u, tls, nil
}

// wsURL renders u (nil: the request's host) as a WebSocket URL.
func wsURL(u *url.URL, forceTLS, secure bool, host string) string {
	out := url.URL{Scheme: "ws", Host: host, Path: "/"}
	if u != nil {
		out.Host, out.Path = u.Host, u.Path
	}
	if secure || forceTLS {
		out.Scheme = "wss"
	}
	return out.String()
}

// route is the JSON answer.
type route struct {
	Server    string `json:"server"`
	TTL       int64  `json:"ttl"`
	GroupID   string `json:"groupId"`
	Secondary string `json:"secondary"`
}

// errorBody is the JSON error answer.
type errorBody struct {
	Code  int    `json:"code"`
	Error string `json:"error"`
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.origins.SetCORS(w.Header(), r)
	w.Header().Set("Cache-Control", "no-store")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		w.Header().Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
			w.Header().Set("Access-Control-Allow-Headers", req)
		}
		w.Header().Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		writeJSON(w, "", http.StatusMethodNotAllowed, errorBody{CodeBadMethod, "method not allowed"})
		return
	}
	q := r.URL.Query()
	cb := q.Get("cb")
	if cb != "" && !validCallback(cb) {
		writeJSON(w, "", http.StatusBadRequest, errorBody{CodeBadRequest, "invalid callback name"})
		return
	}
	app := q.Get("appId")
	if app == "" {
		writeJSON(w, cb, http.StatusBadRequest, errorBody{CodeBadRequest, "appId is required"})
		return
	}
	if h.cfg.Apps != nil {
		if _, ok := h.cfg.Apps.App(app); !ok {
			writeJSON(w, cb, http.StatusNotFound, errorBody{CodeUnknownApp, "unknown appId"})
			return
		}
	}
	secure := q.Get("secure") == "1" || r.TLS != nil // asked for, or asked over TLS
	if server, secondary, ok := h.nodeURLs(secure); ok {
		writeJSON(w, cb, http.StatusOK, route{
			Server:    server,
			TTL:       int64(min(h.cfg.TTL, maxNodeTTL) / time.Second),
			GroupID:   h.cfg.GroupID,
			Secondary: secondary,
		})
		return
	}
	server := wsURL(h.public, h.forceTLS[0], secure, r.Host)
	secondary := server
	if h.secondary != nil {
		secondary = wsURL(h.secondary, h.forceTLS[1], secure, r.Host)
	}
	writeJSON(w, cb, http.StatusOK, route{
		Server:    server,
		TTL:       int64(h.cfg.TTL / time.Second),
		GroupID:   h.cfg.GroupID,
		Secondary: secondary,
	})
}

// nodeURLs picks the next node of Config.Nodes and the one after it, as
// WebSocket URLs; ok is false when there is no usable node URL.
func (h *Handler) nodeURLs(secure bool) (server, secondary string, ok bool) {
	if h.cfg.Nodes == nil {
		return "", "", false
	}
	var urls []string
	for _, s := range h.cfg.Nodes() {
		u, tls, err := parsePublic(s)
		if err != nil || u == nil {
			continue
		}
		urls = append(urls, wsURL(u, tls, secure, ""))
	}
	if len(urls) == 0 {
		return "", "", false
	}
	i := h.next.Add(1) % uint64(len(urls))
	return urls[i], urls[(i+1)%uint64(len(urls))], true
}

// validCallback reports whether cb is a plain JavaScript identifier (what
// jQuery generates for `cb=?`), so it cannot inject script.
func validCallback(cb string) bool {
	if len(cb) > maxCallbackBytes {
		return false
	}
	for i := 0; i < len(cb); i++ {
		c := cb[i]
		switch {
		case c == '_' || c == '$' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return cb != ""
}

// writeJSON writes v as JSON, or as a JSONP call of cb when cb is set.
func writeJSON(w http.ResponseWriter, cb string, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil { // cannot happen for our types
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if cb != "" {
		body = []byte("/**/" + cb + "(" + string(body) + ");")
		h.Set("Content-Type", "application/javascript; charset=utf-8")
	} else {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

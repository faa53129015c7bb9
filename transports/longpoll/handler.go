package longpoll

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/internal/origin"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/transports/internal/outq"
)

// Dialect names accepted by POST /open.
const (
	DialectV1     = "v1"            // legacy v1 semantics (the default)
	DialectModern = "rtgate.json.1" // modern: `error` replies
)

// Handler serves the long-poll endpoints of a core.Hub. Mount it at a
// prefix ending in "/" (say /lp/); it dispatches on the last path element:
// open, send, poll, close. It is safe for concurrent use.
type Handler struct {
	hub         *core.Hub
	cfg         Config
	checkOrigin func(*http.Request) bool // origin.Check of cfg
	log         *slog.Logger
	metrics     *metrics
	wg          sync.WaitGroup // finish goroutines (one per closed session)
	bufs        outq.Pool      // sessions' queue buffers

	mu       sync.Mutex
	sessions map[string]*session // by sid; guarded by mu
	perIP    map[string]int      // sessions in the table by remote IP; guarded by mu
}

var _ http.Handler = (*Handler)(nil)

// New returns a handler serving hub with cfg.
func New(hub *core.Hub, cfg Config) *Handler {
	cfg = cfg.withDefaults()
	return &Handler{hub: hub, cfg: cfg, log: cfg.Logger, metrics: newMetrics(), sessions: make(map[string]*session), perIP: make(map[string]int),
		checkOrigin: origin.Check(cfg.AllowedOrigins, cfg.CheckOrigin)}
}

// Collectors returns the handler's Prometheus collectors, to register.
func (h *Handler) Collectors() []prometheus.Collector { return h.metrics.collectors() }

// Wait blocks until every session closed so far has been disconnected from
// the hub. Call it after core.Hub.Shutdown (which closes every session and
// answers their held polls).
func (h *Handler) Wait() { h.wg.Wait() }

// Sessions returns the number of sessions in the handler's table (open
// ones and closed ones lingering for a retried final poll).
func (h *Handler) Sessions() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sessions)
}

func (h *Handler) expiry() time.Duration { return h.cfg.PollTimeout + h.cfg.PingTimeout }

// apiError is the body of every 4xx/5xx answer.
type apiError struct {
	Code  string `json:"code"`
	Error string `json:"error"`
}

// Error codes of the HTTP API (the "code" of an error body).
const (
	codeBadRequest    = "bad_request"        // malformed query or body
	codeUnknownSID    = "unknown_session"    // 404: open a new session
	codeClosed        = "session_closed"     // 410: poll to read the close
	codeTooLarge      = "too_large"          // 413: body over maxPayload
	codeBadAck        = "bad_ack"            // 400: ack beyond the last frame sent
	codeBadCseq       = "bad_cseq"           // 400: a gap in client sequence numbers
	codeOrigin        = "origin_not_allowed" // 403
	codeMethod        = "method_not_allowed" // 405
	codeNotFound      = "not_found"          // 404: no such endpoint
	codeUnavailable   = "unavailable"        // 503: shutting down or too many sessions
	codeTooMany       = "too_many_sessions"  // 429: too many sessions (or connections) from this address
	codeUnknownDialec = "unknown_dialect"    // 400
)

// ServeHTTP dispatches to the endpoints.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Every answer has a deadline; poll extends it by the hold, readBody
	// sets the read deadline. net/http clears both after the request.
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(h.cfg.WriteTimeout))
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Type", "application/json; charset=utf-8")
	if origin := r.Header.Get("Origin"); origin != "" {
		if !h.checkOrigin(r) {
			h.fail(w, http.StatusForbidden, codeOrigin, "origin not allowed")
			return
		}
		hdr.Set("Access-Control-Allow-Origin", origin)
		hdr.Add("Vary", "Origin")
	}
	if r.Method == http.MethodOptions { // CORS preflight
		hdr.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		hdr.Set("Access-Control-Allow-Headers", "Content-Type")
		hdr.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	endpoint := path.Base(r.URL.Path)
	want := http.MethodPost
	if endpoint == "poll" {
		want = http.MethodGet
	}
	switch endpoint {
	case "open", "send", "poll", "close":
	default:
		h.fail(w, http.StatusNotFound, codeNotFound, "no such long-poll endpoint")
		return
	}
	if r.Method != want {
		hdr.Set("Allow", want+", OPTIONS")
		h.fail(w, http.StatusMethodNotAllowed, codeMethod, endpoint+" takes "+want)
		return
	}
	if endpoint == "open" {
		h.open(w, r)
		return
	}
	if h.cfg.Forward != nil {
		if node := owner(r.URL.Query().Get("sid")); node != "" && node != string(h.cfg.Forward.Self()) {
			h.forward(w, r, node, endpoint)
			return
		}
	}
	h.serveLocal(w, r, endpoint)
}

// serveLocal serves send, poll and close for a session of this node.
func (h *Handler) serveLocal(w http.ResponseWriter, r *http.Request, endpoint string) {
	s := h.lookup(r.URL.Query().Get("sid"))
	if s == nil {
		h.fail(w, http.StatusNotFound, codeUnknownSID, "unknown or expired session; open a new one")
		return
	}
	switch endpoint {
	case "send":
		h.send(w, r, s)
	case "poll":
		h.poll(w, r, s)
	case "close":
		s.Close(protocol.CloseNormal, "closed by the client")
		h.remove(s)
		h.reply(w, http.StatusOK, []byte(`{}`))
	}
}

func (h *Handler) fail(w http.ResponseWriter, status int, code, msg string) {
	h.metrics.rejected.WithLabelValues(code).Inc()
	body, _ := json.Marshal(apiError{Code: code, Error: msg})
	h.reply(w, status, body)
}

func (h *Handler) reply(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// readBody reads at most limit bytes of the body under ReadTimeout. It
// returns ok false after answering the request itself.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request, limit int) ([]byte, bool) {
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(h.cfg.ReadTimeout)) // unsupported writers (tests) have no deadline
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(limit)))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.fail(w, http.StatusRequestEntityTooLarge, codeTooLarge, "body over "+strconv.Itoa(limit)+" bytes")
		} else {
			h.fail(w, http.StatusBadRequest, codeBadRequest, "reading the body: "+err.Error())
		}
		return nil, false
	}
	rc.SetWriteDeadline(time.Now().Add(h.cfg.WriteTimeout))
	return body, true
}

// openRequest is the optional body of POST /open.
type openRequest struct {
	Dialect string `json:"dialect"`
}

// openResponse answers POST /open; durations are in milliseconds.
type openResponse struct {
	SID          string `json:"sid"`
	Dialect      string `json:"dialect"`
	PingInterval int64  `json:"pingInterval"`
	PingTimeout  int64  `json:"pingTimeout"`
	MaxPayload   int    `json:"maxPayload"`
}

const maxOpenBody = 4 << 10

func (h *Handler) open(w http.ResponseWriter, r *http.Request) {
	body, ok := h.readBody(w, r, maxOpenBody)
	if !ok {
		return
	}
	req := openRequest{Dialect: r.URL.Query().Get("dialect")}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			h.fail(w, http.StatusBadRequest, codeBadRequest, "open body: "+err.Error())
			return
		}
	}
	var d sessionDialect
	switch req.Dialect {
	case "", DialectV1:
		d, req.Dialect = dialectLegacy, DialectV1
	case DialectModern:
		d = dialectJSON
	default:
		h.fail(w, http.StatusBadRequest, codeUnknownDialec, "dialect must be "+DialectV1+" or "+DialectModern)
		return
	}
	var raw [16]byte
	rand.Read(raw[:]) // never fails (crypto/rand)
	sid := hex.EncodeToString(raw[:])
	if h.cfg.Forward != nil {
		sid = string(h.cfg.Forward.Self()) + sidSep + sid
	}
	s := newSession(h, sid, d, r.RemoteAddr)
	if h.cfg.Admit != nil {
		release, ok := h.cfg.Admit(r)
		if !ok {
			s.markRemoved()
			h.fail(w, http.StatusTooManyRequests, codeTooMany, "too many connections from this address")
			return
		}
		s.release = release
	}
	h.mu.Lock()
	if len(h.sessions) >= h.cfg.MaxSessions {
		h.mu.Unlock()
		s.drop()
		h.fail(w, http.StatusServiceUnavailable, codeUnavailable, "too many long-poll sessions")
		return
	}
	if max := h.cfg.MaxSessionsPerIP; max > 0 && h.perIP[s.ip] >= max {
		h.mu.Unlock()
		s.drop()
		h.fail(w, http.StatusTooManyRequests, codeTooMany, "too many long-poll sessions from this address")
		return
	}
	h.sessions[s.sid] = s
	h.perIP[s.ip]++
	h.mu.Unlock()
	h.metrics.sessions.Inc()
	h.metrics.opened.Inc()

	s.turn <- struct{}{}
	s.client = h.hub.Connect(s) // closes s at once while the hub shuts down
	<-s.turn
	if s.isClosing() {
		h.remove(s)
		h.fail(w, http.StatusServiceUnavailable, codeUnavailable, "server shutting down")
		return
	}
	resp, _ := json.Marshal(openResponse{
		SID:          s.sid,
		Dialect:      req.Dialect,
		PingInterval: h.cfg.PollTimeout.Milliseconds(),
		PingTimeout:  h.cfg.PingTimeout.Milliseconds(),
		MaxPayload:   h.cfg.MaxPayload,
	})
	s.armExpiry()
	h.reply(w, http.StatusOK, resp)
}

func (h *Handler) lookup(sid string) *session {
	if sid == "" {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sessions[sid]
}

// remove drops s from the table (once).
func (h *Handler) remove(s *session) {
	if !s.markRemoved() {
		return
	}
	h.mu.Lock()
	if h.sessions[s.sid] == s {
		delete(h.sessions, s.sid)
		if h.perIP[s.ip]--; h.perIP[s.ip] <= 0 {
			delete(h.perIP, s.ip)
		}
	}
	h.mu.Unlock()
	if s.release != nil {
		s.release()
	}
	h.metrics.sessions.Dec()
}

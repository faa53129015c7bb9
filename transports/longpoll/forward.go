package longpoll

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/rtgate/rtgate/cluster"
)

// codeOwnerGone answers a request for a session whose node is gone (410).
const codeOwnerGone = "node_gone"

// sidSep separates the owner node from the random part of a session id
// in a cluster: "<node>~<hex>". '~' is unreserved in URLs and in no node
// name.
const sidSep = "~"

// owner returns the node named in sid, or "" for a sid without one.
func owner(sid string) string {
	if i := strings.LastIndex(sid, sidSep); i > 0 {
		return sid[:i]
	}
	return ""
}

// forwarded is a request carried to the owner node, and its answer.
type forwarded struct {
	Method string `json:"m"`
	Path   string `json:"p"` // the endpoint: send, poll or close
	Query  string `json:"q"`
	Body   []byte `json:"b,omitempty"`
	Remote string `json:"r"`
}

type forwardedReply struct {
	Status int    `json:"s"`
	Body   []byte `json:"b"`
}

// forward serves r, for a session owned by node, through the owner.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, node, endpoint string) {
	var body []byte
	if r.Method == http.MethodPost {
		var ok bool
		if body, ok = h.readBody(w, r, h.cfg.MaxPayload+maxOpenBody); !ok {
			return
		}
	}
	req, _ := json.Marshal(forwarded{Method: r.Method, Path: endpoint, Query: r.URL.RawQuery, Body: body, Remote: r.RemoteAddr})
	// A poll is held at the owner up to PollTimeout.
	wait := h.cfg.PollTimeout + h.cfg.WriteTimeout
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(wait + h.cfg.WriteTimeout))
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	h.metrics.forwarded.Inc()
	out, err := h.cfg.Forward.Request(ctx, cluster.Node(node), req)
	if err != nil {
		if errors.Is(err, cluster.ErrNoNode) {
			h.fail(w, http.StatusGone, codeOwnerGone, "the node holding this session is gone; open a new session")
			return
		}
		h.log.Warn("forward a long-poll request", "node", node, "endpoint", endpoint, "err", err)
		h.fail(w, http.StatusServiceUnavailable, codeUnavailable, "the node holding this session did not answer; retry")
		return
	}
	var rep forwardedReply
	if err := json.Unmarshal(out, &rep); err != nil || rep.Status == 0 {
		h.fail(w, http.StatusBadGateway, codeUnavailable, "malformed answer from the node holding this session")
		return
	}
	h.reply(w, rep.Status, rep.Body)
}

// ServeForwarded serves a request another node forwarded (register it
// with the cluster.Forwarder's Serve): the session's own node runs it as if it had come over HTTP
// and returns the answer.
func (h *Handler) ServeForwarded(ctx context.Context, req []byte) ([]byte, error) {
	var f forwarded
	if err := json.Unmarshal(req, &f); err != nil {
		return nil, err
	}
	switch f.Path {
	case "send", "poll", "close":
	default:
		return nil, errors.New("longpoll: forwarded request for endpoint " + f.Path)
	}
	r, err := http.NewRequestWithContext(ctx, f.Method, "/lp/"+f.Path+"?"+f.Query, bytes.NewReader(f.Body))
	if err != nil {
		return nil, err
	}
	r.RemoteAddr = f.Remote
	rec := &recorder{header: http.Header{}}
	h.serveLocal(rec, r, f.Path)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return json.Marshal(forwardedReply{Status: rec.status, Body: rec.body.Bytes()})
}

// recorder is the http.ResponseWriter of a forwarded request.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// Package origin decides which browser origins may use rtgate's HTTP
// endpoints: the WebSocket, long-poll and WebTransport handshakes (a
// refused origin is refused) and the router's and REST API's CORS headers
// (a refused origin gets none, so the browser hides the answer). Every
// endpoint reads the same allowedOrigins setting through it.
//
// Concurrency: a Policy is immutable and safe for concurrent use.
//
// Imports: the standard library only.
package origin

import (
	"net/http"
	"slices"
	"strings"
)

// Policy is a set of allowed origins ("https://chat.example.org",
// compared case-insensitively; "*" allows any). The zero Policy, like an
// empty list, allows any origin.
type Policy struct {
	allowed []string // nil: any
}

// New returns the policy allowing the origins listed; none or "*" among
// them allows any.
func New(allowed []string) Policy {
	if len(allowed) == 0 || slices.Contains(allowed, "*") {
		return Policy{}
	}
	return Policy{allowed: slices.Clone(allowed)}
}

// Any reports whether every origin is allowed.
func (p Policy) Any() bool { return p.allowed == nil }

// Allowed reports whether a page from origin may use an endpoint. A
// request without an Origin header does not come from a page script (or
// comes from the same origin) and is always allowed.
func (p Policy) Allowed(origin string) bool {
	if origin == "" || p.allowed == nil {
		return true
	}
	for _, a := range p.allowed {
		if strings.EqualFold(a, origin) {
			return true
		}
	}
	return false
}

// Check returns the origin check of a handshake: override when it is set
// (a Config.CheckOrigin), else the policy of allowed applied to the
// request's Origin header.
func Check(allowed []string, override func(*http.Request) bool) func(*http.Request) bool {
	if override != nil {
		return override
	}
	p := New(allowed)
	return func(r *http.Request) bool { return p.Allowed(r.Header.Get("Origin")) }
}

// SetCORS sets the CORS answer to r in h: Access-Control-Allow-Origin
// "*" when any origin is allowed, else r's Origin when it is allowed
// (with Vary: Origin, as the answer depends on it), else nothing.
func (p Policy) SetCORS(h http.Header, r *http.Request) {
	if p.allowed == nil {
		h.Set("Access-Control-Allow-Origin", "*")
		return
	}
	h.Add("Vary", "Origin")
	if o := r.Header.Get("Origin"); o != "" && p.Allowed(o) {
		h.Set("Access-Control-Allow-Origin", o)
	}
}

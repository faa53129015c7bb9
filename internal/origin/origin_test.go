package origin_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rtgate/rtgate/internal/origin"
)

func TestPolicy(t *testing.T) {
	tests := []struct {
		name    string
		allowed []string
		origin  string
		ok      bool
		cors    string // Access-Control-Allow-Origin
		vary    bool
	}{
		{"empty list allows any", nil, "https://a.example", true, "*", false},
		{"star allows any", []string{"https://b.example", "*"}, "https://a.example", true, "*", false},
		{"listed", []string{"https://a.example"}, "https://a.example", true, "https://a.example", true},
		{"listed, other case", []string{"https://A.example"}, "https://a.EXAMPLE", true, "https://a.EXAMPLE", true},
		{"not listed", []string{"https://a.example"}, "https://evil.example", false, "", true},
		{"no Origin header", []string{"https://a.example"}, "", true, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := origin.New(tt.allowed)
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if got := p.Allowed(tt.origin); got != tt.ok {
				t.Fatalf("Allowed = %v, want %v", got, tt.ok)
			}
			if got := origin.Check(tt.allowed, nil)(r); got != tt.ok {
				t.Fatalf("Check = %v, want %v", got, tt.ok)
			}
			h := http.Header{}
			p.SetCORS(h, r)
			if got := h.Get("Access-Control-Allow-Origin"); got != tt.cors {
				t.Fatalf("Access-Control-Allow-Origin %q, want %q", got, tt.cors)
			}
			if got := h.Get("Vary") == "Origin"; got != tt.vary {
				t.Fatalf("Vary: Origin %v, want %v", got, tt.vary)
			}
		})
	}
	t.Run("override wins", func(t *testing.T) {
		deny := func(*http.Request) bool { return false }
		if origin.Check(nil, deny)(httptest.NewRequest(http.MethodGet, "/", nil)) {
			t.Fatal("the override should decide")
		}
	})
}

package longpoll_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/internal/iplimit"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/transports/longpoll"
)

// openFrom opens a session from remote (ip:port) and returns the response.
func (l *lp) openFrom(remote string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "/lp/open", strings.NewReader(""))
	r.RemoteAddr = remote
	w := httptest.NewRecorder()
	l.h.ServeHTTP(w, r)
	return w
}

func sidOf(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var resp struct{ SID string }
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &resp) != nil || resp.SID == "" {
		t.Fatalf("open = %d %s", w.Code, w.Body)
	}
	return resp.SID
}

// TestSessionsPerIP: one address cannot fill the session table (issue 15
// defect 4: 100 000 opens from one client made every open answer 503).
// Past MaxSessionsPerIP its opens get 429 while other addresses still
// open sessions; a session that leaves the table frees its place.
func TestSessionsPerIP(t *testing.T) {
	l := newLP(t, func(c *longpoll.Config) { c.MaxSessions = 50; c.MaxSessionsPerIP = 10 })
	const attacker, other = "192.0.2.1:4000", "198.51.100.7:5000"
	var first string
	for i := range 200 {
		w := l.openFrom(attacker)
		if i < 10 {
			if sid := sidOf(t, w); i == 0 {
				first = sid
			}
			continue
		}
		expectError(t, w, http.StatusTooManyRequests, "too_many_sessions")
	}
	for range 5 {
		sidOf(t, l.openFrom(other))
	}
	if n := l.h.Sessions(); n != 15 {
		t.Fatalf("%d sessions in the table, want 15", n)
	}
	expectBody(t, l.do("POST", "close?sid="+first, ""), 200, `{}`)
	sidOf(t, l.openFrom("192.0.2.1:4001")) // same address, another port
	expectError(t, l.openFrom(attacker), http.StatusTooManyRequests, "too_many_sessions")
}

// TestSessionsCountAsConnections: with Config.Admit wired to the shared
// per-IP connection limit (rtgate's limits.connectionsPerIP), each session
// holds one connection of its address until it leaves the table, expiry
// included.
func TestSessionsCountAsConnections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := iplimit.New(2)
		l := newLP(t, func(c *longpoll.Config) {
			c.Admit = func(r *http.Request) (func(), bool) { return lim.AdmitRemote(r.RemoteAddr) }
		})
		const addr = "192.0.2.1:4000"
		a := sidOf(t, l.openFrom(addr))
		sidOf(t, l.openFrom(addr))
		expectError(t, l.openFrom(addr), http.StatusTooManyRequests, "too_many_sessions")
		if lim.Refused() != 1 {
			t.Fatalf("refused %d", lim.Refused())
		}
		expectBody(t, l.do("POST", "close?sid="+a, ""), 200, `{}`)
		sidOf(t, l.openFrom(addr))
		// Unpolled, both expire; their connections are released.
		time.Sleep(11 * time.Second)
		synctest.Wait()
		if n := l.h.Sessions(); n != 0 {
			t.Fatalf("%d sessions left", n)
		}
		sidOf(t, l.openFrom(addr))
		sidOf(t, l.openFrom(addr))
	})
}

// TestNeverPolledSessionExpiresSooner: a session that never polls expires
// after FirstPollTimeout (10 s), not PollTimeout+PingTimeout (45 s); a
// session that polled keeps the long expiry.
func TestNeverPolledSessionExpiresSooner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLP(t, nil)
		watcher := coretest.Dial(l.hub, false)
		t.Cleanup(watcher.Drop)
		watcher.Open(t, "app", "w", "bob", "carol")
		idle := l.open("")
		l.send(idle, `[{"cseq":1,"d":{"cmd":"session","op":"open","appId":"app","peerId":"bob","sessionPeerIds":[],"i":1}}]`, 1)
		watcher.Expect(t, protocol.KindPresence) // bob on
		polled := l.open("")
		l.send(polled, `[{"cseq":1,"d":{"cmd":"session","op":"open","appId":"app","peerId":"carol","sessionPeerIds":[],"i":1}}]`, 1)
		watcher.Expect(t, protocol.KindPresence) // carol on
		if w := l.do("GET", "poll?sid="+polled, ""); w.Code != 200 {
			t.Fatalf("poll = %d %s", w.Code, w.Body)
		}
		start := time.Now()
		time.Sleep(10*time.Second + time.Millisecond)
		synctest.Wait()
		off := watcher.Expect(t, protocol.KindPresence)
		if off.Status != protocol.StatusOff || off.SessionPeerIDs[0] != "bob" || time.Since(start) > 10*time.Second+time.Millisecond {
			t.Fatalf("presence %+v after %s", *off, time.Since(start))
		}
		expectError(t, l.do("GET", "poll?sid="+idle, ""), 404, "unknown_session")
		if n := l.h.Sessions(); n != 1 {
			t.Fatalf("%d sessions, want the polled one", n)
		}
	})
}

// TestSlowOpenDoesNotExpire: a session's first-poll clock starts when its
// open is answered, not when the open began. An open slowed down (here by
// the admission hook, as a starved process would be) past
// FirstPollTimeout used to find its session expired and answer 503
// "server shutting down" on a hub that was not shutting down (found by
// FuzzLongPoll under load).
func TestSlowOpenDoesNotExpire(t *testing.T) {
	l := newLP(t, func(c *longpoll.Config) {
		c.PollTimeout = time.Millisecond
		c.PingTimeout = 5 * time.Millisecond
		c.Admit = func(*http.Request) (func(), bool) {
			time.Sleep(50 * time.Millisecond) // ten first-poll timeouts
			return func() {}, true
		}
	})
	sidOf(t, l.openFrom("192.0.2.1:4000"))
}

package fuzz

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/storage/memory"
	"github.com/rtgate/rtgate/transports/longpoll"
)

// FuzzLongPoll sends an arbitrary /lp/open body, then (on the session it
// opened, or a default one) an arbitrary /lp/send body and a poll with an
// arbitrary ack parameter, all to the handler directly (no network).
func FuzzLongPoll(f *testing.F) {
	f.Add([]byte(`{"dialect":"v1"}`),
		[]byte(`[{"cseq":1,"d":{"cmd":"session","op":"open","appId":"a","peerId":"p","sessionPeerIds":[]}}]`), "1")
	f.Add([]byte(`{"dialect":"rtgate.json.1"}`),
		[]byte(`[{"cseq":1,"d":{"cmd":"session","op":"open","appId":"a","peerId":"p","i":1}},`+
			`{"cseq":2,"d":{"cmd":"direct","peerId":"p","msg":"hi","toPeerIds":["p"],"i":2}},{"cseq":3,"d":"{}"}]`), "0")
	f.Add([]byte(``), []byte(`[{"cseq":1,"d":"{\"cmd\":\"session\",\"op\":\"open\",\"peerId\":\"p\",\"appId\":\"a\"}"}]`), "")
	f.Add([]byte(`{"dialect":"v9"}`), []byte(`[{"cseq":0,"d":{}}]`), "x")
	f.Add([]byte(`{"dialect":"rtgate.json.1"}`), []byte(`[{"cseq":1,"d":{"cmd":"nope"}},{"cseq":3,"d":{}}]`), "99")
	f.Add([]byte(`[]`), []byte(`{"cseq":1}`), "-1")
	f.Fuzz(longPollOnce)
}

// longPollOnce is one FuzzLongPoll run.
func longPollOnce(t *testing.T, openBody, sendBody []byte, ack string) {
	{
		hub, err := core.New(core.Config{Store: memory.New(memory.Config{}), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		h := longpoll.New(hub, longpoll.Config{PollTimeout: time.Millisecond, PingTimeout: 20 * time.Millisecond,
			MaxPayload: 4096, Logger: slog.New(slog.DiscardHandler)})
		do := func(method, target string, body []byte) (int, []byte) {
			r := httptest.NewRequest(method, "/lp/"+target, strings.NewReader(string(body)))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w.Code, w.Body.Bytes()
		}
		check := func(what string, code int, body []byte) map[string]json.RawMessage {
			var m map[string]json.RawMessage
			if code >= 500 || code < 200 {
				t.Fatalf("%s: HTTP %d %q", what, code, body)
			}
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatalf("%s: HTTP %d answer %q is not a JSON object: %v", what, code, body, err)
			}
			if code >= 400 && (m["code"] == nil || m["error"] == nil) {
				t.Fatalf("%s: HTTP %d answer %q lacks code and error", what, code, body)
			}
			return m
		}

		code, body := do(http.MethodPost, "open", openBody)
		open := check("open", code, body)
		if code != http.StatusOK {
			dialect := []string{"v1", "rtgate.json.1"}[len(openBody)%2]
			code, body = do(http.MethodPost, "open", []byte(`{"dialect":"`+dialect+`"}`))
			if open = check("default open", code, body); code != http.StatusOK {
				t.Fatalf("default open: HTTP %d %q", code, body)
			}
		}
		var sid, dialect string
		json.Unmarshal(open["sid"], &sid)
		json.Unmarshal(open["dialect"], &dialect)
		q := url.Values{"sid": {sid}}
		code, body = do(http.MethodPost, "send?"+q.Encode(), sendBody)
		check("send", code, body)
		q.Set("ack", ack)
		code, body = do(http.MethodGet, "poll?"+q.Encode(), nil)
		poll := check("poll", code, body)
		if code == http.StatusOK {
			var frames []struct {
				Seq uint64          `json:"seq"`
				D   json.RawMessage `json:"d"`
			}
			if err := json.Unmarshal(poll["frames"], &frames); err != nil {
				t.Fatalf("poll: frames of %q: %v", body, err)
			}
			for _, fr := range frames {
				var cmd protocol.Command
				if err := protocol.DecodeJSON(fr.D, &cmd); err != nil {
					t.Fatalf("poll: frame %q does not decode: %v", fr.D, err)
				}
				if !serverKinds[cmd.Kind] || (cmd.Kind == protocol.KindError && dialect == "v1") {
					t.Fatalf("poll: %s session got %v: %q", dialect, cmd.Kind, fr.D)
				}
			}
		}
		do(http.MethodPost, "close?"+url.Values{"sid": {sid}}.Encode(), nil)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hub.Shutdown(ctx); err != nil {
			t.Fatalf("hub shutdown: %v", err)
		}
		done := make(chan struct{})
		go func() { h.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatal("long-poll handler did not finish within 5 s of the hub's shutdown")
		}
	}
}

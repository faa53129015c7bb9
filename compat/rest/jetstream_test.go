package rest_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rtgate/rtgate/compat/rest"
	"github.com/rtgate/rtgate/internal/natsembed/natstest"
	"github.com/rtgate/rtgate/storage/jetstream"
)

// TestJetStreamStore serves the REST API from the cluster store on a real
// nats-server: messages and unread counts work, and the history endpoints
// answer 501 with a JSON error that says why.
func TestJetStreamStore(t *testing.T) {
	c := natstest.Single(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := jetstream.Open(ctx, c.Connect(0), jetstream.Config{UnsafeSingleReplica: true})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, store, nil)
	e.post(`{"from_peer":"u1","to_peers":["u2"],"message":"hi","transient":false}`)
	var unread struct{ Count int }
	e.do("GET", "/1.1/rtm/messages/unread/u2", appHdr, "").decode(t, 200, &unread)
	if unread.Count != 1 {
		t.Fatalf("unread = %d, want 1", unread.Count)
	}
	for _, a := range []answer{
		e.do("GET", "/1.1/rtm/messages/logs?convid=c", appHdr, ""),
		e.do("DELETE", "/1.1/rtm/messages/logs?"+url.Values{"convid": {"c"}, "msgid": {"x"}, "timestamp": {"1"}}.Encode(), masterHdr, ""),
	} {
		a.wantError(t, 501, rest.CodeNotImplemented)
		if !strings.Contains(a.body, "history indexer") {
			t.Errorf("501 body %s does not say why", a.body)
		}
	}
}

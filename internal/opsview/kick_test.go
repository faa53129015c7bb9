package opsview

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestKick: Kick sends the request to each named node and gathers the
// answers, sorted, with an error for a node that does not answer;
// HandleKick refuses what is not a kick with an app and a peer.
func TestKick(t *testing.T) {
	var got []KickRequest
	handlers := map[string]func(context.Context, []byte) ([]byte, error){
		"n2": HandleKick(func() string { return "n2" }, func(rq KickRequest) []Closed {
			got = append(got, rq)
			return []Closed{{Peer: rq.Peer, Transport: "ws", Addr: "10.0.0.1:1", Connection: false}}
		}, nil),
		"n1": HandleKick(func() string { return "n1" }, func(KickRequest) []Closed { return nil },
			func(app, peer string) []Session {
				return []Session{{Peer: peer, Transport: "quic", Addr: "10.0.0.2:2", Modern: true}}
			}),
	}
	send := func(ctx context.Context, node string, b []byte) ([]byte, error) {
		h := handlers[node]
		if h == nil {
			return nil, errors.New("no such node")
		}
		return h(ctx, b)
	}
	rq := KickRequest{App: "app", Peer: "alice", Session: true, Addr: "10.0.0.1:1", Reason: "bye"}
	replies, err := Kick(context.Background(), []string{"n2", "gone", "n1"}, rq, send)
	if err != nil {
		t.Fatal(err)
	}
	if len(replies) != 3 || replies[0].Node != "gone" || replies[0].Error == "" || replies[1].Node != "n1" ||
		len(replies[1].Closed) != 0 || replies[1].Closed == nil || replies[2].Node != "n2" || len(replies[2].Closed) != 1 {
		t.Fatalf("replies %+v", replies)
	}
	if c, s := Totals(replies); c != 0 || s != 1 {
		t.Fatalf("Totals = %d connections, %d sessions", c, s)
	}
	rq.Op = OpKick
	if len(got) != 1 || got[0] != rq {
		t.Fatalf("n2 got %+v, want %+v", got, rq)
	}
	// A listing closes nothing.
	list, err := Kick(context.Background(), []string{"n1"}, KickRequest{Op: OpSessions, App: "app", Peer: "bob"}, send)
	if err != nil || len(list) != 1 || len(list[0].Closed) != 0 || len(list[0].Sessions) != 1 || list[0].Sessions[0].Peer != "bob" {
		t.Fatalf("sessions: %+v, %v", list, err)
	}
	if _, err := Kick(context.Background(), []string{"n1"}, KickRequest{App: "app"}, send); err == nil {
		t.Fatal("a kick without a peer was sent")
	}
	for _, bad := range []string{`{"op":"kick","app":"a"}`, `{"op":"reboot","app":"a","peer":"p"}`, `not json`} {
		if _, err := handlers["n1"](context.Background(), []byte(bad)); err == nil || !strings.Contains(err.Error(), "opsview") {
			t.Errorf("%s: %v, want a refusal", bad, err)
		}
	}
}

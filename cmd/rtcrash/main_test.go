package main

import (
	"io"
	"strings"
	"testing"

	"github.com/rtgate/rtgate/internal/serverproc"
	"github.com/rtgate/rtgate/protocol"
)

// TestCheckFindsEachFailure feeds the ledger and a history with one
// failure of each kind and checks the report names each one, and that a
// clean ledger gives a clean report.
func TestCheckFindsEachFailure(t *testing.T) {
	c := newCampaign(&options{}, serverproc.Config{}, "t", io.Discard)
	p := &pair{i: 0, transport: "ws-json", modern: true, sender: "s0", receiver: "r0"}
	sent := func(text, uid string) *message {
		m := &message{pair: p, text: text, clientID: "c-" + text}
		c.led.sent(m)
		if uid != "" {
			c.led.acked(m, uid)
		}
		return m
	}
	deliver := func(s *session, id, text string, offline bool) {
		s.read(nil, &protocol.Command{Kind: protocol.KindDirect, ID: id, Msg: text, FromPeerID: "s0", Offline: offline}, false)
	}

	// Clean: acked, stored once, delivered once per session.
	sent("ok", "U1")
	s1 := c.led.session(p, nil)
	deliver(s1, "U1", "ok", false)
	s2 := c.led.session(p, nil) // a later session may get it again
	deliver(s2, "U1", "ok", true)
	hist := []record{{MsgID: "U1", Data: "ok", From: "s0"}}
	r := &report{}
	c.check(r, []*pair{p}, map[*pair][]record{p: hist})
	if !r.clean() {
		t.Fatalf("clean ledger reported unclean: %+v", r)
	}

	// Each failure once.
	sent("lost", "U2")                 // acked, neither stored nor delivered
	m := sent("repeat", "U3")          // a repeat acked with another uid
	c.led.acked(m, "U9")               //
	sent("twice-stored", "U4")         // stored under two ids
	sent("undelivered", "")            // stored, never delivered
	deliver(s2, "U1", "ok", false)     // twice in session s2
	deliver(s2, "U3", "repeat", false) //
	deliver(s2, "U4", "twice-stored", false)
	hist = append(hist,
		record{MsgID: "U3", Data: "repeat"},
		record{MsgID: "U4", Data: "twice-stored"},
		record{MsgID: "U5", Data: "twice-stored"},
		record{MsgID: "U6", Data: "undelivered"},
	)
	r = &report{}
	c.check(r, []*pair{p}, map[*pair][]record{p: hist})
	want := map[string][]string{
		"lost":           {"U2"},
		"storedTwice":    {"U9", "U5"},
		"twiceInSession": {"U1"},
		"undelivered":    {"U6"},
	}
	got := map[string][]string{"lost": r.lost, "storedTwice": r.storedTwice,
		"twiceInSession": r.twiceInSession, "undelivered": r.undelivered}
	for what, needles := range want {
		all := strings.Join(got[what], "\n")
		for _, n := range needles {
			if !strings.Contains(all, n) {
				t.Errorf("%s does not mention %s:\n%s", what, n, all)
			}
		}
	}
	if len(r.lost) != 2 { // not in the history, and never delivered
		t.Errorf("lost = %q, want the two lines about U2", r.lost)
	}
	if r.clean() {
		t.Error("report with failures is clean")
	}
}

func TestFlags(t *testing.T) {
	for _, bad := range [][]string{{"--kills", "0"}, {"--pairs", "0"}, {"--transports", "smoke"}, {"extra"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	o, err := parseFlags([]string{"--kills", "5", "--transports", "quic, ws-json"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.duration.Seconds() != 25 || len(o.transports) != 2 || o.seed == 0 {
		t.Errorf("options %+v", o)
	}
}

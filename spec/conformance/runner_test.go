package conformance

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rtgate/rtgate/protocol"
)

// fakeConn answers every command with a keepalive, or fails to dial.
type fakeConn struct {
	in   chan *protocol.Command
	done chan struct{}
}

func (c *fakeConn) Send(*protocol.Command) error {
	select {
	case c.in <- &protocol.Command{Kind: protocol.KindKeepalive}:
	case <-c.done:
	}
	return nil
}

func (c *fakeConn) Recv() (*protocol.Command, error) {
	select {
	case f := <-c.in:
		return f, nil
	case <-c.done:
		return nil, errors.New("closed")
	}
}

func (c *fakeConn) Close() error {
	select {
	case <-c.done:
	default:
		close(c.done)
	}
	return nil
}

func TestRunReport(t *testing.T) {
	d := Dialer{Dial: func(ctx context.Context) (Conn, error) {
		return &fakeConn{in: make(chan *protocol.Command, 8), done: make(chan struct{})}, nil
	}}
	scenarios := []Scenario{
		{"passes", func(t *T) { t.Dial("a").Barrier("echo") }},
		{"fails", func(t *T) {
			c := t.Dial("a")
			c.Send(&protocol.Command{Kind: protocol.KindKeepalive})
			c.Expect(protocol.KindSessionOpened)
		}},
		{"times-out", func(t *T) { t.Dial("a").Next("anything") }},
		{"skips", func(t *T) { signedApp(t) }},
		{"panics", func(t *T) { panic("boom") }},
	}
	var out bytes.Buffer
	rep := Run(context.Background(), []Target{{"x", d}, {"y", d}}, scenarios,
		Config{Wait: 50 * time.Millisecond, Out: &out})
	if rep.Passed != 2 || rep.Failed != 6 || rep.Skipped != 2 {
		t.Fatalf("report %+v", rep)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	want := []string{
		"ok   x/passes",
		"FAIL x/fails: a: got {} {}, want session opened",
		"FAIL x/times-out: a: no frame within 50ms while waiting for anything",
		"skip x/skips: no signed app (give --signed-app ID --master-key KEY)",
		"FAIL x/panics: panic: boom",
	}
	for k, w := range want {
		if !strings.HasPrefix(lines[k], w) {
			t.Errorf("line %d: %q, want prefix %q", k, lines[k], w)
		}
	}
	if last := lines[len(lines)-1]; last != "2 passed, 6 failed, 2 skipped" {
		t.Errorf("closing line %q", last)
	}
	if out.String() != rep.String() {
		t.Errorf("streamed output and Report.String differ:\n%s\n---\n%s", out.String(), rep.String())
	}
}

func TestText(t *testing.T) {
	for _, n := range []int{5120, 5121, 100, 7} {
		s := text(n)
		if len(s) != n || !utf8.ValidString(s) {
			t.Errorf("text(%d): %d bytes", n, len(s))
		}
	}
	if s := text(protocol.MaxMessageBytes); !utf8.ValidString(s) || utf8.RuneCountInString(s) == len(s) {
		t.Errorf("text(5120) should be valid UTF-8 with multi-byte characters")
	}
}

func TestSign(t *testing.T) {
	// spec/groups-signatures.md, worked vectors.
	if got := sign("masterkey", "A", "alice", sorted([]string{"carol", "bob"}), "1415000000", "48213"); got != "e9fb68a8c1108f40afa13b25fdd655011c32c9d9" {
		t.Errorf("session signature %s", got)
	}
	if got := sign("masterkey", "A", "alice", "", "", "1415000000", "1", "join"); got != "1bd091a023cb2a5375350258574b287107fd5a42" {
		t.Errorf("join signature %s", got)
	}
}

func TestSelectAndTargets(t *testing.T) {
	sel, unknown := Select(All(), []string{"presence", "nope"})
	if len(sel) != 1 || sel[0].Name != "presence" || len(unknown) != 1 {
		t.Fatalf("Select: %v %v", sel, unknown)
	}
	seen := map[string]bool{}
	for _, s := range All() {
		if seen[s.Name] {
			t.Errorf("duplicate scenario %s", s.Name)
		}
		seen[s.Name] = true
	}
	ts, err := Targets(Endpoints{WebSocket: "ws://127.0.0.1:1/ws"}, nil)
	if err != nil || len(ts) != 3 {
		t.Fatalf("Targets with only WebSocket: %d, %v", len(ts), err)
	}
	if _, err := Targets(Endpoints{WebSocket: "ws://127.0.0.1:1/ws"}, []string{"quic"}); err == nil {
		t.Error("asking for quic without its endpoint should fail")
	}
}

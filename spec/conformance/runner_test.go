package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
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
	rep := Run(context.Background(), []Target{{Name: "x", Dialer: d}, {Name: "y", Dialer: d}}, scenarios,
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

// TestSpread: SpreadTargets keeps the names every server has, and a
// scenario's connections (Dial and DialRaw alike) go to the servers in
// turn, counted per scenario.
func TestSpread(t *testing.T) {
	var mu sync.Mutex
	var dialed []string // "server/kind", in order
	dialer := func(server int) Dialer {
		note := func(kind string) *fakeConn {
			mu.Lock()
			dialed = append(dialed, fmt.Sprintf("%d/%s", server, kind))
			mu.Unlock()
			return &fakeConn{in: make(chan *protocol.Command, 8), done: make(chan struct{})}
		}
		return Dialer{
			Dial:    func(context.Context) (Conn, error) { return note("dial"), nil },
			DialRaw: func(context.Context) (RawConn, error) { return rawFake{note("raw")}, nil },
		}
	}
	var perServer [][]Target
	for s := range 3 {
		ts := []Target{{Name: "ws", Dialer: dialer(s)}}
		if s != 1 {
			ts = append(ts, Target{Name: "quic", Dialer: dialer(s)})
		}
		perServer = append(perServer, ts)
	}
	spread, partial := SpreadTargets(perServer)
	if len(spread) != 1 || spread[0].Name != "ws" || len(spread[0].Spread) != 3 || len(partial) != 1 || partial[0] != "quic" {
		t.Fatalf("SpreadTargets: %+v, partial %v", spread, partial)
	}
	if one, _ := SpreadTargets(perServer[:1]); len(one) != 2 || one[0].Spread != nil {
		t.Fatalf("one server: %+v", one)
	}
	for _, sc := range []struct {
		s    Scenario
		want string
	}{
		{Scenario{"four", func(t *T) {
			t.Dial("a").Barrier("echo")
			t.DialRaw("b").Barrier("echo")
			t.Dial("c").Barrier("echo")
			t.Dial("d").Barrier("echo")
		}}, "[0/dial 1/raw 2/dial 0/dial]"},
		{Scenario{"two", func(t *T) {
			t.Dial("a").Barrier("echo")
			t.Dial("b").Barrier("echo")
		}}, "[0/dial 1/dial]"},
	} {
		dialed = nil
		if rep := Run(context.Background(), spread, []Scenario{sc.s}, Config{Wait: time.Second}); rep.Passed != 1 {
			t.Fatalf("%s: %s", sc.s.Name, rep)
		}
		if got := fmt.Sprint(dialed); got != sc.want {
			t.Errorf("%s: servers dialed %s, want %s", sc.s.Name, got, sc.want)
		}
	}
}

// rawFake is a fakeConn that passes for a RawConn.
type rawFake struct{ *fakeConn }

func (rawFake) SendRaw([]byte) error { return nil }
func (rawFake) Abort()               {}

package sign

import (
	"errors"
	"strings"
	"testing"

	"github.com/rtgate/rtgate/core"
)

func TestSign(t *testing.T) {
	r := Request{App: "A", MasterKey: "K", Peer: "alice", T: 1415000000, Nonce: "48213"}
	check := func(t *testing.T, signed, mac, want string) {
		t.Helper()
		if signed != want {
			t.Fatalf("signed %q, want %q", signed, want)
		}
		if w := core.Sign("K", strings.Split(want, ":")...); mac != w {
			t.Fatalf("mac %s, want %s", mac, w)
		}
	}
	t.Run("session", func(t *testing.T) {
		s, err := Session(r, []string{"carol", "bob"}, NotSuperPeer)
		if err != nil {
			t.Fatal(err)
		}
		check(t, s.Signed, s.S, "A:alice:bob:carol:1415000000:48213")
	})
	t.Run("super peer su", func(t *testing.T) {
		s, err := Session(r, nil, SuperPeerSU)
		if err != nil || !s.SP {
			t.Fatal(err, s)
		}
		check(t, s.Signed, s.S, "A:alice::1415000000:48213:su")
	})
	t.Run("room create", func(t *testing.T) {
		s, err := Room(r, "", nil, "join")
		if err != nil {
			t.Fatal(err)
		}
		check(t, s.Signed, s.S, "A:alice:::1415000000:48213:join")
	})
	t.Run("history by peers", func(t *testing.T) {
		h, err := HistoryQuery(Request{App: "A", MasterKey: "K", Peer: "u1234", T: 1415000000, Nonce: "n1"}, "", []string{"u1234", "u0988"})
		if err != nil {
			t.Fatal(err)
		}
		check(t, h.Signed, h.Signature, "A:u1234:bcd26a54e98687390b0abb4d83683d4b:n1:1415000000")
	})
	t.Run("random nonce", func(t *testing.T) {
		s, err := Session(Request{App: "A", MasterKey: "K", Peer: "p"}, nil, NotSuperPeer)
		if err != nil || len(s.N) != 16 {
			t.Fatalf("%v %+v", err, s)
		}
	})
	for name, err := range map[string]error{
		"no master key":        func() error { _, err := Session(Request{App: "A", Peer: "p"}, nil, ""); return err }(),
		"bad super peer":       func() error { _, err := Session(r, nil, "xx"); return err }(),
		"bad action":           func() error { _, err := Room(r, "G", nil, "ban"); return err }(),
		"invite without group": func() error { _, err := Room(r, "", []string{"b"}, "invite"); return err }(),
		"history without conv": func() error { _, err := HistoryQuery(r, "", nil); return err }(),
		"history with both":    func() error { _, err := HistoryQuery(r, "c", []string{"a"}); return err }(),
	} {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err %v, want ErrInvalid", name, err)
		}
	}
}

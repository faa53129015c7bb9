package core_test

import (
	"crypto/md5"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/protocol"
)

func TestConvIDDocExample(t *testing.T) {
	if got := core.ConvID([]string{"u1234", "u0988"}); got != "bcd26a54e98687390b0abb4d83683d4b" {
		t.Fatalf("ConvID = %s", got)
	}
}

// TestConvIDTwoPeers: the two-participant fast path gives what the
// general rule (sort, de-duplicate, join by ":", md5) gives, whatever the
// order, for a peer talking to itself, and for ids longer than its stack
// buffer.
func TestConvIDTwoPeers(t *testing.T) {
	general := func(p []string) string {
		q := slices.Clone(p)
		slices.Sort(q)
		q = slices.Compact(q)
		return fmt.Sprintf("%x", md5.Sum([]byte(strings.Join(q, ":"))))
	}
	long := strings.Repeat("x", 200)
	for _, p := range [][]string{{"u1234", "u0988"}, {"u0988", "u1234"}, {"a", "a"}, {"", "b"}, {long, "b"}, {"b", long + "y"}} {
		if got, want := core.ConvID(p), general(p); got != want {
			t.Errorf("ConvID(%q) = %s, want %s", p, got, want)
		}
	}
}

func TestSignDocExample(t *testing.T) {
	// protocol-v1 §6.2: appId A, peer alice, watch [carol bob] -> A:alice:bob:carol:t:n
	f := core.SessionSignFields("A", "alice", []string{"carol", "bob"}, "1415000000", "48213", false)
	if got := core.Sign("mk", f...); got != core.Sign("mk", "A:alice:bob:carol:1415000000:48213") {
		t.Fatalf("fields %v", f)
	}
}

func signedOpen(app *core.App, peer string, watch []string, ts time.Time, key string) *protocol.Command {
	t := strconv.FormatInt(ts.Unix(), 10)
	return &protocol.Command{Kind: protocol.KindSessionOpen, AppID: app.ID, PeerID: peer, SessionPeerIDs: watch,
		SigTime: t, Nonce: "n1", Sig: core.Sign(key, core.SessionSignFields(app.ID, peer, watch, t, "n1", false)...), I: 1}
}

func TestSignatures(t *testing.T) {
	signed := &core.App{ID: "sapp", MasterKey: "master", Signatures: true}
	h, _ := newHub(t, func(c *core.Config) { c.Apps = core.StaticApps{"sapp": signed} })
	now := time.Now()

	ok := coretest.Dial(h, false)
	send(t, ok, signedOpen(signed, "alice", []string{"bob"}, now, "master"))
	ok.Expect(t, protocol.KindSessionOpened)

	for name, cmd := range map[string]*protocol.Command{
		"wrong key": signedOpen(signed, "mallory", nil, now, "guess"),
		"stale":     signedOpen(signed, "mallory", nil, now.Add(-7*time.Hour), "master"),
		"missing":   {Kind: protocol.KindSessionOpen, AppID: "sapp", PeerID: "mallory"},
		"list mismatch": func() *protocol.Command {
			c := signedOpen(signed, "mallory", []string{"bob"}, now, "master")
			c.SessionPeerIDs = []string{"bob", "carol"}
			return c
		}(),
	} {
		c := coretest.Dial(h, false)
		c.Send(cmd)
		if c.Closed() != protocol.CloseLoginTimeout {
			t.Errorf("%s: close %d, want 4108", name, c.Closed())
		}
		c.ExpectNone(t, 10*time.Millisecond)
	}

	// A refused add answers added with nothing added.
	bad := signedOpen(signed, "alice", []string{"carol"}, now, "wrong")
	bad.Kind, bad.I = protocol.KindSessionAdd, 2
	send(t, ok, bad)
	if a := ok.Expect(t, protocol.KindSessionAdded); len(a.OnlineSessionPeerIDs) != 0 || a.I != 2 {
		t.Fatalf("added = %+v", *a)
	}
	good := signedOpen(signed, "alice", []string{"carol"}, now, "master")
	good.Kind = protocol.KindSessionAdd
	carol := coretest.Dial(h, false)
	send(t, carol, signedOpen(signed, "carol", nil, now, "master"))
	carol.Expect(t, protocol.KindSessionOpened)
	ok.ExpectNone(t, 30*time.Millisecond) // the refused add watched nothing: no presence
	send(t, ok, good)
	if a := ok.Expect(t, protocol.KindSessionAdded); !slices.Equal(a.OnlineSessionPeerIDs, []string{"carol"}) {
		t.Fatalf("added = %+v", *a)
	}
}

func TestSuperPeerSendsWithoutWatching(t *testing.T) {
	a := &core.App{ID: "sapp", MasterKey: "master"}
	h, _ := newHub(t, func(c *core.Config) { c.Apps = core.StaticApps{"sapp": a} })
	bob := coretest.Dial(h, false)
	send(t, bob, &protocol.Command{Kind: protocol.KindSessionOpen, AppID: "sapp", PeerID: "bob"})
	bob.Expect(t, protocol.KindSessionOpened)

	for _, suffix := range []string{"sp", "su"} {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		bot := coretest.Dial(h, false)
		send(t, bot, &protocol.Command{Kind: protocol.KindSessionOpen, AppID: "sapp", PeerID: "bot-" + suffix, SuperPeer: true,
			SigTime: ts, Nonce: "x", Sig: core.Sign("master", "sapp", "bot-"+suffix, "", ts, "x", suffix)})
		bot.Expect(t, protocol.KindSessionOpened)
		send(t, bot, direct("bot-"+suffix, "hello", "bob"))
		if m := bob.Expect(t, protocol.KindDirect); m.FromPeerID != "bot-"+suffix {
			t.Fatalf("got %+v", *m)
		}
	}
	// sp without a valid signature is refused even when the app has signatures off.
	bot := coretest.Dial(h, false)
	bot.Send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: "sapp", PeerID: "bot", SuperPeer: true})
	if bot.Closed() != protocol.CloseLoginTimeout {
		t.Fatalf("close %d", bot.Closed())
	}
}

func TestNonceReplayCache(t *testing.T) {
	signed := &core.App{ID: "sapp", MasterKey: "master", Signatures: true}
	h, _ := newHub(t, func(c *core.Config) { c.Apps = core.StaticApps{"sapp": signed}; c.NonceCacheSize = 100 })
	cmd := signedOpen(signed, "alice", nil, time.Now(), "master")
	first := coretest.Dial(h, false)
	send(t, first, cmd)
	first.Expect(t, protocol.KindSessionOpened)
	replay := coretest.Dial(h, false)
	replay.Send(cmd)
	if replay.Closed() != protocol.CloseLoginTimeout {
		t.Fatalf("replayed nonce: close %d", replay.Closed())
	}
}

// TestNonceCacheFull: a full nonce cache still refuses replays and accepts
// fresh signatures (issue 15, defect 1: it used to refuse every signature
// for 12 h). A replay is refused as "already used" while remembered, and
// as too old once forgotten; another app is untouched.
func TestNonceCacheFull(t *testing.T) {
	signed := &core.App{ID: "sapp", MasterKey: "master", Signatures: true}
	other := &core.App{ID: "other", MasterKey: "master2", Signatures: true}
	now := time.Unix(1_800_000_000, 0)
	h, _ := newHub(t, func(c *core.Config) {
		c.Apps = core.StaticApps{"sapp": signed, "other": other}
		c.NonceCacheSize = 3
		c.Now = func() time.Time { return now }
	})
	open := func(app *core.App, key, peer, nonce string, ts time.Time) *protocol.Command {
		cmd := signedOpen(app, peer, nil, ts, key)
		cmd.Nonce = nonce
		cmd.Sig = core.Sign(key, core.SessionSignFields(app.ID, peer, nil, cmd.SigTime, nonce, false)...)
		return cmd
	}
	accept := func(cmd *protocol.Command) {
		t.Helper()
		c := coretest.Dial(h, false)
		send(t, c, cmd)
		c.Expect(t, protocol.KindSessionOpened)
	}
	refuse := func(cmd *protocol.Command, why string) {
		t.Helper()
		c := coretest.Dial(h, false)
		err := c.Send(cmd)
		if c.Closed() != protocol.CloseLoginTimeout || err == nil || !strings.Contains(err.Error(), why) {
			t.Fatalf("%s with nonce %s: close %d, %v; want 4108 %q", cmd.PeerID, cmd.Nonce, c.Closed(), err, why)
		}
	}
	first := []*protocol.Command{
		open(signed, "master", "p1", "n1", now),
		open(signed, "master", "p2", "n2", now),
		open(signed, "master", "p3", "n3", now),
	}
	for _, cmd := range first {
		accept(cmd)
	}
	refuse(first[0], "already used") // full, and remembered
	// Fresh signatures keep being accepted, one second apart, far past
	// the cache's size.
	for i := range 20 {
		now = now.Add(time.Second)
		cmd := open(signed, "master", fmt.Sprintf("q%d", i), fmt.Sprintf("fresh%d", i), now)
		accept(cmd)
		refuse(cmd, "already used")
	}
	// The first ones were forgotten: their replays are refused as too old.
	refuse(first[1], "older than the nonce cache")
	// A new signature no newer than the oldest remembered one (now-2s) is
	// refused as well (sign again); a newer one passes.
	refuse(open(signed, "master", "late", "late", now.Add(-2*time.Second)), "older than the nonce cache")
	now = now.Add(time.Second)
	accept(open(signed, "master", "late", "late", now))
	// Another app's cache is its own.
	accept(open(other, "master2", "o1", "n1", now.Add(-5*time.Hour)))
}

package conformance

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rtgate/rtgate/protocol"
)

// sign is the v1 signature: lower-hex HMAC-SHA1 with the master key over
// the fields joined by ":" (spec/groups-signatures.md).
func sign(masterKey string, fields ...string) string {
	m := hmac.New(sha1.New, []byte(masterKey))
	m.Write([]byte(strings.Join(fields, ":")))
	return hex.EncodeToString(m.Sum(nil))
}

// sorted joins ids sorted (ASCII ids: byte order is UTF-16 order).
func sorted(ids []string) string {
	s := slices.Clone(ids)
	slices.Sort(s)
	return strings.Join(s, ":")
}

// signedApp returns the signed app or skips the scenario.
func signedApp(t *T) *SignedApp {
	s := t.Signed()
	if s == nil {
		t.Skipf("no signed app (give --signed-app ID --master-key KEY)")
	}
	return s
}

// signedOpenCmd is a signed `session open` for peer watching watch: the
// signature covers signedWatch, made with key, at time at.
func signedOpenCmd(app, key, peer string, watch, signedWatch []string, at time.Time, i int64) *protocol.Command {
	ts := strconv.FormatInt(at.Unix(), 10)
	var rnd [6]byte
	rand.Read(rnd[:])
	n := "rtconform-" + hex.EncodeToString(rnd[:])
	return &protocol.Command{Kind: protocol.KindSessionOpen, AppID: app, PeerID: peer, SessionPeerIDs: watch,
		Sig: sign(key, app, peer, sorted(signedWatch), ts, n), SigTime: ts, Nonce: n, I: i}
}

// openSigned opens peer in the signed app with a valid signature.
func openSigned(c *Client, s *SignedApp, peer string, watch ...string) *protocol.Command {
	i := c.I()
	c.Send(signedOpenCmd(s.ID, s.MasterKey, peer, watch, watch, time.Now(), i))
	return c.ExpectI(protocol.KindSessionOpened, i)
}

// signedOpen: a valid signature opens the session; messages flow.
func signedOpen(t *T) {
	s := signedApp(t)
	alice, bob := t.Peer("alice"), t.Peer("bob")
	b := t.Dial("bob")
	openSigned(b, s, bob)
	a := t.Dial("alice")
	if f := openSigned(a, s, alice, bob); !sameSet(f.OnlineSessionPeerIDs, []string{bob}) {
		t.Fatalf("alice: opened says %v online, want [%s]", f.OnlineSessionPeerIDs, bob)
	}
	a.Direct(alice, "signed hello", bob)
	b.ExpectDirect(bob, alice, "signed hello")
}

// refusedOpen sends cmd and expects no `opened` and a close with 4108.
func refusedOpen(t *T, cmd *protocol.Command) {
	c := t.DialRaw("alice") // the close code: see T.DialRaw
	c.Send(cmd)
	c.ExpectClose(protocol.CloseLoginTimeout)
}

// signedWrongKey: a signature made with another key closes with 4108.
func signedWrongKey(t *T) {
	s := signedApp(t)
	refusedOpen(t, signedOpenCmd(s.ID, s.MasterKey+"-wrong", t.Peer("alice"), nil, nil, time.Now(), 1))
}

// signedStale: a timestamp 7 h old (the window is 6 h) closes with 4108.
func signedStale(t *T) {
	s := signedApp(t)
	refusedOpen(t, signedOpenCmd(s.ID, s.MasterKey, t.Peer("alice"), nil, nil, time.Now().Add(-7*time.Hour), 1))
}

// signedWatchOutside: watching a peer the signature does not cover closes
// with 4108.
func signedWatchOutside(t *T) {
	s := signedApp(t)
	bob, carol := t.Peer("bob"), t.Peer("carol")
	refusedOpen(t, signedOpenCmd(s.ID, s.MasterKey, t.Peer("alice"), []string{bob, carol}, []string{bob}, time.Now(), 1))
}

// signedAddUnsigned: an unsigned `session add` in a signed app adds nobody
// (`added` with no online peers) and keeps the session.
func signedAddUnsigned(t *T) {
	s := signedApp(t)
	alice, bob := t.Peer("alice"), t.Peer("bob")
	b := t.Dial("bob")
	openSigned(b, s, bob)
	a := t.Dial("alice")
	openSigned(a, s, alice)
	i := a.I()
	a.Send(&protocol.Command{Kind: protocol.KindSessionAdd, PeerID: alice, SessionPeerIDs: []string{bob}, I: i})
	if f := a.ExpectI(protocol.KindSessionAdded, i); len(f.OnlineSessionPeerIDs) != 0 {
		t.Fatalf("alice: unsigned add answered %s, want no online peers (nothing added)", Show(f))
	}
	i = b.I()
	b.Send(&protocol.Command{Kind: protocol.KindSessionClose, PeerID: bob, I: i})
	b.ExpectI(protocol.KindSessionClosed, i)
	a.Barrier("bob was not watched: no presence off")
	// A signed add works.
	ts, n1 := strconv.FormatInt(time.Now().Unix(), 10), t.Peer("n")
	i = a.I()
	a.Send(&protocol.Command{Kind: protocol.KindSessionAdd, PeerID: alice, SessionPeerIDs: []string{bob}, I: i,
		Sig: sign(s.MasterKey, s.ID, alice, bob, ts, n1), SigTime: ts, Nonce: n1})
	a.ExpectI(protocol.KindSessionAdded, i)
	b2 := t.Dial("bob-again")
	openSigned(b2, s, bob)
	expectPresence(a, alice, protocol.StatusOn, bob)
}

// signedGroup: in a signed app, a signed join creates a group and an
// unsigned one is rejected.
func signedGroup(t *T) {
	s := signedApp(t)
	alice, bob := t.Peer("alice"), t.Peer("bob")
	a, b := t.Dial("alice"), t.Dial("bob")
	openSigned(a, s, alice)
	openSigned(b, s, bob)
	ts, n2, n3 := strconv.FormatInt(time.Now().Unix(), 10), t.Peer("n"), t.Peer("n")
	i := a.I()
	a.Send(&protocol.Command{Kind: protocol.KindRoomJoin, PeerID: alice, I: i,
		Sig: sign(s.MasterKey, s.ID, alice, "", "", ts, n2, "join"), SigTime: ts, Nonce: n2})
	got := a.ExpectSet(
		roomEvent(protocol.KindRoomJoined, alice, "", alice, nil, i),
		roomEvent(protocol.KindRoomMembersJoined, alice, "", alice, []string{alice}, 0),
	)
	room := got[0].RoomID
	i = b.I()
	b.Send(&protocol.Command{Kind: protocol.KindRoomJoin, PeerID: bob, RoomID: room, I: i})
	b.ExpectSet(kind(protocol.KindRoomReject, "(unsigned join)", func(f *protocol.Command) bool {
		return f.PeerID == bob && f.RoomID == room && f.I == i && len(f.RoomPeerIDs) == 0
	}))
	i = b.I()
	b.Send(&protocol.Command{Kind: protocol.KindRoomJoin, PeerID: bob, RoomID: room, I: i,
		Sig: sign(s.MasterKey, s.ID, bob, room, "", ts, n3, "join"), SigTime: ts, Nonce: n3})
	b.ExpectSet(
		roomEvent(protocol.KindRoomJoined, bob, room, bob, nil, i),
		roomEvent(protocol.KindRoomMembersJoined, bob, room, bob, []string{bob}, 0),
	)
	a.ExpectSet(roomEvent(protocol.KindRoomMembersJoined, alice, room, bob, []string{bob}, 0))
}

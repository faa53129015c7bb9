package conformance

import (
	"slices"
	"strings"

	"github.com/rtgate/rtgate/protocol"
)

// All returns every scenario, in report order.
func All() []Scenario {
	return []Scenario{
		// Sessions, watching and presence (spec/semantics.md).
		{"open-opened", openOpened},
		{"reopen", reopen},
		{"replies-in-order", repliesInOrder},
		{"session-close", sessionClose},
		{"presence", presence},
		{"watch-unwatch-query", watchUnwatchQuery},
		{"multi-device", multiDevice},
		// Messages, inbox, receipts.
		{"direct-ack", directAck},
		{"direct-repeat-id", directRepeatID},
		{"unwatched-recipient", unwatchedRecipient},
		{"inbox-ack-ids", inboxAckIDs},
		{"inbox-ack-cumulative", inboxAckCumulative},
		{"inbox-ack-bare", inboxAckBare},
		{"inbox-live-unacked", inboxLiveUnacked},
		{"transient", transient},
		{"receipts", receipts},
		// Groups (spec/groups-signatures.md).
		{"group-membership", groupMembership},
		{"group-send", groupSend},
		{"group-live-unacked", groupLiveUnacked},
		{"group-non-member", groupNonMember},
		{"group-open", groupOpen},
		// Signatures (skipped without a signed app).
		{"signed-open", signedOpen},
		{"signed-wrong-key", signedWrongKey},
		{"signed-stale", signedStale},
		{"signed-watch-outside", signedWatchOutside},
		{"signed-add-unsigned", signedAddUnsigned},
		{"signed-group", signedGroup},
		// Limits and errors.
		{"msg-5120", msg5120},
		{"msg-5121", msg5121},
		{"before-open", beforeOpen},
		{"bad-peer-id", badPeerID},
		{"peer-id-colon", peerIDColon},
		{"peer-id-not-utf8", peerIDNotUTF8},
		{"malformed-frame", malformedFrame},
		{"unknown-command", unknownCommand},
		{"oversize-frame", oversizeFrame},
		{"keepalive", keepalive},
	}
}

// Select returns the scenarios of all whose names are in names (nil: all).
// Unknown names are returned as the second result.
func Select(all []Scenario, names []string) (sel []Scenario, unknown []string) {
	if names == nil {
		return all, nil
	}
	for _, n := range names {
		n = strings.TrimSpace(n)
		i := slices.IndexFunc(all, func(s Scenario) bool { return s.Name == n })
		if i < 0 {
			unknown = append(unknown, n)
			continue
		}
		sel = append(sel, all[i])
	}
	return sel, unknown
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// kind matches a command of kind k whose fields pass check (nil: any).
func kind(k protocol.Kind, desc string, check func(*protocol.Command) bool) Match {
	d := kindName(k)
	if desc != "" {
		d += " " + desc
	}
	return Match{Desc: d, OK: func(f *protocol.Command) bool {
		return f.Kind == k && (check == nil || check(f))
	}}
}

// expectPresence expects a presence event on c for watcher about peers.
func expectPresence(c *Client, watcher string, status protocol.Status, peers ...string) {
	f := c.Expect(protocol.KindPresence)
	if f.PeerID != watcher || f.Status != status || !sameSet(f.SessionPeerIDs, peers) || f.I != 0 {
		c.t.Fatalf("%s: got %s, want presence %s for watcher %s about %v (no i)", c.name, Show(f), status, watcher, peers)
	}
}

// openOpened: `session open` is answered `opened` with the request's i, the
// peer, the app and the online subset of the watch list (always present).
func openOpened(t *T) {
	alice, bob, carol := t.Peer("alice"), t.Peer("bob"), t.Peer("carol")
	b := t.Dial("bob")
	if f := b.Open(bob); len(f.OnlineSessionPeerIDs) != 0 {
		t.Fatalf("bob: opened with an empty watch list lists %v online", f.OnlineSessionPeerIDs)
	}
	a := t.Dial("alice")
	f := a.Open(alice, bob, carol)
	if !sameSet(f.OnlineSessionPeerIDs, []string{bob}) {
		t.Fatalf("alice: opened says %v online, want [%s] (bob online, carol not)", f.OnlineSessionPeerIDs, bob)
	}
	if f.AppID != "" && f.AppID != t.App() {
		t.Fatalf("alice: opened names app %q, want %q", f.AppID, t.App())
	}
	a.Barrier("nothing follows opened for a peer with an empty inbox")
}

// reopen: `open` again for a peer already open on the connection answers
// `opened` again and adds the new watch ids.
func reopen(t *T) {
	alice, bob := t.Peer("alice"), t.Peer("bob")
	a := t.Dial("alice")
	a.Open(alice)
	b := t.Dial("bob")
	b.Open(bob)
	f := a.Open(alice, bob)
	if !sameSet(f.OnlineSessionPeerIDs, []string{bob}) {
		t.Fatalf("alice: second opened says %v online, want [%s]", f.OnlineSessionPeerIDs, bob)
	}
	a.Barrier("no presence for a peer that was online before it was watched")
	i := b.I()
	b.Send(&protocol.Command{Kind: protocol.KindSessionClose, PeerID: bob, I: i})
	b.ExpectI(protocol.KindSessionClosed, i)
	expectPresence(a, alice, protocol.StatusOff, bob)
}

// repliesInOrder: pipelined commands are answered in request order.
func repliesInOrder(t *T) {
	alice, bob := t.Peer("alice"), t.Peer("bob")
	a := t.Dial("alice")
	a.Send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: t.App(), PeerID: alice, I: 1})
	a.Send(&protocol.Command{Kind: protocol.KindSessionQuery, PeerID: alice, SessionPeerIDs: []string{bob}, I: 2})
	a.Send(&protocol.Command{Kind: protocol.KindKeepalive})
	a.Send(&protocol.Command{Kind: protocol.KindSessionAdd, PeerID: alice, SessionPeerIDs: []string{bob}, I: 3})
	a.Send(&protocol.Command{Kind: protocol.KindSessionRemove, PeerID: alice, SessionPeerIDs: []string{bob}, I: 4})
	a.ExpectI(protocol.KindSessionOpened, 1)
	if f := a.ExpectI(protocol.KindSessionQueryResult, 2); len(f.OnlineSessionPeerIDs) != 0 {
		t.Fatalf("alice: query-result %v, want []", f.OnlineSessionPeerIDs)
	}
	a.Expect(protocol.KindKeepalive)
	a.ExpectI(protocol.KindSessionAdded, 3)
	a.ExpectI(protocol.KindSessionRemoved, 4)
}

// sessionClose: `close` is answered `closed` and ends the session only: the
// connection stays, and the peer's commands then fail with 4105.
func sessionClose(t *T) {
	alice, bob := t.Peer("alice"), t.Peer("bob")
	a := t.Dial("alice")
	a.Open(alice)
	a.Open(bob) // a second session on the same connection
	i := a.I()
	a.Send(&protocol.Command{Kind: protocol.KindSessionClose, PeerID: alice, I: i})
	a.ExpectI(protocol.KindSessionClosed, i)
	i = a.I()
	a.Send(&protocol.Command{Kind: protocol.KindSessionQuery, PeerID: bob, SessionPeerIDs: []string{alice}, I: i})
	if f := a.ExpectI(protocol.KindSessionQueryResult, i); len(f.OnlineSessionPeerIDs) != 0 {
		t.Fatalf("alice: still online after close: query-result %v", f.OnlineSessionPeerIDs)
	}
	i = a.I()
	a.Send(&protocol.Command{Kind: protocol.KindSessionQuery, PeerID: alice, SessionPeerIDs: []string{bob}, I: i})
	a.ExpectFailure(protocol.ErrCodeNoSession, i)
}

// presence: on/off go to watchers on the first open and the last close of
// a peer, across connections; a second device and the close of one of two
// devices send nothing; an abrupt drop of the last one sends off.
func presence(t *T) {
	alice, bob := t.Peer("alice"), t.Peer("bob")
	w := t.Dial("alice")
	if f := w.Open(alice, bob); len(f.OnlineSessionPeerIDs) != 0 {
		t.Fatalf("alice: opened says %v online, want []", f.OnlineSessionPeerIDs)
	}
	d1 := t.Dial("bob-device-1")
	d1.Open(bob)
	expectPresence(w, alice, protocol.StatusOn, bob)
	d2 := t.DialRaw("bob-device-2")
	d2.Open(bob)
	w.Barrier("no presence when a second device of an online peer opens")
	i := d1.I()
	d1.Send(&protocol.Command{Kind: protocol.KindSessionClose, PeerID: bob, I: i})
	d1.ExpectI(protocol.KindSessionClosed, i)
	w.Barrier("no presence while another device of the peer is still open")
	d2.Abort()
	expectPresence(w, alice, protocol.StatusOff, bob)
	d3 := t.Dial("bob-device-3")
	d3.Open(bob)
	expectPresence(w, alice, protocol.StatusOn, bob)
	d3.Close()
	expectPresence(w, alice, protocol.StatusOff, bob)
}

// watchUnwatchQuery: `add` answers the online subset of the added peers,
// `remove` stops presence, `query` answers the online subset of any peers.
func watchUnwatchQuery(t *T) {
	alice, bob, carol, dave := t.Peer("alice"), t.Peer("bob"), t.Peer("carol"), t.Peer("dave")
	b := t.Dial("bob")
	b.Open(bob)
	c := t.Dial("carol")
	c.Open(carol)
	a := t.Dial("alice")
	a.Open(alice)
	i := a.I()
	a.Send(&protocol.Command{Kind: protocol.KindSessionAdd, PeerID: alice, SessionPeerIDs: []string{bob, dave}, I: i})
	if f := a.ExpectI(protocol.KindSessionAdded, i); !sameSet(f.OnlineSessionPeerIDs, []string{bob}) {
		t.Fatalf("alice: added says %v online, want [%s]", f.OnlineSessionPeerIDs, bob)
	}
	a.Barrier("no presence for peers already online when added")
	d := t.Dial("dave")
	d.Open(dave)
	expectPresence(a, alice, protocol.StatusOn, dave)

	i = a.I()
	a.Send(&protocol.Command{Kind: protocol.KindSessionRemove, PeerID: alice, SessionPeerIDs: []string{bob}, I: i})
	a.ExpectI(protocol.KindSessionRemoved, i)
	i = b.I()
	b.Send(&protocol.Command{Kind: protocol.KindSessionClose, PeerID: bob, I: i})
	b.ExpectI(protocol.KindSessionClosed, i)
	d.Close()
	expectPresence(a, alice, protocol.StatusOff, dave) // dave is still watched, bob is not

	i = a.I()
	a.Send(&protocol.Command{Kind: protocol.KindSessionQuery, PeerID: alice, SessionPeerIDs: []string{carol, bob, dave}, I: i})
	if f := a.ExpectI(protocol.KindSessionQueryResult, i); !sameSet(f.OnlineSessionPeerIDs, []string{carol}) {
		t.Fatalf("alice: query-result says %v online, want [%s] (carol online and not watched, bob and dave gone)", f.OnlineSessionPeerIDs, carol)
	}
	a.Barrier("no presence about bob after remove")
}

// multiDevice: a message reaches every open session of the recipient, with
// the same id.
func multiDevice(t *T) {
	alice, bob := t.Peer("alice"), t.Peer("bob")
	b1 := t.Dial("bob-device-1")
	b1.Open(bob)
	b2 := t.Dial("bob-device-2")
	b2.Open(bob)
	a := t.Dial("alice")
	a.Open(alice, bob)
	ack := a.Direct(alice, "to both devices", bob)
	for _, c := range []*Client{b1, b2} {
		f := c.ExpectDirect(bob, alice, "to both devices")
		if f.ID != ack.UID {
			t.Fatalf("%s: delivered id %q, want the ack's uid %q", c.name, f.ID, ack.UID)
		}
	}
	b1.Send(&protocol.Command{Kind: protocol.KindAck, PeerID: bob, IDs: []string{ack.UID}, HasIDs: true})
	b1.Barrier("no reply to a client ack")
	b2.Barrier("no redelivery")
}

package conformance

import (
	"fmt"
	"regexp"
	"time"

	"github.com/rtgate/rtgate/protocol"
)

// messageID is the server's message id: 14 base62 characters.
var messageID = regexp.MustCompile(`^[0-9A-Za-z]{14}$`)

// clockSlack is how far the server's clock may be from ours.
const clockSlack = 5 * time.Minute

// pair opens bob, then alice watching bob, each on its own connection.
func pair(t *T) (alice, bob string, a, b *Client) {
	alice, bob = t.Peer("alice"), t.Peer("bob")
	b = t.Dial("bob")
	b.Open(bob)
	a = t.Dial("alice")
	a.Open(alice, bob)
	return alice, bob, a, b
}

// sendAck sends a client ack (which has no reply) and waits until the
// server handled it.
func sendAck(c *Client, ack *protocol.Command) {
	c.Send(ack)
	c.Barrier("ack handled")
}

// directAck: a persistent direct is acked with the client's id, a fresh
// uid and the server time, and delivered with that id and time.
func directAck(t *T) {
	alice, bob, a, b := pair(t)
	i := a.I()
	a.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: alice, Msg: "hello", ToPeerIDs: []string{bob},
		ID: "client-1", I: i})
	ack := a.ExpectI(protocol.KindAck, i)
	if ack.ID != "client-1" {
		t.Fatalf("alice: ack echoes id %q, want the client id \"client-1\": %s", ack.ID, Show(ack))
	}
	if !messageID.MatchString(ack.UID) {
		t.Fatalf("alice: ack uid %q is not 14 base62 characters", ack.UID)
	}
	if d := time.Since(time.UnixMilli(ack.Time)); d > clockSlack || d < -clockSlack {
		t.Fatalf("alice: ack t=%d is %v away from now", ack.Time, d)
	}
	if ack.PeerID != alice {
		t.Fatalf("alice: ack names peer %q, want %q", ack.PeerID, alice)
	}
	f := b.ExpectDirect(bob, alice, "hello")
	if f.ID != ack.UID || f.Timestamp != ack.Time || f.Offline || f.Transient || f.I != 0 {
		t.Fatalf("bob: got %s, want id %s, timestamp %d, not offline, not transient, no i", Show(f), ack.UID, ack.Time)
	}
	ack2 := a.Direct(alice, "second", bob)
	if ack2.UID <= ack.UID {
		t.Fatalf("alice: uid %q of the second message does not sort after %q", ack2.UID, ack.UID)
	}
	b.ExpectDirect(bob, alice, "second")
	b.Send(&protocol.Command{Kind: protocol.KindAck, PeerID: bob, IDs: []string{ack.UID, ack2.UID}, HasIDs: true})
	b.Barrier("no reply to a client ack")
}

// directRepeatID: in the modern dialects a persistent direct sent again
// with the same client id (what a client does when its connection dropped
// before the ack) is acked with the first message's uid and time and is
// not delivered again; in the legacy dialect each send is a new message
// (2014 clients' ids only match acks and need not be unique).
func directRepeatID(t *T) {
	alice, bob, a, b := pair(t)
	send := func() *protocol.Command {
		i := a.I()
		a.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: alice, Msg: "once", ToPeerIDs: []string{bob},
			ID: "repeat-1", I: i})
		return a.ExpectI(protocol.KindAck, i)
	}
	first := send()
	b.ExpectDirect(bob, alice, "once")
	again := send()
	if !t.Modern() {
		if again.UID == first.UID {
			t.Fatalf("alice: the legacy repeat was acked with the first uid %s", first.UID)
		}
		b.ExpectDirect(bob, alice, "once")
		return
	}
	if again.UID != first.UID || again.Time != first.Time || again.ID != "repeat-1" {
		t.Fatalf("alice: repeat acked %s, want uid %s, t %d, id \"repeat-1\"", Show(again), first.UID, first.Time)
	}
	a.Direct(alice, "after", bob)
	b.ExpectDirect(bob, alice, "after") // not a second "once"
}

// unwatchedRecipient: a message to a peer the sender does not watch is
// acked, not delivered and not stored.
func unwatchedRecipient(t *T) {
	alice, bob := t.Peer("alice"), t.Peer("bob")
	b := t.Dial("bob")
	b.Open(bob)
	a := t.Dial("alice")
	a.Open(alice) // watches nobody
	a.Direct(alice, "not watched", bob)
	b.Barrier("a message from a peer that does not watch bob must not be delivered")
	b.Close()
	b2 := t.Dial("bob-again")
	b2.Open(bob)
	b2.Barrier("a message to an unwatched recipient must not be stored in its inbox")
}

// sendOffline has alice (watching bob, who is offline) send n persistent
// messages and returns their uids and texts.
func sendOffline(t *T, alice, bob string, n int) (uids, msgs []string) {
	a := t.Dial("alice")
	a.Open(alice, bob)
	for k := range n {
		m := fmt.Sprintf("offline %d", k+1)
		uids = append(uids, a.Direct(alice, m, bob).UID)
		msgs = append(msgs, m)
	}
	return uids, msgs
}

// expectInbox opens bob on a new connection and expects the inbox
// messages (oldest first, offline:true, their original ids) and nothing
// else.
func expectInbox(t *T, name, bob, alice string, uids, msgs []string) *Client {
	c := t.Dial(name)
	c.Open(bob)
	for k, uid := range uids {
		f := c.ExpectDirect(bob, alice, msgs[k])
		if f.ID != uid || !f.Offline {
			t.Fatalf("%s: got %s, want id %s with offline:true (redelivery keeps the id)", name, Show(f), uid)
		}
	}
	c.Barrier(fmt.Sprintf("the inbox holds exactly %d messages", len(uids)))
	return c
}

// inboxAckIDs: messages to an offline peer come after `opened`, with their
// ids and offline:true, again on every open until acknowledged by `ids`.
func inboxAckIDs(t *T) {
	alice, bob := t.Peer("alice"), t.Peer("bob")
	uids, msgs := sendOffline(t, alice, bob, 2)
	b := expectInbox(t, "bob-1", bob, alice, uids, msgs)
	b.Close() // without acking
	b = expectInbox(t, "bob-2", bob, alice, uids, msgs)
	sendAck(b, &protocol.Command{Kind: protocol.KindAck, PeerID: bob, IDs: []string{uids[0]}, HasIDs: true})
	b.Close()
	b = expectInbox(t, "bob-3", bob, alice, uids[1:], msgs[1:])
	sendAck(b, &protocol.Command{Kind: protocol.KindAck, PeerID: bob, IDs: []string{uids[1]}, HasIDs: true})
	b.Close()
	expectInbox(t, "bob-4", bob, alice, nil, nil)
}

// inboxAckCumulative: a single `id` acknowledges everything delivered to
// the session up to it.
func inboxAckCumulative(t *T) {
	alice, bob := t.Peer("alice"), t.Peer("bob")
	uids, msgs := sendOffline(t, alice, bob, 3)
	b := expectInbox(t, "bob-1", bob, alice, uids, msgs)
	sendAck(b, &protocol.Command{Kind: protocol.KindAck, PeerID: bob, ID: uids[1]})
	b.Close()
	expectInbox(t, "bob-2", bob, alice, uids[2:], msgs[2:])
}

// inboxAckBare: an ack without ids or id acknowledges everything delivered
// to the session; `"ids":[]` acknowledges nothing.
func inboxAckBare(t *T) {
	alice, bob := t.Peer("alice"), t.Peer("bob")
	uids, msgs := sendOffline(t, alice, bob, 2)
	b := expectInbox(t, "bob-1", bob, alice, uids, msgs)
	b.Send(&protocol.Command{Kind: protocol.KindAck, PeerID: bob, HasIDs: true}) // "ids":[]
	b.Barrier("ack handled")
	b.Close()
	b = expectInbox(t, "bob-2", bob, alice, uids, msgs)
	sendAck(b, &protocol.Command{Kind: protocol.KindAck, PeerID: bob})
	b.Close()
	expectInbox(t, "bob-3", bob, alice, nil, nil)
}

// inboxLiveUnacked: a message delivered live and never acknowledged comes
// back at the next open with offline:true.
func inboxLiveUnacked(t *T) {
	alice, bob, a, b := pair(t)
	ack := a.Direct(alice, "live", bob)
	b.ExpectDirect(bob, alice, "live")
	b.Close()
	b = expectInbox(t, "bob-2", bob, alice, []string{ack.UID}, []string{"live"})
	sendAck(b, &protocol.Command{Kind: protocol.KindAck, PeerID: bob, IDs: []string{ack.UID}, HasIDs: true})
	b.Close()
	expectInbox(t, "bob-3", bob, alice, nil, nil)
}

// transient: a transient message is delivered live with transient:true,
// gets no ack, and is never stored.
func transient(t *T) {
	alice, bob, a, b := pair(t)
	i := a.I()
	a.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: alice, Msg: "typing", ToPeerIDs: []string{bob}, Transient: true, I: i})
	f := b.ExpectDirect(bob, alice, "typing")
	if !f.Transient || f.Offline {
		t.Fatalf("bob: got %s, want transient:true and not offline", Show(f))
	}
	a.Barrier("no ack for a transient message")
	b.Close()
	expectPresence(a, alice, protocol.StatusOff, bob)
	a.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: alice, Msg: "lost", ToPeerIDs: []string{bob}, Transient: true, I: a.I()})
	a.Barrier("no ack for a transient message to an offline peer")
	b2 := t.Dial("bob-again")
	b2.Open(bob)
	b2.Barrier("a transient message is never stored")
}

// receipts: a persistent message with r:true to one peer makes the server
// send `rcp` to every session of the sender once the recipient acks it.
func receipts(t *T) {
	alice, bob := t.Peer("alice"), t.Peer("bob")
	b := t.Dial("bob")
	b.Open(bob)
	a1 := t.Dial("alice-device-1")
	a1.Open(alice, bob)
	a2 := t.Dial("alice-device-2")
	a2.Open(alice)
	i := a1.I()
	a1.Send(&protocol.Command{Kind: protocol.KindDirect, PeerID: alice, Msg: "read me", ToPeerIDs: []string{bob}, Receipt: true, I: i})
	ack := a1.ExpectI(protocol.KindAck, i)
	f := b.ExpectDirect(bob, alice, "read me")
	a1.Barrier("no receipt before the recipient acks")
	b.Send(&protocol.Command{Kind: protocol.KindAck, PeerID: bob, IDs: []string{f.ID}, HasIDs: true})
	for _, c := range []*Client{a1, a2} {
		r := c.Expect(protocol.KindRcp)
		if r.PeerID != alice || r.ID != ack.UID || r.Time == 0 {
			t.Fatalf("%s: got %s, want rcp for %s with id %s and t", c.name, Show(r), alice, ack.UID)
		}
	}
	b.Send(&protocol.Command{Kind: protocol.KindAck, PeerID: bob, IDs: []string{f.ID}, HasIDs: true})
	b.Barrier("a second ack is harmless")
	a1.Barrier("one receipt per message")
}

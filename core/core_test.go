package core_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/memory"
)

const app = "app1"

func newHub(t testing.TB, mod func(*core.Config)) (*core.Hub, storage.Store) {
	t.Helper()
	st := memory.New(memory.Config{})
	cfg := core.Config{Store: st}
	if mod != nil {
		mod(&cfg)
	}
	h, err := core.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h, st
}

func send(t testing.TB, c *coretest.MemConn, cmd *protocol.Command) {
	t.Helper()
	if err := c.Send(cmd); err != nil {
		t.Fatalf("send %v: %v", cmd.Kind, err)
	}
}

func direct(from string, msg string, to ...string) *protocol.Command {
	return &protocol.Command{Kind: protocol.KindDirect, PeerID: from, Msg: msg, ToPeerIDs: to, I: 7}
}

func TestOpenRepliesWithOnlineWatchedPeers(t *testing.T) {
	h, _ := newHub(t, nil)
	bob := coretest.Dial(h, false)
	bob.Open(t, app, "bob")
	alice := coretest.Dial(h, false)
	got := alice.Open(t, app, "alice", "bob", "carol")
	if !slices.Equal(got.OnlineSessionPeerIDs, []string{"bob"}) || got.PeerID != "alice" || got.I != 1 {
		t.Fatalf("opened = %+v", *got)
	}
	// Re-opening an open peer answers opened again.
	again := alice.Open(t, app, "alice", "bob")
	if !slices.Equal(again.OnlineSessionPeerIDs, []string{"bob"}) {
		t.Fatalf("re-open = %+v", *again)
	}
}

func TestPresenceFirstOpenLastCloseAcrossDevices(t *testing.T) {
	h, _ := newHub(t, nil)
	alice := coretest.Dial(h, false)
	alice.Open(t, app, "alice", "bob")

	bob1 := coretest.Dial(h, false)
	bob1.Open(t, app, "bob")
	on := alice.Expect(t, protocol.KindPresence)
	if on.Status != protocol.StatusOn || !slices.Equal(on.SessionPeerIDs, []string{"bob"}) || on.PeerID != "alice" || on.I != 0 {
		t.Fatalf("presence = %+v", *on)
	}
	bob2 := coretest.Dial(h, false)
	bob2.Open(t, app, "bob")
	alice.ExpectNone(t, 50*time.Millisecond) // second device: already online

	bob1.Drop()
	alice.ExpectNone(t, 50*time.Millisecond) // still online on bob2
	send(t, bob2, &protocol.Command{Kind: protocol.KindSessionClose, PeerID: "bob", I: 3})
	if c := bob2.Expect(t, protocol.KindSessionClosed); c.I != 3 {
		t.Fatalf("closed = %+v", *c)
	}
	off := alice.Expect(t, protocol.KindPresence)
	if off.Status != protocol.StatusOff || !slices.Equal(off.SessionPeerIDs, []string{"bob"}) {
		t.Fatalf("presence = %+v", *off)
	}
	if bob2.Closed() != 0 {
		t.Fatal("session close must keep the connection open")
	}
}

func TestWatchUnwatchQuery(t *testing.T) {
	h, _ := newHub(t, nil)
	alice := coretest.Dial(h, false)
	alice.Open(t, app, "alice")
	bob := coretest.Dial(h, false)
	bob.Open(t, app, "bob")

	send(t, alice, &protocol.Command{Kind: protocol.KindSessionQuery, PeerID: "alice", SessionPeerIDs: []string{"bob", "zed"}, I: 4})
	q := alice.Expect(t, protocol.KindSessionQueryResult)
	if !slices.Equal(q.OnlineSessionPeerIDs, []string{"bob"}) || q.I != 4 {
		t.Fatalf("query-result = %+v", *q)
	}
	send(t, alice, &protocol.Command{Kind: protocol.KindSessionAdd, PeerID: "alice", SessionPeerIDs: []string{"bob", "zed"}, I: 5})
	a := alice.Expect(t, protocol.KindSessionAdded)
	if !slices.Equal(a.OnlineSessionPeerIDs, []string{"bob"}) || a.I != 5 {
		t.Fatalf("added = %+v", *a)
	}
	send(t, alice, &protocol.Command{Kind: protocol.KindSessionRemove, PeerID: "alice", SessionPeerIDs: []string{"bob"}, I: 6})
	alice.Expect(t, protocol.KindSessionRemoved)
	bob.Drop()
	alice.ExpectNone(t, 50*time.Millisecond) // unwatched: no presence
}

func TestCommandsBeforeOpen(t *testing.T) {
	h, _ := newHub(t, nil)
	legacy := coretest.Dial(h, false)
	err := legacy.Send(direct("alice", "hi", "bob"))
	if legacy.Closed() != protocol.CloseNoSession || err == nil {
		t.Fatalf("legacy: close %d err %v, want 4105", legacy.Closed(), err)
	}
	modern := coretest.Dial(h, true)
	if err := modern.Send(direct("alice", "hi", "bob")); err != nil {
		t.Fatal(err)
	}
	e := modern.Expect(t, protocol.KindError)
	if e.Code != protocol.ErrCodeNoSession || e.I != 7 || modern.Closed() != 0 {
		t.Fatalf("modern error = %+v", *e)
	}
}

func TestMalformedPeerID(t *testing.T) {
	h, _ := newHub(t, nil)
	for _, id := range []string{"", strings.Repeat("x", protocol.MaxPeerIDLen+1), "u\xff", "u\xfe", "cq:cr", ":"} {
		for _, modern := range []bool{false, true} {
			c := coretest.Dial(h, modern)
			c.Send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: app, PeerID: id})
			if c.Closed() != protocol.CloseMalformedPeerID {
				t.Fatalf("peer %q (modern %v): close %d, want 4103", id, modern, c.Closed())
			}
		}
	}
}

// TestMalformedPeerIDInLists: a peer id that is not UTF-8 or holds ':' is
// refused wherever a client names a peer (issue 15, defects 7 and 8):
// opens and adds close with 4103 in every dialect; a direct message or a
// room command closes with 4103 in legacy and gets an error in modern,
// and nothing is delivered.
func TestMalformedPeerIDInLists(t *testing.T) {
	h, _ := newHub(t, nil)
	for _, bad := range []string{"cq:cr", "u\xff"} {
		for _, modern := range []bool{false, true} {
			name := fmt.Sprintf("%q modern %v", bad, modern)
			c := coretest.Dial(h, modern)
			c.Send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: app, PeerID: "cp", SessionPeerIDs: []string{"cr", bad}})
			if c.Closed() != protocol.CloseMalformedPeerID {
				t.Fatalf("%s: open watching it: close %d", name, c.Closed())
			}

			c = coretest.Dial(h, modern)
			c.Open(t, app, "cp")
			c.Send(&protocol.Command{Kind: protocol.KindSessionAdd, PeerID: "cp", SessionPeerIDs: []string{bad}, I: 2})
			if c.Closed() != protocol.CloseMalformedPeerID {
				t.Fatalf("%s: add: close %d", name, c.Closed())
			}

			for _, cmd := range []*protocol.Command{
				{Kind: protocol.KindDirect, PeerID: "cp", Msg: "x", ToPeerIDs: []string{bad}, I: 3},
				{Kind: protocol.KindRoomJoin, PeerID: "cp", RoomPeerIDs: []string{bad}, I: 3},
			} {
				c = coretest.Dial(h, modern)
				c.Open(t, app, "cp")
				c.Send(cmd)
				if modern {
					if e := c.Expect(t, protocol.KindError); e.I != 3 || !strings.Contains(e.Reason, "peer id") {
						t.Fatalf("%s: %v: %+v", name, cmd.Kind, *e)
					}
					c.ExpectNone(t, 10*time.Millisecond)
				} else if c.Closed() != protocol.CloseMalformedPeerID {
					t.Fatalf("%s: %v: close %d", name, cmd.Kind, c.Closed())
				}
			}
		}
	}
}

// TestColonSignatureAmbiguity: a signature made for peer eve watching
// [x, y] signs "app:eve:x:y:t:n", the same string as eve:x watching [y].
// The second open is refused with 4103 before its signature is checked.
func TestColonSignatureAmbiguity(t *testing.T) {
	signed := &core.App{ID: "sapp", MasterKey: "master", Signatures: true}
	h, _ := newHub(t, func(c *core.Config) { c.Apps = core.StaticApps{"sapp": signed} })
	open := signedOpen(signed, "eve", []string{"x", "y"}, time.Now(), "master")
	forged := *open
	forged.PeerID, forged.SessionPeerIDs = "eve:x", []string{"y"}
	c := coretest.Dial(h, false)
	c.Send(&forged)
	if c.Closed() != protocol.CloseMalformedPeerID {
		t.Fatalf("eve:x opened with eve's signature: close %d", c.Closed())
	}
	c = coretest.Dial(h, false)
	send(t, c, open)
	c.Expect(t, protocol.KindSessionOpened)
}

func TestUnknownAppRefused(t *testing.T) {
	h, _ := newHub(t, func(c *core.Config) { c.Apps = core.StaticApps{"known": {ID: "known"}} })
	c := coretest.Dial(h, false)
	c.Send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: "other", PeerID: "alice"})
	if c.Closed() != protocol.CloseAppNotAvailable {
		t.Fatalf("close %d, want 4100", c.Closed())
	}
}

func TestDirectToWatchedAndUnwatched(t *testing.T) {
	h, _ := newHub(t, nil)
	bob := coretest.Dial(h, false)
	bob.Open(t, app, "bob")
	carol := coretest.Dial(h, false)
	carol.Open(t, app, "carol")
	alice := coretest.Dial(h, false)
	alice.Open(t, app, "alice", "bob")

	before := time.Now().UnixMilli()
	send(t, alice, direct("alice", "hi", "bob", "carol"))
	in := bob.Expect(t, protocol.KindDirect)
	ack := alice.Expect(t, protocol.KindAck)
	if in.PeerID != "bob" || in.FromPeerID != "alice" || in.Msg != "hi" || in.ID == "" || in.Offline || in.Transient {
		t.Fatalf("direct = %+v", *in)
	}
	if ack.UID != in.ID || ack.Time != in.Timestamp || ack.Time < before || ack.I != 7 || ack.PeerID != "alice" {
		t.Fatalf("ack = %+v, direct = %+v", *ack, *in)
	}
	carol.ExpectNone(t, 50*time.Millisecond) // not watched by alice
}

func TestPersistentToOfflinePeerIsRedeliveredUntilAcked(t *testing.T) {
	h, st := newHub(t, nil)
	alice := coretest.Dial(h, false)
	alice.Open(t, app, "alice", "bob")
	send(t, alice, direct("alice", "one", "bob"))
	a1 := alice.Expect(t, protocol.KindAck)
	send(t, alice, direct("alice", "two", "bob"))
	a2 := alice.Expect(t, protocol.KindAck)

	bob := coretest.Dial(h, false)
	bob.Open(t, app, "bob")
	m1 := bob.Expect(t, protocol.KindDirect)
	m2 := bob.Expect(t, protocol.KindDirect)
	if m1.ID != a1.UID || m2.ID != a2.UID || !m1.Offline || m1.Msg != "one" || m2.Msg != "two" {
		t.Fatalf("redelivered %+v %+v", *m1, *m2)
	}
	// Not acked: the next open redelivers with the same ids.
	bob.Drop()
	bob = coretest.Dial(h, false)
	bob.Open(t, app, "bob")
	if r := bob.Expect(t, protocol.KindDirect); r.ID != a1.UID || !r.Offline {
		t.Fatalf("second redelivery %+v", *r)
	}
	bob.Expect(t, protocol.KindDirect)
	send(t, bob, &protocol.Command{Kind: protocol.KindAck, PeerID: "bob", IDs: []string{a1.UID, a2.UID}, HasIDs: true})
	bob.ExpectNone(t, 30*time.Millisecond) // client acks get no reply
	n, _ := st.Count(t.Context(), app, "bob", true)
	if n != 0 {
		t.Fatalf("inbox holds %d after ack", n)
	}
	bob.Drop()
	bob = coretest.Dial(h, false)
	bob.Open(t, app, "bob")
	bob.ExpectNone(t, 50*time.Millisecond)
}

func TestTransientIsNeitherStoredNorAcked(t *testing.T) {
	h, st := newHub(t, nil)
	bob := coretest.Dial(h, false)
	bob.Open(t, app, "bob")
	alice := coretest.Dial(h, false)
	alice.Open(t, app, "alice", "bob", "dave")
	cmd := direct("alice", "typing", "bob", "dave")
	cmd.Transient = true
	send(t, alice, cmd)
	in := bob.Expect(t, protocol.KindDirect)
	if !in.Transient {
		t.Fatalf("direct = %+v", *in)
	}
	alice.ExpectNone(t, 50*time.Millisecond)
	if n, _ := st.Count(t.Context(), app, "dave", false); n != 0 {
		t.Fatalf("transient stored for offline dave: %d", n)
	}
	// The JS client acks transient messages too: harmless.
	send(t, bob, &protocol.Command{Kind: protocol.KindAck, PeerID: "bob", IDs: []string{in.ID}, HasIDs: true})
}

func TestDeliveryToEveryDeviceAndAckByAny(t *testing.T) {
	h, st := newHub(t, nil)
	b1 := coretest.Dial(h, false)
	b1.Open(t, app, "bob")
	b2 := coretest.Dial(h, false)
	b2.Open(t, app, "bob")
	alice := coretest.Dial(h, false)
	alice.Open(t, app, "alice", "bob")
	send(t, alice, direct("alice", "hi", "bob"))
	x := b1.Expect(t, protocol.KindDirect)
	y := b2.Expect(t, protocol.KindDirect)
	if x.ID != y.ID {
		t.Fatal("devices got different ids")
	}
	send(t, b2, &protocol.Command{Kind: protocol.KindAck, PeerID: "bob", IDs: []string{y.ID}, HasIDs: true})
	if n, _ := st.Count(t.Context(), app, "bob", true); n != 0 {
		t.Fatalf("inbox holds %d after ack by one device", n)
	}
}

func TestCumulativeAndBareAcks(t *testing.T) {
	h, st := newHub(t, nil)
	bob := coretest.Dial(h, false)
	bob.Open(t, app, "bob")
	alice := coretest.Dial(h, false)
	alice.Open(t, app, "alice", "bob")
	var ids []string
	for i := range 4 {
		send(t, alice, direct("alice", fmt.Sprint(i), "bob"))
		ids = append(ids, bob.Expect(t, protocol.KindDirect).ID)
		alice.Expect(t, protocol.KindAck)
	}
	send(t, bob, &protocol.Command{Kind: protocol.KindAck, PeerID: "bob", ID: ids[1]}) // cumulative: 0 and 1
	if n, _ := st.Count(t.Context(), app, "bob", true); n != 2 {
		t.Fatalf("after cumulative ack: %d pending, want 2", n)
	}
	send(t, bob, &protocol.Command{Kind: protocol.KindAck, PeerID: "bob"}) // bare: the rest
	if n, _ := st.Count(t.Context(), app, "bob", true); n != 0 {
		t.Fatalf("after bare ack: %d pending, want 0", n)
	}
}

func TestReceiptGoesToEverySenderSession(t *testing.T) {
	h, _ := newHub(t, nil)
	bob := coretest.Dial(h, false)
	bob.Open(t, app, "bob")
	a1 := coretest.Dial(h, false)
	a1.Open(t, app, "alice", "bob")
	a2 := coretest.Dial(h, false)
	a2.Open(t, app, "alice")
	cmd := direct("alice", "read me", "bob")
	cmd.Receipt = true
	send(t, a1, cmd)
	in := bob.Expect(t, protocol.KindDirect)
	ack := a1.Expect(t, protocol.KindAck)
	send(t, bob, &protocol.Command{Kind: protocol.KindAck, PeerID: "bob", IDs: []string{in.ID}, HasIDs: true})
	for _, c := range []*coretest.MemConn{a1, a2} {
		r := c.Expect(t, protocol.KindRcp)
		if r.ID != ack.UID || r.PeerID != "alice" || r.Time < ack.Time {
			t.Fatalf("rcp = %+v", *r)
		}
	}
}

func TestInboxKeepsNewest50(t *testing.T) {
	h, _ := newHub(t, nil)
	alice := coretest.Dial(h, false)
	alice.Open(t, app, "alice", "bob")
	for i := range 60 {
		send(t, alice, direct("alice", fmt.Sprint(i), "bob"))
		alice.Expect(t, protocol.KindAck)
	}
	bob := coretest.Dial(h, false)
	bob.Open(t, app, "bob")
	for i := 10; i < 60; i++ {
		if m := bob.Expect(t, protocol.KindDirect); m.Msg != fmt.Sprint(i) {
			t.Fatalf("redelivered %q, want %d", m.Msg, i)
		}
	}
	bob.ExpectNone(t, 50*time.Millisecond)
}

func TestMessageSizeLimit(t *testing.T) {
	h, _ := newHub(t, nil)
	bob := coretest.Dial(h, false)
	bob.Open(t, app, "bob")
	alice := coretest.Dial(h, false)
	alice.Open(t, app, "alice", "bob")
	send(t, alice, direct("alice", strings.Repeat("é", protocol.MaxMessageBytes/2), "bob")) // exactly 5120 bytes
	if m := bob.Expect(t, protocol.KindDirect); len(m.Msg) != protocol.MaxMessageBytes {
		t.Fatalf("delivered %d bytes", len(m.Msg))
	}
	alice.Expect(t, protocol.KindAck)

	alice.Send(direct("alice", strings.Repeat("x", protocol.MaxMessageBytes+1), "bob"))
	if alice.Closed() != protocol.CloseTooLong {
		t.Fatalf("close %d, want 4109", alice.Closed())
	}
	bob.ExpectNone(t, 50*time.Millisecond)
	if bob.Closed() != 0 {
		t.Fatal("other session disturbed")
	}

	modern := coretest.Dial(h, true)
	modern.Open(t, app, "mallory", "bob")
	send(t, modern, direct("mallory", strings.Repeat("x", protocol.MaxMessageBytes+1), "bob"))
	if e := modern.Expect(t, protocol.KindError); e.Code != protocol.ErrCodeTooLong || modern.Closed() != 0 {
		t.Fatalf("modern: %+v", *e)
	}
}

func TestKeepaliveAndRequestOrder(t *testing.T) {
	h, _ := newHub(t, nil)
	c := coretest.Dial(h, false)
	c.Open(t, app, "alice", "bob")
	send(t, c, &protocol.Command{Kind: protocol.KindKeepalive})
	send(t, c, &protocol.Command{Kind: protocol.KindSessionQuery, PeerID: "alice", I: 9})
	send(t, c, direct("alice", "x", "bob"))
	send(t, c, &protocol.Command{Kind: protocol.KindKeepalive})
	for _, k := range []protocol.Kind{protocol.KindKeepalive, protocol.KindSessionQueryResult, protocol.KindAck, protocol.KindKeepalive} {
		c.Expect(t, k)
	}
}

func TestLoginAndReadTimeouts(t *testing.T) {
	h, _ := newHub(t, func(c *core.Config) {
		c.LoginTimeout = 50 * time.Millisecond
		c.ReadTimeout = 100 * time.Millisecond
	})
	idle := coretest.Dial(h, false)
	<-idle.Done()
	if idle.Closed() != protocol.CloseLoginTimeout {
		t.Fatalf("close %d, want 4108", idle.Closed())
	}
	quiet := coretest.Dial(h, false)
	quiet.Open(t, app, "alice")
	<-quiet.Done()
	if quiet.Closed() != protocol.CloseReadTimeout {
		t.Fatalf("close %d, want 4107", quiet.Closed())
	}
	android := coretest.Dial(h, false)
	send(t, android, &protocol.Command{Kind: protocol.KindLogin, AppID: app, InstallationID: "inst"})
	<-android.Done()
	if android.Closed() != protocol.CloseReadTimeout {
		t.Fatalf("android login: close %d, want 4107 (not 4108)", android.Closed())
	}
}

func TestSlowConsumerIsDisconnectedAlone(t *testing.T) {
	h, st := newHub(t, nil)
	slow := coretest.NewMemConn(core.ConnInfo{}, 4)
	slow.Client = h.Connect(slow)
	slow.Open(t, app, "bob")
	fast := coretest.Dial(h, false)
	fast.Open(t, app, "bob")
	alice := coretest.Dial(h, false)
	alice.Open(t, app, "alice", "bob")
	for i := range 10 {
		send(t, alice, direct("alice", fmt.Sprint(i), "bob"))
		alice.Expect(t, protocol.KindAck)
		fast.Expect(t, protocol.KindDirect)
	}
	if slow.Closed() != protocol.CloseSlowConsumer {
		t.Fatalf("slow close %d, want 4201", slow.Closed())
	}
	if fast.Closed() != 0 || alice.Closed() != 0 {
		t.Fatal("other connections disturbed")
	}
	if n, _ := st.Count(t.Context(), app, "bob", true); n != 10 {
		t.Fatalf("inbox %d, want all 10 kept for the slow consumer", n)
	}
}

func TestShutdownClosesEveryConnection(t *testing.T) {
	h, _ := newHub(t, nil)
	a := coretest.Dial(h, false)
	a.Open(t, app, "alice")
	go func() { <-a.Done(); a.Client.Disconnect() }()
	if err := h.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if a.Closed() != protocol.CloseGoingAway {
		t.Fatalf("close %d, want 1001", a.Closed())
	}
}

func TestBadFrameAnswers(t *testing.T) {
	h, _ := newHub(t, nil)
	modern := coretest.Dial(h, true)
	if err := modern.Client.BadFrame(&protocol.Command{I: 42}, errors.New("unknown command \"conv\"")); err != nil {
		t.Fatal(err)
	}
	if e := modern.Expect(t, protocol.KindError); e.I != 42 || e.Code != protocol.ErrCodeBadCommand {
		t.Fatalf("error = %+v", *e)
	}
	legacy := coretest.Dial(h, false)
	var ce *protocol.CloseError
	if err := legacy.Client.BadFrame(nil, errors.New("malformed")); !errors.As(err, &ce) || ce.Code != protocol.CloseInvalidPayload {
		t.Fatalf("legacy: %v", err)
	}
}

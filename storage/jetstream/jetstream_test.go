package jetstream_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/rtgate/rtgate/internal/natsembed/natstest"
	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/jetstream"
	"github.com/rtgate/rtgate/storage/storagetest"
)

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func open(t *testing.T, nc *nats.Conn, cfg jetstream.Config) *jetstream.Store {
	t.Helper()
	s, err := jetstream.Open(ctxT(t, 30*time.Second), nc, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConcurrentJoins has three nodes, each on its own server, add members
// to one group at once: every join lands (compare-and-swap), and the
// group limit holds across nodes.
func TestConcurrentJoins(t *testing.T) {
	c := natstest.Start(t, 3)
	var stores []*jetstream.Store
	for i := range 3 {
		stores = append(stores, open(t, c.Connect(i), jetstream.Config{Namespace: "cas"}))
	}
	ctx := ctxT(t, 60*time.Second)
	for _, id := range []string{"union", "limited"} {
		if err := stores[0].CreateGroup(ctx, &storage.Group{App: "app", ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	const perNode, limit = 10, 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	full, added := 0, 0
	for n, s := range stores {
		for i := range perNode {
			peer := fmt.Sprintf("p%d-%02d", n, i)
			wg.Go(func() {
				if got, err := s.AddMembers(ctx, "app", "union", []string{peer}, 0); err != nil || len(got) != 1 {
					t.Errorf("AddMembers(union, %s) = %v, %v", peer, got, err)
				}
				got, err := s.AddMembers(ctx, "app", "limited", []string{peer}, limit)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case errors.Is(err, storage.ErrGroupFull):
					full++
				case err == nil && len(got) == 1:
					added++
				default:
					t.Errorf("AddMembers(limited, %s) = %v, %v", peer, got, err)
				}
			})
		}
	}
	wg.Wait()
	for _, s := range stores {
		g, err := s.Group(ctx, "app", "union")
		if err != nil || len(g.Members) != 3*perNode {
			t.Fatalf("union group: %d members, %v; want %d", len(g.Members), err, 3*perNode)
		}
		g, err = s.Group(ctx, "app", "limited")
		if err != nil || len(g.Members) != limit {
			t.Fatalf("limited group: %d members, %v; want %d", len(g.Members), err, limit)
		}
	}
	if added != limit || full != 3*perNode-limit {
		t.Errorf("limited group: %d joins, %d refused; want %d, %d", added, full, limit, 3*perNode-limit)
	}
}

// TestAssetMismatch creates the inbox stream with other limits (and, in a
// second namespace, one replica): Open refuses, says what differs, and
// leaves the stream and its message alone.
func TestAssetMismatch(t *testing.T) {
	c := natstest.Start(t, 3)
	nc := c.Connect(0)
	js, err := njs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 60*time.Second)
	for _, tc := range []struct {
		ns   string
		cfg  njs.StreamConfig
		want string
	}{
		{"mm", njs.StreamConfig{Name: "MM_INBOX", Subjects: []string{"mm.inbox.*.*"}, Replicas: 3, MaxMsgsPerSubject: 10}, "max_msgs_per_subject is 10, want 50"},
		{"rr", njs.StreamConfig{Name: "RR_INBOX", Subjects: []string{"rr.inbox.*.*"}, Replicas: 1, MaxMsgsPerSubject: 50}, "replicas is 1, want 3"},
	} {
		// A freshly formed cluster may not list every peer yet ("no
		// suitable peers for placement"), as Open itself allows for.
		st, err := js.CreateStream(ctx, tc.cfg)
		for deadline := time.Now().Add(30 * time.Second); err != nil && strings.Contains(err.Error(), "no suitable peers") && time.Now().Before(deadline); {
			time.Sleep(100 * time.Millisecond)
			st, err = js.CreateStream(ctx, tc.cfg)
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, tc.ns+".inbox.a.b", []byte("keep me")); err != nil {
			t.Fatal(err)
		}
		_, err = jetstream.Open(ctx, nc, jetstream.Config{Namespace: tc.ns})
		if !errors.Is(err, jetstream.ErrAssetMismatch) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%s) = %v, want ErrAssetMismatch saying %q", tc.ns, err, tc.want)
		}
		info, err := st.Info(ctx)
		if err != nil || info.State.Msgs != 1 || info.Config.MaxMsgsPerSubject != tc.cfg.MaxMsgsPerSubject || info.Config.Replicas != tc.cfg.Replicas {
			t.Errorf("stream after the refusal: %+v, %v", info, err)
		}
	}
	// The same settings as an existing store's open fine (a second node).
	open(t, nc, jetstream.Config{Namespace: "ok"})
	open(t, c.Connect(2), jetstream.Config{Namespace: "ok"})
	if _, err := jetstream.Open(ctx, nc, jetstream.Config{Namespace: "ok", Limits: storage.Limits{InboxSize: 60}}); !errors.Is(err, jetstream.ErrAssetMismatch) {
		t.Errorf("Open with another inbox size = %v, want ErrAssetMismatch", err)
	}
}

func TestConfigErrors(t *testing.T) {
	c := natstest.Single(t)
	nc := c.Connect(0)
	ctx := ctxT(t, 10*time.Second)
	for _, cfg := range []jetstream.Config{
		{Replicas: 1},
		{Replicas: 2},
		{Replicas: 7, UnsafeSingleReplica: true},
		{Namespace: "Bad.NS"},
		{HistoryMaxAge: -time.Second},
	} {
		if _, err := jetstream.Open(ctx, nc, cfg); !errors.Is(err, jetstream.ErrConfig) {
			t.Errorf("Open(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
	// Three replicas on one server: JetStream itself refuses.
	if _, err := jetstream.Open(ctx, nc, jetstream.Config{}); err == nil {
		t.Error("Open with 3 replicas on a single server succeeded")
	}
}

// TestServerVersionGuard connects to a fake server announcing 2.14.9:
// Open refuses before touching JetStream.
func TestServerVersionGuard(t *testing.T) {
	for _, tc := range []struct {
		version string
		ok      bool
	}{{"2.14.9", false}, {"2.9.25", false}, {"1.4.1", false}, {"2.15.0", true}, {"2.15.3", true}, {"2.16.0-beta.1", true}, {"3.0.0", true}} {
		t.Run(tc.version, func(t *testing.T) {
			nc := fakeServer(t, tc.version)
			if got := nc.ConnectedServerVersion(); got != tc.version {
				t.Fatalf("ConnectedServerVersion = %q", got)
			}
			ctx := ctxT(t, 2*time.Second)
			_, err := jetstream.Open(ctx, nc, jetstream.Config{})
			if tc.ok == errors.Is(err, jetstream.ErrServerVersion) {
				t.Errorf("Open with nats-server %s: %v", tc.version, err)
			}
		})
	}
}

// fakeServer accepts one NATS client, announcing version, and answers its
// PINGs (nothing else); it returns the connected client.
func fakeServer(t *testing.T, version string) *nats.Conn {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(conn, "INFO {\"server_id\":\"FAKE\",\"version\":%q,\"proto\":1,\"headers\":true,\"max_payload\":1048576}\r\n", version)
		r := bufio.NewReader(conn)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if strings.HasPrefix(line, "PING") {
				conn.Write([]byte("PONG\r\n"))
			}
		}
	}()
	nc, err := nats.Connect("nats://"+l.Addr().String(), nats.NoReconnect(), nats.Timeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// TestInboxMaxAge gives the inbox a MaxAge of one second: the stream
// itself drops the message (a leader read of the subject finds nothing),
// with the store's clock the real one.
func TestInboxMaxAge(t *testing.T) {
	c := natstest.Start(t, 3)
	nc := c.Connect(0)
	s := open(t, nc, jetstream.Config{Namespace: "age", Limits: storage.Limits{InboxTTL: time.Second}, InboxDelay: -1})
	ctx := ctxT(t, 30*time.Second)
	now := time.Now().UnixMilli()
	if err := s.Persist(ctx, &storage.Message{App: "app", ID: "m1", From: "a", Text: "x", Time: now}, []string{"b.*> x"}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Count(ctx, "app", "b.*> x", false); n != 1 || err != nil {
		t.Fatalf("Count right after Persist = %d, %v", n, err)
	}
	js, _ := njs.New(nc)
	st, err := js.Stream(ctx, "AGE_INBOX")
	if err != nil {
		t.Fatal(err)
	}
	for {
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("inbox message not expired: %+v", info.State)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if ms, err := s.Pending(ctx, "app", "b.*> x"); len(ms) != 0 || err != nil {
		t.Errorf("Pending after MaxAge = %v, %v", ms, err)
	}
}

// TestAckPurge acks through a second node that did not write the
// messages (it reads the inbox first: a cumulative ack, all pending up
// to a message, is one purge, an ack with a gap deletes by sequence) and
// through the node that wrote them (it deletes by the sequences its
// PubAcks gave). Only the peer's subject changes; odd peer ids get
// subjects of their own.
func TestAckPurge(t *testing.T) {
	c := natstest.Start(t, 3)
	s := open(t, c.Connect(2), jetstream.Config{Namespace: "ack", InboxDelay: -1})
	other := open(t, c.Connect(0), jetstream.Config{Namespace: "ack", InboxDelay: -1})
	ctx := ctxT(t, 30*time.Second)
	peers := []string{"p", "p.x", "p *", "p>", ""}
	for i := range 6 {
		m := &storage.Message{App: "app", ID: fmt.Sprint("m", i), From: "a", Text: "x", Time: time.Now().UnixMilli() + int64(i)}
		if err := s.Persist(ctx, m, peers); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(peer string) []string { return pendingIDs(ctx, t, s, peer) }
	// What each step removes, by the number of messages left after it.
	wantRemoved := map[int][]string{3: {"m0", "m1", "m2"}, 2: {"m4"}, 1: {"m5"}, 0: {"m3"}}
	for _, step := range []struct {
		node      *jetstream.Store
		ack, want []string
	}{
		{other, []string{"m1", "m0", "m2"}, []string{"m3", "m4", "m5"}}, // cumulative: purge
		{other, []string{"m4", "m1"}, []string{"m3", "m5"}},             // explicit: delete
		{s, []string{"m5", "m0"}, []string{"m3"}},                       // by the writer's sequences
		{other, []string{"m3", "m5", "nope"}, nil},                      // the rest
	} {
		got, err := step.node.Remove(ctx, "app", "p", step.ack)
		if err != nil {
			t.Fatal(err)
		}
		var removed []string
		for _, m := range got {
			removed = append(removed, m.ID)
		}
		if want := wantRemoved[len(step.want)]; !slices.Equal(removed, want) {
			t.Errorf("Remove(%v) removed %v, want %v", step.ack, removed, want)
		}
		if have := ids("p"); !slices.Equal(have, step.want) {
			t.Errorf("after acking %v: pending %v, want %v", step.ack, have, step.want)
		}
	}
	for _, p := range peers[1:] {
		if have := ids(p); len(have) != 6 {
			t.Errorf("peer %q: pending %v, want all 6", p, have)
		}
	}
}

// TestClientSends lists the recent messages with a client id, written
// through two nodes, from a third node's store (as a restarted node
// does).
func TestClientSends(t *testing.T) {
	c := natstest.Start(t, 3)
	ctx := ctxT(t, 30*time.Second)
	now := time.Now().UnixMilli()
	for i, s := range []*jetstream.Store{
		open(t, c.Connect(0), jetstream.Config{Namespace: "cs"}),
		open(t, c.Connect(1), jetstream.Config{Namespace: "cs"}),
	} {
		for j, m := range []*storage.Message{
			{ID: "old", Time: now - 60_000, ClientID: "c-old"},
			{ID: "plain", Time: now},
			{ID: "tagged", Time: now, ClientID: "c1", ClientSum: 99},
		} {
			m.App, m.From, m.Text = "app", fmt.Sprint("node", i), "x"
			m.ID = fmt.Sprintf("%s%d%d", m.ID, i, j)
			if err := s.Persist(ctx, m, []string{"b"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	third := open(t, c.Connect(2), jetstream.Config{Namespace: "cs"})
	var got []string
	err := third.ClientSends(ctx, now-30_000, func(m *storage.Message) error {
		if m.ClientSum != 99 || m.ClientID != "c1" {
			t.Errorf("listed %+v", m)
		}
		got = append(got, m.ID)
		return nil
	})
	slices.Sort(got)
	if err != nil || !slices.Equal(got, []string{"tagged02", "tagged12"}) {
		t.Errorf("ClientSends = %v, %v; want tagged02 and tagged12", got, err)
	}
	empty := open(t, c.Connect(2), jetstream.Config{Namespace: "csempty"})
	if err := empty.ClientSends(ctx, now, func(*storage.Message) error { t.Error("called on an empty stream"); return nil }); err != nil {
		t.Errorf("ClientSends on an empty stream: %v", err)
	}
}

// TestSendClaims claims sends from three nodes: one owner per send; a
// repeat on another node sees the pending claim, then the finished one;
// a failed, stale or different-message claim is taken over.
func TestSendClaims(t *testing.T) {
	c := natstest.Start(t, 3)
	ctx := ctxT(t, 60*time.Second)
	clock := storagetest.NewClock(time.Now())
	var nodes []*jetstream.Store
	for i := range 3 {
		nodes = append(nodes, open(t, c.Connect(i), jetstream.Config{Namespace: "claims", Now: clock.Now}))
	}
	a, b := nodes[0], nodes[1]
	key := func(id string) storage.SendKey { return storage.SendKey{App: "app", From: "u.1 *", ClientID: id} }
	claim := func(s *jetstream.Store, k storage.SendKey, sum uint64) (storage.SendClaim, bool) {
		t.Helper()
		cl, owned, err := s.ClaimSend(ctx, k, sum)
		if err != nil {
			t.Fatal(err)
		}
		return cl, owned
	}
	if _, owned := claim(a, key("k1"), 7); !owned {
		t.Fatal("first claim not owned")
	}
	if cl, owned := claim(b, key("k1"), 7); owned || cl.Done {
		t.Fatalf("repeat during the first send: %+v, owned %v; want pending", cl, owned)
	}
	if err := a.FinishSend(ctx, key("k1"), 7, "m1", 5, true); err != nil {
		t.Fatal(err)
	}
	if cl, owned := claim(b, key("k1"), 7); owned || !cl.Done || cl.ID != "m1" || cl.Time != 5 {
		t.Fatalf("repeat after the first send: %+v, owned %v; want done m1 at 5", cl, owned)
	}

	claim(a, key("k2"), 7)
	if err := a.FinishSend(ctx, key("k2"), 7, "", 0, false); err != nil {
		t.Fatal(err)
	}
	if _, owned := claim(b, key("k2"), 7); !owned {
		t.Error("a failed send's claim was not taken over")
	}

	claim(a, key("k3"), 1)
	if _, owned := claim(b, key("k3"), 2); !owned {
		t.Error("another message under the same client id was not taken over")
	}

	claim(a, key("k4"), 7)
	clock.Advance(time.Minute) // past twice PersistTimeout: a's node died
	if _, owned := claim(b, key("k4"), 7); !owned {
		t.Error("a stale pending claim was not taken over")
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	owners := 0
	for _, s := range nodes {
		for range 4 {
			wg.Go(func() {
				_, owned, err := s.ClaimSend(ctx, key("k5"), 9)
				if err != nil {
					t.Error(err)
				}
				if owned {
					mu.Lock()
					owners++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if owners != 1 {
		t.Errorf("%d owners of one send claimed 12 times at once, want 1", owners)
	}
}

// TestOpenWaitsForQuorum opens the store while two of three servers are
// down (no meta leader, as when the first node of an embedded cluster
// starts): Open waits, and succeeds once the servers are back.
func TestOpenWaitsForQuorum(t *testing.T) {
	c := natstest.Start(t, 3)
	nc := c.Connect(0)
	c.Shutdown(1)
	c.Shutdown(2)
	ctx := ctxT(t, 60*time.Second)
	done := make(chan error, 1)
	go func() {
		s, err := jetstream.Open(ctx, nc, jetstream.Config{Namespace: "quorum"})
		if err == nil {
			s.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Open without a quorum returned %v, want it to wait", err)
	case <-time.After(500 * time.Millisecond):
	}
	c.Restart(1)
	c.Restart(2)
	if err := <-done; err != nil {
		t.Fatalf("Open after the servers came back: %v", err)
	}
}

// TestSeqCacheBounded persists more than the sequence cache may hold: it
// stays within its budget, and Remove still finds messages it forgot (by
// reading the inbox).
func TestSeqCacheBounded(t *testing.T) {
	c := natstest.Single(t)
	s := open(t, c.Connect(0), jetstream.Config{Namespace: "cache", UnsafeSingleReplica: true, InboxDelay: -1})
	ctx := ctxT(t, 60*time.Second)
	text := strings.Repeat("x", 5000)
	n := jetstream.MaxCachedBytes/5000 + 100
	for i := range n {
		m := &storage.Message{App: "app", ID: fmt.Sprintf("m%05d", i), From: "a", Text: text, Time: time.Now().UnixMilli()}
		if err := s.Persist(ctx, m, []string{fmt.Sprint("p", i%200)}); err != nil {
			t.Fatal(err)
		}
		if b := s.CacheBytes(); b > jetstream.MaxCachedBytes+6000 {
			t.Fatalf("cache holds %d bytes after %d messages, over its budget", b, i+1)
		}
	}
	// m00000 went to p0 first of all (p0 holds fewer than 50): the cache
	// was reset since.
	got, err := s.Remove(ctx, "app", "p0", []string{"m00000"})
	if err != nil || len(got) != 1 || got[0].Text != text {
		t.Fatalf("Remove of a forgotten message = %v, %v", got, err)
	}
}

// TestInboxRefs acks through a node that did not write the messages but
// was given the writer's refs (as a live copy from another node carries
// them): it deletes by the ref's sequence without reading the inbox, so
// Remove returns the message as it was learned (a read would return the
// stored text), with the receipt flag from the ref. A message stored
// twice changed has no ref; a ref that cannot be read is ignored.
func TestInboxRefs(t *testing.T) {
	c := natstest.Start(t, 3)
	s := open(t, c.Connect(2), jetstream.Config{Namespace: "refs", InboxDelay: -1})
	other := open(t, c.Connect(0), jetstream.Config{Namespace: "refs", InboxDelay: -1})
	ctx := ctxT(t, 30*time.Second)
	now := time.Now().UnixMilli()
	msg := func(id string, i int, receipt bool) *storage.Message {
		return &storage.Message{App: "app", ID: id, From: "a", Text: "stored", Time: now + int64(i), Receipt: receipt}
	}
	for _, m := range []*storage.Message{msg("m0", 0, true), msg("m1", 1, false), msg("m2", 2, false)} {
		if err := s.Persist(ctx, m, []string{"p", "q"}); err != nil {
			t.Fatal(err)
		}
	}
	changed := msg("m2", 2, false)
	changed.Text = "changed"
	if err := s.Persist(ctx, changed, []string{"p"}); err != nil {
		t.Fatal(err)
	}
	if ref := s.InboxRef("app", "p", "m2"); ref != nil {
		t.Errorf("InboxRef of a message stored twice = %v, want nil", ref)
	}
	if ref := s.InboxRef("app", "p", "nope"); ref != nil {
		t.Errorf("InboxRef of an unknown id = %v, want nil", ref)
	}
	if ref := other.InboxRef("app", "p", "m0"); ref != nil {
		t.Errorf("InboxRef on a node that never saw m0 = %v, want nil", ref)
	}
	for _, id := range []string{"m0", "m1"} {
		ref := s.InboxRef("app", "p", id)
		if ref == nil {
			t.Fatalf("InboxRef(p, %s) = nil after Persist", id)
		}
		other.LearnInboxRef("p", &storage.Message{App: "app", ID: id, From: "a", Text: "learned", Time: now}, ref)
	}
	pending := func(peer string) []string { return pendingIDs(ctx, t, s, peer) }
	got, err := other.Remove(ctx, "app", "p", []string{"m0"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "m0" || got[0].Text != "learned" || !got[0].Receipt {
		t.Fatalf("Remove(m0) by ref = %+v, want m0 as learned, with Receipt", got)
	}
	if have := pending("p"); !slices.Equal(have, []string{"m1", "m2"}) {
		t.Errorf("after the ack by ref: p pending %v, want [m1 m2]", have)
	}
	if have := pending("q"); !slices.Equal(have, []string{"m0", "m1", "m2"}) {
		t.Errorf("q pending %v, want all three (refs are per inbox)", have)
	}
	// Acked again: the delete finds nothing, nothing is returned.
	if got, err := other.Remove(ctx, "app", "p", []string{"m0"}); err != nil || len(got) != 0 {
		t.Errorf("second Remove(m0) = %v, %v, want nothing", got, err)
	}
	// m1 by ref together with m2, which other does not know: it reads the
	// inbox, and removes both.
	got, err = other.Remove(ctx, "app", "p", []string{"m1", "m2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "m1" || got[1].ID != "m2" || got[1].Text != "changed" {
		t.Errorf("Remove(m1, m2) = %+v, want m1 and the changed m2", got)
	}
	if have := pending("p"); len(have) != 0 {
		t.Errorf("p pending %v, want none", have)
	}
	// A ref that cannot be read is ignored: the ack reads the inbox.
	other.LearnInboxRef("q", &storage.Message{App: "app", ID: "m1", Text: "learned", Time: now}, []byte{0xff})
	other.LearnInboxRef("q", &storage.Message{App: "app", ID: "m1", Text: "learned", Time: now}, nil)
	got, err = other.Remove(ctx, "app", "q", []string{"m1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Text != "stored" {
		t.Errorf("Remove(q, m1) after bad refs = %+v, want the stored m1", got)
	}
}

// pendingIDs is the ids of peer's pending messages in app "app", oldest
// first, as s reads them.
func pendingIDs(ctx context.Context, t *testing.T, s *jetstream.Store, peer string) []string {
	t.Helper()
	ms, err := s.Pending(ctx, "app", peer)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

// TestDeleteRequest: the hand-written delete request is the JSON that
// JSApiMsgDeleteRequest reads, for any sequence.
func TestDeleteRequest(t *testing.T) {
	for _, seq := range []uint64{1, 42, 1 << 53, 1<<64 - 1} {
		var r struct {
			Seq     *uint64 `json:"seq"`
			NoErase *bool   `json:"no_erase"`
		}
		b := jetstream.DeleteRequest(seq)
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil || r.Seq == nil || *r.Seq != seq || r.NoErase == nil || !*r.NoErase {
			t.Errorf("DeleteRequest(%d) = %s: %+v, %v", seq, b, r, err)
		}
	}
}

package rest_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/core/coretest"
	"github.com/rtgate/rtgate/protocol"
)

// TestHistoryThroughAllNodes is acceptance test 8 of scaleout.md section
// 7: persistent direct and group messages are sent by peers connected to
// each of three cluster nodes in turn. Right after each ack, the
// message heads its conversation's history page on another node
// (read-your-writes). Then the history pages (by conversation, by
// sender, app-wide; limit, max_ts and msgid paging), asked of the nodes
// in turn, before and after a DELETE made on one node, are byte for byte
// a single Badger node's pages for the same script (generated ids and
// times numbered in order of appearance).
func TestHistoryThroughAllNodes(t *testing.T) {
	runOnBoth(t, historyScript)
}

// next returns c's next frame of kind k, skipping frames of other kinds
// (messages from the others, group events).
func next(t *testing.T, c *coretest.MemConn, k protocol.Kind) *protocol.Command {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, err := c.Next(time.Until(deadline))
		if err != nil {
			t.Fatalf("waiting for %v: %v", k, err)
		}
		if f.Kind == k {
			return f
		}
	}
}

// historyScript: senders on each node in turn, then every page.
func historyScript(r *restRun) {
	t := r.t
	peers := []string{"alice", "bob", "carol"}
	conns := make([]*coretest.MemConn, len(peers))
	for i, p := range peers {
		conns[i] = coretest.Dial(r.nodes[i%len(r.nodes)].hub, false)
		conns[i].Open(t, appID, p, peers...)
	}
	for _, p := range peers {
		r.settle("online "+p, func(h *core.Hub) bool { return h.Online(appID, p) })
	}
	// A group of the three.
	if err := conns[0].Send(&protocol.Command{Kind: protocol.KindRoomJoin, PeerID: "alice", I: 1}); err != nil {
		t.Fatal(err)
	}
	group := next(t, conns[0], protocol.KindRoomJoined).RoomID
	for i, p := range peers[1:] {
		if err := conns[i+1].Send(&protocol.Command{Kind: protocol.KindRoomJoin, PeerID: p, RoomID: group, I: 1}); err != nil {
			t.Fatal(err)
		}
		next(t, conns[i+1], protocol.KindRoomJoined)
	}

	convs := []string{group}
	for i := range peers {
		for j := i + 1; j < len(peers); j++ {
			convs = append(convs, core.ConvID([]string{peers[i], peers[j]}))
		}
	}
	const messages = 36
	var acked []*protocol.Command
	var convOf []string
	for i := range messages {
		from := i % len(peers)
		cmd := &protocol.Command{Kind: protocol.KindDirect, PeerID: peers[from], Msg: fmt.Sprintf(`{"_lctext":"m%d é"}`, i), I: int64(i + 2)}
		conv := group
		if i%4 == 3 {
			cmd.RoomID = group
		} else {
			to := peers[(from+1+i%2)%len(peers)]
			cmd.ToPeerIDs = []string{to}
			conv = core.ConvID([]string{peers[from], to})
		}
		if err := conns[from].Send(cmd); err != nil {
			t.Fatal(err)
		}
		ack := next(t, conns[from], protocol.KindAck)
		acked, convOf = append(acked, ack), append(convOf, conv)
		// Read-your-writes: at once, on the node after the sender's.
		r.next = from + 1
		a := r.call("GET", "/1.1/rtm/messages/logs?limit=1&convid="+conv, appHdr, "")
		if !strings.Contains(a.body, `"msg-id":"`+ack.UID+`"`) {
			t.Fatalf("message %d (%s) not on its page right after its ack: %d %s", i, ack.UID, a.status, a.body)
		}
		r.tick(ack.Time)
	}

	pages := func() {
		queries := []url.Values{{}, {"limit": {"1000"}}}
		for _, c := range convs {
			queries = append(queries, url.Values{"convid": {c}})
		}
		for _, p := range peers {
			queries = append(queries, url.Values{"from": {p}, "limit": {"5"}})
		}
		queries = append(queries, url.Values{"limit": {"7"}, "timestamp": {fmt.Sprint(acked[20].Time)}},
			url.Values{"convid": {group}, "max_ts": {fmt.Sprint(acked[30].Time)}})
		for _, q := range queries {
			r.call("GET", "/1.1/rtm/messages/logs?"+q.Encode(), masterHdr, "")
		}
		// Paging by max_ts and msgid, 4 at a time, each page on the next node.
		for _, c := range []string{group, convs[1], ""} {
			q := url.Values{"limit": {"4"}}
			if c != "" {
				q.Set("convid", c)
			}
			for range messages {
				var page []logRec
				r.call("GET", "/1.1/rtm/messages/logs?"+q.Encode(), masterHdr, "").decode(t, 200, &page)
				if len(page) < 4 {
					break
				}
				q.Set("max_ts", fmt.Sprint(page[len(page)-1].Timestamp))
				q.Set("msgid", page[len(page)-1].MsgID)
			}
		}
	}
	pages()
	for _, i := range []int{3, 10} { // a group message and a direct one
		m := acked[i]
		r.call("DELETE", "/1.1/rtm/messages/logs?"+url.Values{"convid": {convOf[i]}, "msgid": {m.UID}, "timestamp": {fmt.Sprint(m.Time)}}.Encode(), masterHdr, "")
	}
	pages()
}

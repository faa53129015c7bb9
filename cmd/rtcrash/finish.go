package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rtgate/rtgate/protocol"
)

// record is one history entry of GET /1.1/rtm/messages/logs.
type record struct {
	Timestamp int64  `json:"timestamp"`
	ConvID    string `json:"conv-id"`
	Data      string `json:"data"`
	From      string `json:"from"`
	MsgID     string `json:"msg-id"`
}

// report is the outcome of a campaign.
type report struct {
	o                                     *options
	kills, recoveryKills, earlyKills      int
	restarts, failedRestarts              int
	startupMedian, startupMax             time.Duration
	sent, withID, acked, unknown, repeats int
	deliveries, offline, distinct         int
	history                               int
	stats                                 map[string]*transportStats

	lost            []string // acknowledged, not in the history or never delivered
	storedTwice     []string
	twiceInSession  []string
	undelivered     []string // stored (in the history), never delivered
	strange         []string
	refusals        []string
	drainFailures   []string
	historyFailures []string
	panics          int
	notes           []string
}

func (r *report) clean() bool {
	return len(r.lost) == 0 && len(r.storedTwice) == 0 && len(r.twiceInSession) == 0 && len(r.undelivered) == 0 &&
		len(r.strange) == 0 && len(r.drainFailures) == 0 && len(r.historyFailures) == 0 &&
		r.failedRestarts == 0 && r.panics == 0 && len(r.refusals) == 0
}

// finish drains every inbox, pages through the history and checks the
// ledger against both.
func (c *campaign) finish(ctx context.Context, pairs []*pair) *report {
	r := &report{o: c.o, kills: c.kills, recoveryKills: c.recoveryKills, earlyKills: c.earlyKills,
		restarts: c.restarts, failedRestarts: c.failedRestarts}
	if len(c.startups) > 0 {
		s := slices.Clone(c.startups)
		slices.Sort(s)
		r.startupMedian, r.startupMax = s[len(s)/2], s[len(s)-1]
	}
	for _, p := range pairs {
		var err error
		for range 3 {
			if err = c.drain(ctx, p); err == nil {
				break
			}
		}
		if err != nil {
			r.drainFailures = append(r.drainFailures, fmt.Sprintf("%s: drain of %s: %v", p.transport, p.receiver, err))
		}
	}
	history := map[*pair][]record{}
	for _, p := range pairs {
		byFrom, err := c.history(ctx, url.Values{"from": {p.sender}})
		if err != nil {
			r.historyFailures = append(r.historyFailures, fmt.Sprintf("history from %s: %v", p.sender, err))
			continue
		}
		byConv, err := c.history(ctx, url.Values{"convid": {convID(p.sender, p.receiver)}})
		if err != nil {
			r.historyFailures = append(r.historyFailures, fmt.Sprintf("history of %s: %v", convID(p.sender, p.receiver), err))
			continue
		}
		a, b := ids(byFrom), ids(byConv)
		if !slices.Equal(a, b) {
			r.historyFailures = append(r.historyFailures, fmt.Sprintf("%s: history by sender has %d records, by conversation %d, not the same",
				p.transport, len(a), len(b)))
		}
		history[p] = byFrom
	}
	c.check(r, pairs, history)
	return r
}

// ids returns the sorted msg-ids of recs.
func ids(recs []record) []string {
	out := make([]string, len(recs))
	for i, rec := range recs {
		out[i] = rec.MsgID
	}
	slices.Sort(out)
	return out
}

// check compares the ledger with the history.
func (c *campaign) check(r *report, pairs []*pair, history map[*pair][]record) {
	l := c.led
	l.mu.Lock()
	defer l.mu.Unlock()
	r.stats = l.stats
	for _, s := range l.stats {
		r.sent += s.sent
		r.withID += s.withID
		r.acked += s.acked
		r.unknown += s.unknown
		r.repeats += s.repeats
	}
	r.deliveries, r.offline, r.distinct = l.deliveries, l.offline, len(l.deliveredIDs)
	r.twiceInSession = l.twiceInSession
	r.strange = l.strange
	r.refusals = l.refusals
	r.storedTwice = append(r.storedTwice, l.repeatUID...)
	for text, ids := range l.idsByText {
		if len(ids) > 1 {
			r.storedTwice = append(r.storedTwice, fmt.Sprintf("%q delivered under %d ids %v", text, len(ids), keysOf(ids)))
		}
	}
	for _, p := range pairs {
		recs, ok := history[p]
		if !ok {
			continue // a history failure, reported
		}
		r.history += len(recs)
		byID := map[string]record{}
		byText := map[string]string{}
		for _, rec := range recs {
			if _, dup := byID[rec.MsgID]; dup {
				r.storedTwice = append(r.storedTwice, fmt.Sprintf("%s: history lists %s twice", p.transport, rec.MsgID))
			}
			byID[rec.MsgID] = rec
			if other, dup := byText[rec.Data]; dup && other != rec.MsgID {
				r.storedTwice = append(r.storedTwice, fmt.Sprintf("%s: %q stored twice, as %s and %s", p.transport, rec.Data, other, rec.MsgID))
			}
			byText[rec.Data] = rec.MsgID
			m := l.byText[rec.Data]
			switch {
			case m == nil || m.pair != p:
				r.strange = append(r.strange, fmt.Sprintf("%s: history of %s holds %q, which it did not send", p.transport, p.sender, rec.Data))
			case m.uid != "" && m.uid != rec.MsgID:
				r.storedTwice = append(r.storedTwice, fmt.Sprintf("%s: %q acked as %s but stored as %s", p.transport, rec.Data, m.uid, rec.MsgID))
			}
			if _, ok := l.deliveredIDs[rec.MsgID]; !ok {
				r.undelivered = append(r.undelivered, fmt.Sprintf("%s: %s (%q) is in the history but %s never got it",
					p.transport, rec.MsgID, rec.Data, p.receiver))
			}
		}
		for _, m := range l.byText {
			if m.pair != p || m.uid == "" {
				continue
			}
			if _, ok := byID[m.uid]; !ok {
				r.lost = append(r.lost, fmt.Sprintf("%s: %s (%q) was acked but is not in the history", p.transport, m.uid, m.text))
			}
			if _, ok := l.deliveredIDs[m.uid]; !ok {
				r.lost = append(r.lost, fmt.Sprintf("%s: %s (%q) was acked but %s never got it", p.transport, m.uid, m.text, p.receiver))
			}
		}
	}
	slices.Sort(r.lost)
	slices.Sort(r.storedTwice)
	slices.Sort(r.undelivered)
}

// drain opens p's receiver, reads its whole inbox (what comes before the
// answer to a query that follows the open, and a moment more) and
// acknowledges it.
func (c *campaign) drain(ctx context.Context, p *pair) error {
	cn, g, err := c.dial(ctx, p)
	if err != nil {
		return err
	}
	defer cn.close()
	s := c.led.session(p, g)
	read := func(cmd *protocol.Command) { s.read(cn, cmd, true) }
	if err := cn.open(p.receiver, nil, read); err != nil {
		return fmt.Errorf("open: %w", err)
	}
	if err := cn.Send(&protocol.Command{Kind: protocol.KindSessionQuery, AppID: app, PeerID: p.receiver,
		SessionPeerIDs: []string{p.sender}, I: 2}); err != nil {
		return err
	}
	if _, err := cn.await(60*time.Second, read, func(cmd *protocol.Command) bool {
		return cmd.Kind == protocol.KindSessionQueryResult
	}); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	cn.await(300*time.Millisecond, read, func(*protocol.Command) bool { return false })
	return nil
}

// history pages through GET /1.1/rtm/messages/logs with q, 1000 records a
// page.
func (c *campaign) history(ctx context.Context, q url.Values) ([]record, error) {
	g, err := c.current(ctx)
	if err != nil {
		return nil, err
	}
	q.Set("limit", "1000")
	var out []record
	for page := 0; page < 10000; page++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.http+"/1.1/rtm/messages/logs?"+q.Encode(), nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("X-LC-Id", app)
		req.Header.Set("X-LC-Key", "any,master")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
		res.Body.Close()
		if err != nil {
			return nil, err
		}
		if res.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("HTTP %d: %s", res.StatusCode, strings.TrimSpace(string(body)))
		}
		var recs []record
		if err := json.Unmarshal(body, &recs); err != nil {
			return nil, err
		}
		out = append(out, recs...)
		if len(recs) < 1000 {
			return out, nil
		}
		last := recs[len(recs)-1]
		q.Set("max_ts", strconv.FormatInt(last.Timestamp, 10))
		q.Set("msgid", last.MsgID)
	}
	return nil, fmt.Errorf("more than 10000 pages")
}

// convID is the v1 conversation id of two peers: md5 of the sorted ids
// joined by ":".
func convID(a, b string) string {
	ids := []string{a, b}
	slices.Sort(ids)
	sum := md5.Sum([]byte(strings.Join(ids, ":")))
	return hex.EncodeToString(sum[:])
}

// print writes the report.
func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "kills: %d (%d while restarting, %d of them before it listened); restarts %d, failed %d; startup median %v, max %v\n",
		r.kills, r.recoveryKills, r.earlyKills, r.restarts, r.failedRestarts, r.startupMedian.Round(time.Millisecond), r.startupMax.Round(time.Millisecond))
	fmt.Fprintf(w, "messages: %d sent (%d with a client id), %d acked, %d fate unknown (connection lost before the ack), %d acked repeats of a client id\n",
		r.sent, r.withID, r.acked, r.unknown, r.repeats)
	fmt.Fprintf(w, "delivered: %d deliveries (%d offline) of %d distinct messages; history: %d records\n",
		r.deliveries, r.offline, r.distinct, r.history)
	names := keysOf(r.stats)
	for _, n := range names {
		s := r.stats[n]
		fmt.Fprintf(w, "  %-13s sent %6d  with id %6d  acked %6d  unknown %4d  repeats %4d  delivered %6d\n",
			n, s.sent, s.withID, s.acked, s.unknown, s.repeats, s.delivered)
	}
	fmt.Fprintf(w, "acked-but-lost %d, stored twice %d, delivered twice in one session %d, stored but undelivered %d, failed restarts %d, server panics %d\n",
		len(r.lost), len(r.storedTwice), len(r.twiceInSession), len(r.undelivered), r.failedRestarts, r.panics)
	for _, sec := range []struct {
		name  string
		lines []string
	}{
		{"LOST", r.lost}, {"STORED TWICE", r.storedTwice}, {"TWICE IN ONE SESSION", r.twiceInSession},
		{"STORED, NEVER DELIVERED", r.undelivered}, {"UNEXPECTED", r.strange}, {"REFUSED", r.refusals},
		{"DRAIN FAILED", r.drainFailures}, {"HISTORY FAILED", r.historyFailures}, {"NOTE", r.notes},
	} {
		for i, line := range sec.lines {
			if i == 20 {
				fmt.Fprintf(w, "%s: ... and %d more\n", sec.name, len(sec.lines)-i)
				break
			}
			fmt.Fprintf(w, "%s: %s\n", sec.name, line)
		}
	}
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

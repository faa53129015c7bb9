package main

import (
	"fmt"
	"sync"

	"github.com/rtgate/rtgate/protocol"
)

// message is one message a sender sent (and maybe sent again).
type message struct {
	pair     *pair
	text     string // unique per message: "rtcrash <sender> n<seq>"
	clientID string // "" when sent without one

	// guarded by ledger.mu
	uid     string // the uid of the first ack, "" until acked
	unknown bool   // the connection failed before the ack, not sent again
	refusal string // the server answered `error`
}

// ledger records what was sent, acknowledged and delivered, and the
// anomalies seen while it happened. Safe for concurrent use.
type ledger struct {
	mu     sync.Mutex
	byText map[string]*message
	// deliveredIDs maps each delivered id to its text; deliveries counts them.
	deliveredIDs map[string]string
	deliveries   int
	offline      int // deliveries flagged offline
	// idsByText maps a text to the distinct ids it was delivered under.
	idsByText map[string]map[string]bool
	stats     map[string]*transportStats

	twiceInSession []string // "r3: id X (text) twice in one session"
	repeatUID      []string // a repeat acked with another uid
	strange        []string // deliveries of unknown texts, wrong texts for an id
	refusals       []string
}

// transportStats counts one transport's traffic.
type transportStats struct {
	sent, withID, acked, unknown, repeats, delivered int
}

func newLedger() *ledger {
	return &ledger{byText: map[string]*message{}, deliveredIDs: map[string]string{},
		idsByText: map[string]map[string]bool{}, stats: map[string]*transportStats{}}
}

func (l *ledger) st(p *pair) *transportStats {
	s := l.stats[p.transport]
	if s == nil {
		s = &transportStats{}
		l.stats[p.transport] = s
	}
	return s
}

func (l *ledger) sent(m *message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byText[m.text] = m
	st := l.st(m.pair)
	st.sent++
	if m.clientID != "" {
		st.withID++
	}
}

// acked records the ack of m (first or repeated) with uid.
func (l *ledger) acked(m *message, uid string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case m.uid == "":
		m.uid = uid
		if m.unknown {
			m.unknown = false
			l.st(m.pair).unknown--
		}
		l.st(m.pair).acked++
	case m.uid != uid:
		l.repeatUID = append(l.repeatUID, fmt.Sprintf("%s: %q (client id %s) acked as %s, then again as %s",
			m.pair.transport, m.text, m.clientID, m.uid, uid))
	default:
		l.st(m.pair).repeats++
	}
}

// unknown records that m's fate is unknown to the sender.
func (l *ledger) unknown(m *message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if m.uid == "" && !m.unknown {
		m.unknown = true
		l.st(m.pair).unknown++
	}
}

// abandon records the messages still waiting to be sent again at the end.
func (l *ledger) abandon(ms []*message) {
	for _, m := range ms {
		l.unknown(m)
	}
}

func (l *ledger) refused(m *message, why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m.refusal = why
	l.refusals = append(l.refusals, fmt.Sprintf("%s: %q refused: %s", m.pair.transport, m.text, why))
}

// session starts a receiver session.
func (l *ledger) session(p *pair, _ *generation) *session {
	return &session{led: l, p: p, seen: map[string]bool{}}
}

// delivered records a direct message read by p's receiver.
func (l *ledger) delivered(p *pair, cmd *protocol.Command) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.deliveries++
	if cmd.Offline {
		l.offline++
	}
	if old, ok := l.deliveredIDs[cmd.ID]; ok && old != cmd.Msg {
		l.strange = append(l.strange, fmt.Sprintf("%s: id %s delivered as %q and as %q", p.transport, cmd.ID, old, cmd.Msg))
	}
	if _, ok := l.deliveredIDs[cmd.ID]; !ok {
		l.st(p).delivered++
	}
	l.deliveredIDs[cmd.ID] = cmd.Msg
	m := l.byText[cmd.Msg]
	if m == nil || m.pair != p || cmd.FromPeerID != p.sender {
		l.strange = append(l.strange, fmt.Sprintf("%s: %s got %q from %q, which its sender did not send",
			p.transport, p.receiver, cmd.Msg, cmd.FromPeerID))
		return
	}
	ids := l.idsByText[cmd.Msg]
	if ids == nil {
		ids = map[string]bool{}
		l.idsByText[cmd.Msg] = ids
	}
	ids[cmd.ID] = true
}

// twice records a message delivered twice in one session.
// firstOffline tells how the first copy came.
func (l *ledger) twice(p *pair, cmd *protocol.Command, firstOffline bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	how := map[bool]string{false: "live", true: "offline"}
	l.twiceInSession = append(l.twiceInSession, fmt.Sprintf("%s: %s got %s (%q) twice in one session: %s, then %s",
		p.transport, p.receiver, cmd.ID, cmd.Msg, how[firstOffline], how[cmd.Offline]))
}

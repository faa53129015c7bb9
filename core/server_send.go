package core

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/storage"
)

// OfflineNotifier is told about persistent messages stored for peers that
// have no open session (the offline push hook). Notify must not block: it
// queues the work and drops it when its queue is full.
type OfflineNotifier interface {
	Notify(app *App, m *storage.Message, offline []string)
}

// ErrBadSend is wrapped by SendAs for invalid arguments.
var ErrBadSend = errors.New("core: invalid send")

// Send is a server-side message (REST POST /1.1/rtm/messages).
type Send struct {
	App       *App
	From      string   // sending peer id (need not be online)
	To        []string // recipients; or
	Room      string   // a group id
	Text      string
	Transient bool
	FromIP    string
}

// SendAs delivers a message as peer From, like a super peer would: no watch
// needed. Persistent messages are stored (history and inboxes) before it
// returns. In a cluster, recipients whose session opened on any node
// before the call get it live. It returns the stored message (ID and Time
// set).
func (h *Hub) SendAs(ctx context.Context, s Send) (*storage.Message, error) {
	if err := protocol.CheckPeerID(s.From); err != nil {
		return nil, fmt.Errorf("%w: from peer: %w", ErrBadSend, err)
	}
	if len(s.Text) > maxMessageBytes {
		return nil, fmt.Errorf("%w: message text over %d bytes", ErrBadSend, maxMessageBytes)
	}
	if (s.Room == "") == (len(s.To) == 0) {
		return nil, fmt.Errorf("%w: exactly one of to peers or group is required", ErrBadSend)
	}
	m := &storage.Message{App: s.App.ID, ID: h.newMessageID(), From: s.From, Room: s.Room, Text: s.Text,
		Time: h.nowMs(), FromIP: s.FromIP}
	var to []string
	if s.Room != "" {
		g, err := h.store.Group(ctx, s.App.ID, s.Room)
		if err != nil {
			return nil, err
		}
		m.ConvID = g.ID
		if g.Transient {
			s.Transient = true
			h.deliverOpen(m, nil)
			return m, nil
		}
		to = g.Members
	} else {
		for _, p := range s.To {
			if err := protocol.CheckPeerID(p); err != nil {
				return nil, fmt.Errorf("%w: to peer: %w", ErrBadSend, err)
			}
			if !slices.Contains(to, p) {
				to = append(to, p)
			}
		}
		if len(to) > h.cfg.MaxRecipients {
			return nil, fmt.Errorf("%w: at most %d recipients", ErrBadSend, h.cfg.MaxRecipients)
		}
		m.To = to
		m.ConvID = convIDOf(s.From, to)
	}
	if !s.Transient {
		if err := h.persist(ctx, s.App, m, to); err != nil {
			return nil, err
		}
	}
	// A recipient whose `opened` was answered on another node before this
	// call gets the live copy, as on one node (a REST send is not on the
	// hot path: it can afford the presence view's round trip).
	h.syncPresence()
	h.deliver(m, to, s.Transient, nil)
	return m, nil
}

// persist stores m in history and in the inbox of every recipient (group
// members but the sender). Recipients with no open session are reported to
// the notifier.
func (h *Hub) persist(ctx context.Context, app *App, m *storage.Message, to []string) error {
	var offline []string
	for _, p := range to {
		if p != m.From && !h.pr.Online(m.App, p) {
			offline = append(offline, p)
		}
	}
	// Every recipient's inbox, online or not: a message delivered live stays
	// there until acked, so a connection lost before the ack loses nothing.
	// Group messages skip the sender (clients never ack their own).
	inbox := to
	if m.Room != "" {
		inbox = make([]string, 0, len(to))
		for _, p := range to {
			if p != m.From {
				inbox = append(inbox, p)
			}
		}
	}
	var err error
	if oh, ok := h.store.(storage.OfflineHinter); ok && len(offline) > 0 {
		err = oh.PersistOffline(ctx, m, inbox, offline)
	} else {
		err = h.store.Persist(ctx, m, inbox)
	}
	if err != nil {
		h.metrics.StoreErrors.Inc()
		return err
	}
	if len(offline) > 0 && h.cfg.Offline != nil {
		h.cfg.Offline.Notify(app, m, offline)
	}
	return nil
}

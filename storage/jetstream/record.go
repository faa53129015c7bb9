package jetstream

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/rtgate/rtgate/storage"
)

// record is a storage.Message as stored in RT_INBOX and RT_HIST (JSON).
type record struct {
	App       string   `json:"app"`
	ID        string   `json:"id"`
	From      string   `json:"from,omitempty"`
	To        []string `json:"to,omitempty"`
	Room      string   `json:"room,omitempty"`
	Text      string   `json:"text"`
	Time      int64    `json:"t"`
	Receipt   bool     `json:"rcp,omitempty"`
	FromIP    string   `json:"ip,omitempty"`
	ConvID    string   `json:"conv,omitempty"`
	ClientID  string   `json:"cid,omitempty"`
	ClientSum uint64   `json:"csum,omitempty"`
	// Inbox (RT_HIST records only) lists the peers whose inboxes the
	// message was persisted into, so that a delete from the history can
	// take it out of exactly those (Store.Recipients).
	Inbox []string `json:"in,omitempty"`
	// Lazy (RT_HIST records only) lists the peers of Inbox whose entries
	// the writing store held in memory (lazy.go); after its death another
	// store publishes them (recover.go).
	Lazy []string `json:"lz,omitempty"`
}

// hdrWriter is the RT_HIST header naming the store that wrote a record
// with held entries.
const hdrWriter = "Rt-Writer"

// message is r's storage.Message.
func (r *record) message() *storage.Message {
	return &storage.Message{App: r.App, ID: r.ID, From: r.From, To: r.To, Room: r.Room, Text: r.Text,
		Time: r.Time, Receipt: r.Receipt, FromIP: r.FromIP, ConvID: r.ConvID, ClientID: r.ClientID, ClientSum: r.ClientSum}
}

func encodeMessage(m *storage.Message) []byte {
	b, _ := json.Marshal(record{App: m.App, ID: m.ID, From: m.From, To: m.To, Room: m.Room, Text: m.Text,
		Time: m.Time, Receipt: m.Receipt, FromIP: m.FromIP, ConvID: m.ConvID, ClientID: m.ClientID, ClientSum: m.ClientSum})
	return b // a record of strings, ints and bools always encodes
}

// encodeHist is m's RT_HIST record: the message, the peers whose inboxes
// it went into, and those of them whose entries are held (lazy).
func encodeHist(m *storage.Message, inbox, lazy []string) []byte {
	b, _ := json.Marshal(record{App: m.App, ID: m.ID, From: m.From, To: m.To, Room: m.Room, Text: m.Text,
		Time: m.Time, Receipt: m.Receipt, FromIP: m.FromIP, ConvID: m.ConvID, ClientID: m.ClientID, ClientSum: m.ClientSum,
		Inbox: inbox, Lazy: lazy})
	return b
}

func decodeMessage(b []byte) (*storage.Message, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("jetstream: bad stored message: %w", err)
	}
	return r.message(), nil
}

// groupRecord is a storage.Group as stored in RT_GROUPS (JSON).
type groupRecord struct {
	App       string         `json:"app"`
	ID        string         `json:"id"`
	Members   []string       `json:"m"`
	Transient bool           `json:"tr,omitempty"`
	Attrs     map[string]any `json:"attrs,omitempty"`
	CreatedAt time.Time      `json:"createdAt"`
	UpdatedAt time.Time      `json:"updatedAt"`
}

func encodeGroup(g *storage.Group) ([]byte, error) {
	b, err := json.Marshal(groupRecord{App: g.App, ID: g.ID, Members: g.Members, Transient: g.Transient,
		Attrs: g.Attrs, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt})
	if err != nil {
		return nil, fmt.Errorf("%w: group: %v", storage.ErrInvalid, err)
	}
	return b, nil
}

func decodeGroup(b []byte) (*storage.Group, error) {
	var r groupRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("jetstream: bad stored group: %w", err)
	}
	if r.Attrs == nil {
		r.Attrs = map[string]any{}
	}
	return &storage.Group{App: r.App, ID: r.ID, Members: r.Members, Transient: r.Transient,
		Attrs: r.Attrs, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}, nil
}

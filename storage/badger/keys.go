package badger

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/rtgate/rtgate/storage"
)

// Key tables; see the package doc for the layout.
const (
	tMessage    = 'm'
	tConv       = 'c'
	tFrom       = 'f'
	tApp        = 'a'
	tInbox      = 'i'
	tGroup      = 'g'
	tMembership = 'p'
	tGroupOrder = 'o'
)

// key builds a key: the table byte, then length-prefixed strings.
func key(table byte, strs ...string) []byte {
	n := 1
	for _, s := range strs {
		n += binary.MaxVarintLen64 + len(s)
	}
	k := make([]byte, 1, n+8+64)
	k[0] = table
	for _, s := range strs {
		k = binary.AppendUvarint(k, uint64(len(s)))
		k = append(k, s...)
	}
	return k
}

// appendTime appends t so that keys sort by t, negative times too.
func appendTime(k []byte, t int64) []byte {
	return binary.BigEndian.AppendUint64(k, uint64(t)^(1<<63))
}

// timeID returns prefix + time + id, the shape of every history and inbox key.
func timeID(prefix []byte, t int64, id string) []byte {
	k := appendTime(append([]byte(nil), prefix...), t)
	return append(k, id...)
}

// historyKeys returns m's keys in the three history indexes (by
// conversation, by sender, by app): key(table, ...) + time + id. key
// leaves room for the time and an id of up to 64 bytes, so each is one
// allocation.
func historyKeys(m *storage.Message) [3][]byte {
	return [3][]byte{
		append(appendTime(key(tConv, m.App, m.ConvID), m.Time), m.ID...),
		append(appendTime(key(tFrom, m.App, m.From), m.Time), m.ID...),
		append(appendTime(key(tApp, m.App), m.Time), m.ID...),
	}
}

// splitTimeID reads the time and id that follow prefix in k.
func splitTimeID(k []byte, prefixLen int) (int64, string, error) {
	rest := k[prefixLen:]
	if len(rest) < 8 {
		return 0, "", fmt.Errorf("badger: short key %q", k)
	}
	return int64(binary.BigEndian.Uint64(rest) ^ (1 << 63)), string(rest[8:]), nil
}

// afterPrefix returns a key greater than every key that starts with prefix
// and is not longer than the longest possible key.
func afterPrefix(prefix []byte) []byte {
	k := append([]byte(nil), prefix...)
	for range 9 {
		k = append(k, 0xff)
	}
	return k
}

// msgRecord is the stored form of a storage.Message; App and ID are in
// its key. New fields go at the end.
type msgRecord struct {
	_msgpack struct{} `msgpack:",as_array"`
	From     string
	To       []string
	Room     string
	Text     string
	Time     int64
	Receipt  bool
	FromIP   string
	ConvID   string
}

func encodeMessage(m *storage.Message) ([]byte, error) {
	return msgpack.Marshal(&msgRecord{From: m.From, To: m.To, Room: m.Room, Text: m.Text,
		Time: m.Time, Receipt: m.Receipt, FromIP: m.FromIP, ConvID: m.ConvID})
}

func decodeMessage(app, id string, b []byte) (*storage.Message, error) {
	var r msgRecord
	if err := msgpack.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("badger: decode message %s/%s: %w", app, id, err)
	}
	return &storage.Message{App: app, ID: id, From: r.From, To: r.To, Room: r.Room, Text: r.Text,
		Time: r.Time, Receipt: r.Receipt, FromIP: r.FromIP, ConvID: r.ConvID}, nil
}

// groupRecord is the stored form of a storage.Group; App and ID are in its
// key. Attrs are normalized (storage.NormalizeAttrs) on the way in and out.
type groupRecord struct {
	_msgpack  struct{} `msgpack:",as_array"`
	Members   []string
	Transient bool
	Attrs     map[string]any
	CreatedAt int64 // UnixNano
	UpdatedAt int64 // UnixNano
}

func encodeGroup(g *storage.Group) ([]byte, error) {
	return msgpack.Marshal(&groupRecord{Members: g.Members, Transient: g.Transient, Attrs: g.Attrs,
		CreatedAt: g.CreatedAt.UnixNano(), UpdatedAt: g.UpdatedAt.UnixNano()})
}

func decodeGroup(app, id string, b []byte) (*storage.Group, error) {
	var r groupRecord
	if err := msgpack.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("badger: decode group %s/%s: %w", app, id, err)
	}
	attrs, err := storage.NormalizeAttrs(r.Attrs)
	if err != nil {
		return nil, fmt.Errorf("badger: decode group %s/%s: %w", app, id, err)
	}
	return &storage.Group{App: app, ID: id, Members: r.Members, Transient: r.Transient, Attrs: attrs,
		CreatedAt: time.Unix(0, r.CreatedAt), UpdatedAt: time.Unix(0, r.UpdatedAt)}, nil
}

// uvarint decodes a length prefix: the value and the bytes it took (0 if
// b does not hold one).
func uvarint(b []byte) (n, width int) {
	v, w := binary.Uvarint(b)
	if w <= 0 || v > uint64(len(b)) {
		return 0, 0
	}
	return int(v), w
}

package badger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/rtgate/rtgate/storage"
)

// Key tables; see the package doc for the layout.
const (
	tMessage    = 'm'
	tConv       = 'c'
	tFrom       = 'f'
	tInbox      = 'i'
	tGroup      = 'g'
	tMembership = 'p'
	tGroupOrder = 'o'
	tFormat     = 'v' // the one key "v": the format version
	// tAppV1 was the app-wide history index of format 1; format 2 reads
	// the message records in time order instead.
	tAppV1 = 'a'
)

// key builds a key: the table byte, then length-prefixed strings.
func key(table byte, strs ...string) []byte {
	return keyRoom(0, table, strs...)
}

// keyRoom is key with room for extra more bytes, so that appending a time
// and an id does not reallocate.
func keyRoom(extra int, table byte, strs ...string) []byte {
	n := 1 + extra
	for _, s := range strs {
		n += uvarintLen(len(s)) + len(s)
	}
	return appendKey(make([]byte, 0, n), table, strs...)
}

// keyString returns key(table, strs...) as a string, in one allocation
// (the string's) for the usual short key.
func keyString(table byte, strs ...string) string {
	var buf [128]byte
	return string(appendKey(buf[:0], table, strs...))
}

// appendKey appends key(table, strs...) to b.
func appendKey(b []byte, table byte, strs ...string) []byte {
	b = append(b, table)
	for _, s := range strs {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

// uvarintLen returns the length of n's uvarint encoding.
func uvarintLen(n int) int {
	w := 1
	for ; n >= 0x80; n >>= 7 {
		w++
	}
	return w
}

// timeKey returns key(table, strs...) + time + id in one allocation: the
// shape of every message, history and inbox key.
func timeKey(table byte, t int64, id string, strs ...string) []byte {
	return append(appendTime(keyRoom(8+len(id), table, strs...), t), id...)
}

// appendTime appends t so that keys sort by t, negative times too.
func appendTime(k []byte, t int64) []byte {
	return binary.BigEndian.AppendUint64(k, uint64(t)^(1<<63))
}

// timeID returns prefix + time + id (see timeKey), in one allocation.
func timeID(prefix []byte, t int64, id string) []byte {
	k := appendTime(append(make([]byte, 0, len(prefix)+8+len(id)), prefix...), t)
	return append(k, id...)
}

// messageKey returns the key of the message record app/time/id.
func messageKey(app string, t int64, id string) []byte {
	return timeKey(tMessage, t, id, app)
}

// messageKeys returns m's record key and its keys in the two history
// indexes (by conversation, by sender), one allocation each. The records
// themselves, in time order, are the app-wide history.
func messageKeys(m *storage.Message) [3][]byte {
	return [3][]byte{
		messageKey(m.App, m.Time, m.ID),
		timeKey(tConv, m.Time, m.ID, m.App, m.ConvID),
		timeKey(tFrom, m.Time, m.ID, m.App, m.From),
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

// msgRecord is the stored form of a storage.Message: a msgpack array of
// these fields in this order; App, Time and ID are in its key. Seq and
// Inbox (see lazy.go) came later: a record may end before them, and new
// fields go at the end, so decodeRecord reads any prefix.
type msgRecord struct {
	_msgpack  struct{} `msgpack:",as_array"`
	From      string
	To        []string
	Room      string
	Text      string
	Time      int64
	Receipt   bool
	FromIP    string
	ConvID    string
	Seq       uint64   // delayed entries: the record's sequence number; 0 if none
	Inbox     []string // delayed inbox entries: the peers whose inbox holds it
	ClientID  string   // storage.Message.ClientID; the record ends before it if empty
	ClientSum uint64
}

// The encoding (encodeRecord, sealRecord) is written out by hand; msgRecord
// documents it and decodeRecord reads it.

// recordEncoder encodes message records into a reused buffer.
type recordEncoder struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
}

var recordEncoders = sync.Pool{New: func() any {
	e := &recordEncoder{}
	e.enc = msgpack.NewEncoder(&e.buf)
	return e
}}

// encodeRecord returns m's record in one allocation: its 8 fields (the
// first n bytes, a record by themselves), then, if peers is not empty, seq
// or m has a ClientID, room for Seq and the Inbox peers (nil if none),
// which sealRecord fills in, and then, with a ClientID, ClientID and
// ClientSum.
func encodeRecord(m *storage.Message, peers []string, seq bool) (rec []byte, n int, err error) {
	return appendRecord(nil, m, peers, seq)
}

// appendRecord appends m's record (see encodeRecord) to dst and returns
// the extended buffer: the record is out[len(dst):], and n counts from
// its start.
func appendRecord(dst []byte, m *storage.Message, peers []string, seq bool) (out []byte, n int, err error) {
	e := recordEncoders.Get().(*recordEncoder)
	defer recordEncoders.Put(e)
	e.buf.Reset()
	d := e.enc
	err = errors.Join(d.EncodeArrayLen(8), d.EncodeString(m.From), encodeStrings(d, m.To),
		d.EncodeString(m.Room), d.EncodeString(m.Text), d.EncodeInt(m.Time), d.EncodeBool(m.Receipt),
		d.EncodeString(m.FromIP), d.EncodeString(m.ConvID))
	if err != nil {
		return nil, 0, err
	}
	n = e.buf.Len()
	if len(peers) > 0 || seq || m.ClientID != "" {
		e.buf.Write(make([]byte, 9)) // Seq: 0xcf and 8 bytes, set by sealRecord
		if err := encodeStrings(d, peers); err != nil {
			return nil, 0, err
		}
	}
	if m.ClientID != "" {
		if err := errors.Join(d.EncodeString(m.ClientID), d.EncodeUint(m.ClientSum)); err != nil {
			return nil, 0, err
		}
	}
	if dst == nil {
		return bytes.Clone(e.buf.Bytes()), n, nil
	}
	return append(dst, e.buf.Bytes()...), n, nil
}

// persistBufs recycles the buffers that hold a Persist's record key and
// record: badger copies both into its memtable and log on commit, so
// once the write has returned nothing refers to them.
var persistBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// maxPooledBuf bounds the buffers kept in persistBufs.
const maxPooledBuf = 16 << 10

// sealRecord returns the record to write from rec (from encodeRecord, n
// its 8-field length): the 8 fields alone, or, with delayed entries
// (inbox or history index), all 10 with Seq set to seq. It changes rec in place and may be called again
// on the same rec (an operation may run more than once).
func sealRecord(rec []byte, n int, delayed bool, seq uint64, client bool) []byte {
	if !client && (!delayed || len(rec) == n) {
		rec[0] = 0x90 | 8 // fixarray of 8
		return rec[:n]
	}
	rec[0] = 0x90 | 10
	if client {
		rec[0] = 0x90 | 12
	}
	if !delayed {
		seq = 0
	}
	rec[n] = 0xcf // uint 64
	binary.BigEndian.PutUint64(rec[n+1:], seq)
	return rec
}

// encodeStrings encodes ss as an array of strings; nil as msgpack nil.
func encodeStrings(e *msgpack.Encoder, ss []string) error {
	if ss == nil {
		return e.EncodeNil()
	}
	if err := e.EncodeArrayLen(len(ss)); err != nil {
		return err
	}
	for _, s := range ss {
		if err := e.EncodeString(s); err != nil {
			return err
		}
	}
	return nil
}

// decodeRecord decodes a record of any length into r.
func decodeRecord(b []byte, r *msgRecord) error {
	if err := wholeValue(b); err != nil {
		return err
	}
	d := msgpack.GetDecoder()
	defer msgpack.PutDecoder(d)
	br := bytes.NewReader(b)
	d.Reset(br)
	n, err := d.DecodeArrayLen()
	for i := 0; i < n && err == nil; i++ {
		switch i {
		case 0:
			r.From, err = d.DecodeString()
		case 1:
			r.To, err = decodeStrings(d, br)
		case 2:
			r.Room, err = d.DecodeString()
		case 3:
			r.Text, err = d.DecodeString()
		case 4:
			r.Time, err = d.DecodeInt64()
		case 5:
			r.Receipt, err = d.DecodeBool()
		case 6:
			r.FromIP, err = d.DecodeString()
		case 7:
			r.ConvID, err = d.DecodeString()
		case 8:
			r.Seq, err = d.DecodeUint64()
		case 9:
			r.Inbox, err = decodeStrings(d, br)
		case 10:
			r.ClientID, err = d.DecodeString()
		case 11:
			r.ClientSum, err = d.DecodeUint64()
		default:
			err = d.Skip()
		}
	}
	if err == nil && br.Len() != 0 {
		err = fmt.Errorf("%d bytes after the record", br.Len())
	}
	return err
}

// decodeStrings decodes an array of strings; nil for msgpack nil.
// decodeStrings decodes an array of strings from d, which reads from br
// (unbuffered: a bytes.Reader is an io.ByteScanner). A count larger than
// the bytes left (each string takes at least one) is refused before
// anything is sized by it: a corrupt record must not exhaust memory.
func decodeStrings(d *msgpack.Decoder, br *bytes.Reader) ([]string, error) {
	n, err := d.DecodeArrayLen()
	if err != nil || n < 0 {
		return nil, err
	}
	if n > br.Len() {
		return nil, fmt.Errorf("%w: %d strings declared, %d bytes left", errCorrupt, n, br.Len())
	}
	out := make([]string, n)
	for i := range out {
		if out[i], err = d.DecodeString(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func decodeMessage(app, id string, b []byte) (*storage.Message, error) {
	var r msgRecord
	if err := decodeRecord(b, &r); err != nil {
		return nil, fmt.Errorf("badger: decode message %s/%s: %w", app, id, err)
	}
	return &storage.Message{App: app, ID: id, From: r.From, To: r.To, Room: r.Room, Text: r.Text,
		Time: r.Time, Receipt: r.Receipt, FromIP: r.FromIP, ConvID: r.ConvID,
		ClientID: r.ClientID, ClientSum: r.ClientSum}, nil
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
	if err := wholeValue(b); err != nil {
		return nil, fmt.Errorf("badger: decode group %s/%s: %w", app, id, err)
	}
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

// errCorrupt marks a stored value that does not decode: bytes rtgate did
// not write (a damaged disk, or a tool that wrote into the directory).
var errCorrupt = errors.New("badger: corrupt stored value")

// wholeValue returns an error unless b holds exactly one msgpack value.
// It walks b with skipValue, which sizes nothing by a declared count or
// length, so a corrupt header (an array, map or string that claims
// billions of entries or bytes) is refused before a decoder that does
// size by it (msgpack.Unmarshal, Decoder.DecodeString) sees it.
func wholeValue(b []byte) error {
	rest, err := skipValue(b, 0)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: %d bytes after the value", errCorrupt, len(rest))
	}
	return nil
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

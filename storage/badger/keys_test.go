package badger

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/rtgate/rtgate/storage"
)

var keysSink [3][]byte

func TestMessageKeysAreKeyPlusTimeID(t *testing.T) {
	for _, strs := range [][]string{{"app", "conv", "from"}, {"", "x", ""}, {strings.Repeat("a", 200), "b", strings.Repeat("c", 200)}} {
		for _, ts := range []int64{0, 1, -5, 1 << 40} {
			m := &storage.Message{App: strs[0], ConvID: strs[1], From: strs[2], Time: ts, ID: "id1"}
			want := [3][]byte{
				timeID(key(tMessage, m.App), ts, m.ID),
				timeID(key(tConv, m.App, m.ConvID), ts, m.ID),
				timeID(key(tFrom, m.App, m.From), ts, m.ID),
			}
			got := messageKeys(m)
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("messageKeys(%q, %d)[%d] = %x, want %x", strs, ts, i, got[i], want[i])
				}
				if cap(got[i]) != len(got[i]) {
					t.Errorf("messageKeys(%q, %d)[%d] has capacity %d for %d bytes", strs, ts, i, cap(got[i]), len(got[i]))
				}
			}
			if _, _, ok := parseKeyV1(got[0]); ok && ts >= 0 {
				t.Errorf("format 2 key %x parses as a format 1 key", got[0])
			}
		}
	}
	m := &storage.Message{App: "app", ConvID: "conv", From: "from", Time: 1, ID: strings.Repeat("i", 64)}
	if n := testing.AllocsPerRun(100, func() { keysSink = messageKeys(m) }); n != 3 {
		t.Errorf("messageKeys allocates %v times, want 3", n)
	}
}

func TestParseKeyV1(t *testing.T) {
	for _, c := range [][2]string{{"app", "id"}, {"", ""}, {strings.Repeat("a", 300), "x"}} {
		app, id, ok := parseKeyV1(key(tMessage, c[0], c[1]))
		if !ok || app != c[0] || id != c[1] {
			t.Errorf("parseKeyV1(key(m, %q, %q)) = %q, %q, %v", c[0], c[1], app, id, ok)
		}
	}
	for _, k := range [][]byte{{tMessage}, {tMessage, 5, 'a'}, append(key(tMessage, "app", "id"), 'x')} {
		if _, _, ok := parseKeyV1(k); ok {
			t.Errorf("parseKeyV1(%x) succeeded", k)
		}
	}
}

func TestEncodeMessageRoundTrip(t *testing.T) {
	for _, m := range []*storage.Message{
		{App: "a", ID: "i", From: "f", To: []string{"x", "y"}, Room: "r", Text: "hello", Time: 42, Receipt: true, FromIP: "192.0.2.1", ConvID: "c"},
		{App: "a", ID: "i"},
		{App: "a", ID: "i", Text: strings.Repeat("z", 5120)},
		{App: "a", ID: "i", From: "f", To: []string{"x"}, Text: "hi", Time: 7, ClientID: "client id", ClientSum: 1<<64 - 1},
	} {
		client := m.ClientID != ""
		rec, n, err := encodeRecord(m, []string{"p1", "p2"}, false)
		if err != nil {
			t.Fatal(err)
		}
		// An operation may run again and choose otherwise: seal one way,
		// then the other, then check the first again.
		sealRecord(rec, n, true, 99, client)
		short := sealRecord(rec, n, false, 0, client)
		if !client && !bytes.Equal(short, mustEncode(t, m)) {
			t.Errorf("sealRecord without delay after one with = %x, want encodeMessage's %x", short, mustEncode(t, m))
		}
		var r msgRecord
		if err := decodeRecord(short, &r); err != nil || r.Seq != 0 || r.ClientID != m.ClientID {
			t.Errorf("decodeRecord without delay: seq %d, client id %q, %v; want 0, %q", r.Seq, r.ClientID, err, m.ClientID)
		}
		b := sealRecord(rec, n, true, 7, client)
		if client {
			// The hand-written encoding is what msgpack makes of msgRecord.
			want, err := msgpack.Marshal(&msgRecord{From: m.From, To: m.To, Room: m.Room, Text: m.Text, Time: m.Time,
				Receipt: m.Receipt, FromIP: m.FromIP, ConvID: m.ConvID, Seq: 7, Inbox: []string{"p1", "p2"},
				ClientID: m.ClientID, ClientSum: m.ClientSum})
			if err != nil {
				t.Fatal(err)
			}
			var r1, r2 msgRecord
			if err := msgpack.Unmarshal(b, &r1); err != nil {
				t.Fatalf("msgpack cannot read the record: %v", err)
			}
			if err := msgpack.Unmarshal(want, &r2); err != nil || !reflect.DeepEqual(r1, r2) {
				t.Errorf("record %+v, msgpack's %+v", r1, r2)
			}
		}
		r = msgRecord{}
		if err := decodeRecord(b, &r); err != nil || r.Seq != 7 || strings.Join(r.Inbox, ",") != "p1,p2" {
			t.Errorf("decodeRecord: seq %d, inbox %q, %v; want 7, p1,p2", r.Seq, r.Inbox, err)
		}
		got, err := decodeMessage(m.App, m.ID, b)
		if err != nil {
			t.Fatal(err)
		}
		if got.From != m.From || got.Text != m.Text || got.Time != m.Time || got.Room != m.Room ||
			got.Receipt != m.Receipt || got.FromIP != m.FromIP || got.ConvID != m.ConvID ||
			got.ClientID != m.ClientID || got.ClientSum != m.ClientSum ||
			strings.Join(got.To, ",") != strings.Join(m.To, ",") || (got.To == nil) != (m.To == nil) {
			t.Errorf("round trip of %+v gave %+v", m, got)
		}
	}
}

// TestDecodeRecordBeforeSeq decodes a record written before Seq and Inbox
// existed (8 fields), and rejects trailing garbage.
func TestDecodeRecordBeforeSeq(t *testing.T) {
	type oldRecord struct {
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
	b, err := msgpack.Marshal(&oldRecord{From: "f", To: []string{"t"}, Text: "hi", Time: 9, ConvID: "c"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := decodeMessage("a", "i", b)
	if err != nil || m.From != "f" || m.To[0] != "t" || m.Text != "hi" || m.Time != 9 || m.ConvID != "c" {
		t.Errorf("decodeMessage(old record) = %+v, %v", m, err)
	}
	if _, err := decodeMessage("a", "i", append(b, 0xc0)); err == nil {
		t.Error("decodeMessage accepted a record with trailing bytes")
	}
}

func mustEncode(t *testing.T, m *storage.Message) []byte {
	t.Helper()
	b, err := encodeMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// encodeMessage returns m's record without Seq and Inbox (8 fields), as
// Persist writes it for a message with no delayed inbox entries.
func encodeMessage(m *storage.Message) ([]byte, error) {
	rec, n, err := encodeRecord(m, nil, false)
	return rec[:n], err
}

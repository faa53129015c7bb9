package badger

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/rtgate/rtgate/storage"
)

// The fuzz targets feed the decoders of what Badger holds (a torn write,
// a bad disk or another version may leave anything there) and check that
// they never panic or allocate without bound, and that what they accept
// survives encode→decode unchanged. Seeds are real encodings; run them
// longer with fuzz/run.sh.

// seedMessages are the messages whose records seed FuzzDecodeRecord.
var seedMessages = []*storage.Message{
	{App: "app", ID: "0aZr5Wm2QbLx00", From: "alice", To: []string{"bob"}, Text: "hi", Time: 1415000100000,
		FromIP: "127.0.0.1", ConvID: "bcd26a54e98687390b0abb4d83683d4b"},
	{App: "app", ID: "0aZr5Wm2QbLx01", From: "alice", Room: "g1", Text: "{\"t\":1}", Time: 1, Receipt: true, ConvID: "g1"},
	{App: "app", ID: "0aZr5Wm2QbLx02", From: "x", To: []string{"a", "b", "c"}, Text: "", Time: -5,
		ClientID: "client-1", ClientSum: 42},
}

func FuzzDecodeRecord(f *testing.F) {
	for i, m := range seedMessages {
		rec, n, err := encodeRecord(m, []string{"bob", "carol"}[:i%3], i > 0)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bytes.Clone(sealRecord(bytes.Clone(rec), n, false, 0, false)))
		f.Add(bytes.Clone(sealRecord(rec, n, true, uint64(i+7), m.ClientID != "")))
	}
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff}) // array32 of 4G fields
	f.Fuzz(func(t *testing.T, data []byte) {
		var r msgRecord
		if err := decodeRecord(data, &r); err != nil {
			return
		}
		m, err := decodeMessage("app", "id", data)
		if err != nil {
			t.Fatalf("decodeRecord accepts %x, decodeMessage refuses it: %v", data, err)
		}
		// What was accepted re-encodes to a record that decodes the same.
		rec, n, err := encodeRecord(m, r.Inbox, r.Seq != 0)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", m, err)
		}
		rec = sealRecord(rec, n, r.Seq != 0 || len(r.Inbox) > 0, r.Seq, m.ClientID != "")
		m2, err := decodeMessage("app", "id", rec)
		if err != nil {
			t.Fatalf("re-encoded record %x of %x does not decode: %v", rec, data, err)
		}
		if !sameMessage(m, m2) {
			t.Fatalf("round trip of %x:\n got %+v\nwant %+v", data, m2, m)
		}
	})
}

// sameMessage compares two messages, nil and empty lists alike.
func sameMessage(a, b *storage.Message) bool {
	a2, b2 := *a, *b
	if len(a2.To) == 0 {
		a2.To = nil
	}
	if len(b2.To) == 0 {
		b2.To = nil
	}
	if a2.ClientID == "" { // a sum without an id is not re-encoded
		a2.ClientSum = 0
	}
	return reflect.DeepEqual(a2, b2)
}

func FuzzDecodeGroup(f *testing.F) {
	for _, g := range []*storage.Group{
		{Members: []string{"a", "b"}, CreatedAt: time.Unix(1415000000, 0), UpdatedAt: time.Unix(1415000001, 0)},
		{Transient: true, Attrs: map[string]any{"name": "lobby", "n": 3.0, "tags": []any{"x"}}},
	} {
		b, err := encodeGroup(g)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := decodeGroup("app", "g", data)
		if err != nil {
			return
		}
		b, err := encodeGroup(g)
		if err != nil {
			t.Fatalf("decoded group %+v does not encode: %v", g, err)
		}
		if _, err := decodeGroup("app", "g", b); err != nil {
			t.Fatalf("re-encoded group %x of %x does not decode: %v", b, data, err)
		}
	})
}

// FuzzDecodeKeys covers the key and small-value decoders: format 1
// message keys (always read under their table byte), time/id suffixes,
// history index groups and the inbox checkpoint.
func FuzzDecodeKeys(f *testing.F) {
	f.Add(key(tMessage, "app", "0aZr5Wm2QbLx00")[1:], int64(1415000100000))
	f.Add(messageKey("app", 1415000100000, "0aZr5Wm2QbLx00")[1:], int64(0))
	f.Add(encodeBatch([]idxEntry{{ts: 10, id: "a"}, {ts: 20, id: "bb"}}, 30), int64(30))
	f.Add(checkpoint{first: 3, next: 9, scanFrom: -7, clean: true}.encode(), int64(-1))
	f.Add([]byte{batchVersion, 0xff, 0xff, 0xff, 0xff, 0x0f}, int64(1<<62))
	f.Fuzz(func(t *testing.T, data []byte, ts int64) {
		ts &= 1<<52 - 1 // a key's time: ms since 1970, not negative
		k := append([]byte{tMessage}, data...)
		// (Overlong varints parse too: only our own encoder wrote these.)
		if app, id, ok := parseKeyV1(k); ok {
			if app2, id2, ok := parseKeyV1(key(tMessage, app, id)); !ok || app2 != app || id2 != id {
				t.Fatalf("parseKeyV1(%x) = %q, %q, whose key parses as %q, %q, %v", k, app, id, app2, id2, ok)
			}
		}
		for prefix := 0; prefix <= len(data) && prefix < 4; prefix++ {
			if tm, id, err := splitTimeID(data, prefix); err == nil {
				if got := timeID(data[:prefix:prefix], tm, id); !bytes.Equal(got, data) {
					t.Fatalf("splitTimeID(%x, %d) = %d, %q, which is %x", data, prefix, tm, id, got)
				}
			}
		}
		if ents, err := decodeBatch(nil, data, ts); err == nil {
			for _, e := range ents {
				if e.ts > ts || ts-e.ts > indexSpan {
					t.Fatalf("decodeBatch(%x, %d) gives an entry at %d, outside the group's span", data, ts, e.ts)
				}
			}
		}
		if c, err := decodeCheckpoint(data); err == nil {
			if c2, err := decodeCheckpoint(c.encode()); err != nil || c2 != c {
				t.Fatalf("checkpoint %x decodes to %+v, which re-decodes to %+v, %v", data, c, c2, err)
			}
		}
	})
}

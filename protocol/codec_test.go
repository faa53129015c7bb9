package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
)

func TestLookupKindMatchesKindOf(t *testing.T) {
	for k := KindSessionOpen; k < kindCount; k++ {
		cmd, op := k.Cmd(), k.Op()
		if got := lookupKind([]byte(cmd), []byte(op)); got != k || KindOf(cmd, op) != k {
			t.Errorf("lookupKind(%q, %q) = %v, KindOf = %v, want %v", cmd, op, got, KindOf(cmd, op), k)
		}
	}
	for _, p := range [][2]string{{"", ""}, {"session", ""}, {"room", "x"}, {"Direct", ""}, {"direct", "x"}, {"data", ""}} {
		if got, want := lookupKind([]byte(p[0]), []byte(p[1])), KindOf(p[0], p[1]); got != want {
			t.Errorf("lookupKind(%q, %q) = %v, KindOf = %v", p[0], p[1], got, want)
		}
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindKeepalive: "{}", KindUnknown: "unknown", KindSessionQueryResult: "sessionquery-result", KindAck: "ack", kindCount: "unknown"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", k, got, want)
		}
	}
}

// replaceInvalid replaces each invalid UTF-8 byte with U+FFFD, as the
// codecs (and encoding/json) do.
func replaceInvalid(s string) string { return string(appendValidUTF8(nil, []byte(s))) }

func TestJSONStringEscaping(t *testing.T) {
	for _, s := range []string{
		"", "plain", `quote " backslash \ slash /`, "\x00\x01\x1f\x7f", "\b\f\n\r\t",
		"\u2028\u2029", "你好 😀 é", "bad \xff byte", "truncated \xe4\xbd", "\xed\xa0\x80 surrogate bytes",
		"<script>&amp;</script>", strings.Repeat("x", 300),
	} {
		enc := jsonAppendString(nil, s)
		var back string
		if err := json.Unmarshal(enc, &back); err != nil {
			t.Fatalf("%q encoded as invalid JSON %s: %v", s, enc, err)
		}
		if want := replaceInvalid(s); back != want {
			t.Errorf("%q: round trip %q, want %q", s, back, want)
		}
		for _, b := range enc {
			if b < 0x20 {
				t.Errorf("%q: raw control byte in %q", s, enc)
			}
		}
		if bytes.Contains(enc, []byte("\u2028")) || bytes.Contains(enc, []byte("\u2029")) {
			t.Errorf("%q: raw U+2028/2029 in %q", s, enc)
		}
		// Our decoder reads what encoding/json writes the same way.
		std, _ := json.Marshal(s)
		var c Command
		if err := DecodeJSON([]byte(`{"cmd":"direct","msg":`+string(std)+`}`), &c); err != nil || c.Msg != replaceInvalid(s) {
			t.Errorf("%q: DecodeJSON of %s = %q, %v", s, std, c.Msg, err)
		}
	}
}

func TestDecodeReplacesInvalidUTF8(t *testing.T) {
	var c Command
	if err := DecodeJSON([]byte("{\"cmd\":\"direct\",\"msg\":\"a\xffb\xe4\xbd\"}"), &c); err != nil || c.Msg != "a\uFFFDb\uFFFD\uFFFD" {
		t.Fatalf("JSON: %q, %v", c.Msg, err)
	}
	data := AppendMsgpack(nil, &Command{Kind: KindDirect, Msg: "a\xffb"})
	if err := DecodeMsgpack(data, &c); err != nil || c.Msg != "a\uFFFDb" {
		t.Fatalf("msgpack: %q, %v", c.Msg, err)
	}
}

// TestPeerIDsKeepInvalidUTF8: the peer id fields a client sends keep
// invalid UTF-8 (and JSON lone surrogates) as it is, so that CheckPeerID
// refuses "u\xff" instead of both "u\xff" and "u\xfe" becoming "u\uFFFD"
// (issue 15, defect 7). Other strings are still repaired.
func TestPeerIDsKeepInvalidUTF8(t *testing.T) {
	in := Command{Kind: KindDirect, PeerID: "u\xff", ToPeerIDs: []string{"v\xfe", "w"}, Msg: "m\xff"}
	var fromJSON, fromMsgpack Command
	j := []byte("{\"cmd\":\"direct\",\"peerId\":\"u\xff\",\"toPeerIds\":[\"v\xfe\",\"w\"],\"msg\":\"m\xff\"}")
	if err := DecodeJSON(j, &fromJSON); err != nil {
		t.Fatal(err)
	}
	if err := DecodeMsgpack(AppendMsgpack(nil, &in), &fromMsgpack); err != nil {
		t.Fatal(err)
	}
	for codec, c := range map[string]Command{"json": fromJSON, "msgpack": fromMsgpack} {
		if c.PeerID != "u\xff" || len(c.ToPeerIDs) != 2 || c.ToPeerIDs[0] != "v\xfe" || c.Msg != "m\uFFFD" {
			t.Errorf("%s: %+v", codec, c)
		}
		if err := CheckPeerID(c.PeerID); !errors.Is(err, ErrBadPeerID) {
			t.Errorf("%s: CheckPeerID(%q) = %v", codec, c.PeerID, err)
		}
	}
	var c Command
	if err := DecodeJSON([]byte(`{"cmd":"session","op":"open","peerId":"u\udcff","sessionPeerIds":["\ud800x"]}`), &c); err != nil {
		t.Fatal(err)
	}
	if CheckPeerID(c.PeerID) == nil || CheckPeerID(c.SessionPeerIDs[0]) == nil || c.PeerID == "u\uFFFD" {
		t.Fatalf("lone surrogates: %q %q", c.PeerID, c.SessionPeerIDs)
	}
}

func TestCheckPeerID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"alice", true},
		{"用户-1_x.y@z", true},
		{strings.Repeat("x", MaxPeerIDLen), true},
		{"", false},
		{strings.Repeat("x", MaxPeerIDLen+1), false},
		{"u\xff", false},
		{"cq:cr", false},
		{":", false},
		{"eve:", false},
	} {
		err := CheckPeerID(tc.id)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrBadPeerID)) {
			t.Errorf("CheckPeerID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
	}
}

func TestAlwaysPresentLists(t *testing.T) {
	lists := []string{"sessionPeerIds", "onlineSessionPeerIds", "roomPeerIds", "toPeerIds", "ids"}
	want := map[Kind]string{
		KindSessionOpened: "onlineSessionPeerIds", KindSessionAdded: "onlineSessionPeerIds", KindSessionQueryResult: "onlineSessionPeerIds",
		KindPresence:    "sessionPeerIds",
		KindRoomInvited: "roomPeerIds", KindRoomKicked: "roomPeerIds", KindRoomMembersJoined: "roomPeerIds",
		KindRoomMembersLeft: "roomPeerIds", KindRoomReject: "roomPeerIds",
	}
	for k := KindSessionOpen; k < kindCount; k++ {
		c := Command{Kind: k}
		var fromJSON, fromMsgpack map[string]any
		if err := json.Unmarshal(AppendJSON(nil, &c), &fromJSON); err != nil {
			t.Fatal(err)
		}
		if err := msgpack.Unmarshal(AppendMsgpack(nil, &c), &fromMsgpack); err != nil {
			t.Fatal(err)
		}
		for _, l := range lists {
			for codec, m := range map[string]map[string]any{"json": fromJSON, "msgpack": fromMsgpack} {
				v, present := m[l]
				if present != (want[k] == l) {
					t.Errorf("%s %v: %s present=%v", codec, k, l, present)
				}
				if present && reflect.ValueOf(v).Len() != 0 {
					t.Errorf("%s %v: %s = %v, want empty", codec, k, l, v)
				}
			}
		}
	}
}

func TestSigTimeSpelling(t *testing.T) {
	for _, tc := range []struct{ sigTime, json string }{
		{"1415000000", `"t":1415000000`},
		{"0", `"t":0`},
		{"18446744073709551615", `"t":18446744073709551615`},
		{"18446744073709551616", `"t":"18446744073709551616"`},
		{"01", `"t":"01"`},
		{"-1", `"t":"-1"`},
		{"1.5", `"t":"1.5"`},
		{"", `{"cmd":"session","op":"open"}`},
	} {
		c := Command{Kind: KindSessionOpen, SigTime: tc.sigTime}
		enc := AppendJSON(nil, &c)
		if !bytes.Contains(enc, []byte(tc.json)) {
			t.Errorf("SigTime %q: %s does not contain %s", tc.sigTime, enc, tc.json)
		}
		for name, dec := range map[string]func([]byte, *Command) error{"json": DecodeJSON, "msgpack": DecodeMsgpack} {
			data := enc
			if name == "msgpack" {
				data = AppendMsgpack(nil, &c)
			}
			var back Command
			if err := dec(data, &back); err != nil || back.SigTime != tc.sigTime {
				t.Errorf("%s: SigTime %q came back as %q, %v", name, tc.sigTime, back.SigTime, err)
			}
		}
	}
}

// full is a command with every field set (not a real kind's shape).
var full = Command{
	Kind: KindDirect, PeerID: "p", AppID: "a", I: 9, InstallationID: "inst",
	SessionPeerIDs: []string{"s"}, OnlineSessionPeerIDs: []string{"o"}, Sig: "sig", SigTime: "12", Nonce: "n",
	SuperPeer: true, Status: StatusOn, Msg: "m", ToPeerIDs: []string{"t1", "t2"}, FromPeerID: "f", RoomID: "r",
	Transient: true, Receipt: true, Offline: true, Timestamp: -5, ID: "id", IDs: []string{"i"}, HasIDs: true,
	UID: "u", RoomPeerIDs: []string{"rp"}, ByPeerID: "b", Count: 70000, Code: 4109, Reason: "why",
}

func TestEveryFieldRoundTrips(t *testing.T) {
	m := AppendMsgpack(nil, &full)
	if m[0] != mpMap16 {
		t.Fatalf("%d fields: header %#x, want map16", 28, m[0])
	}
	var lib map[string]any
	if err := msgpack.Unmarshal(m, &lib); err != nil || len(lib) != 28 {
		t.Fatalf("library reads %d keys, %v", len(lib), err)
	}
	for name, codec := range map[string]struct {
		enc func([]byte, *Command) []byte
		dec func([]byte, *Command) error
	}{"json": {AppendJSON, DecodeJSON}, "msgpack": {AppendMsgpack, DecodeMsgpack}} {
		var back Command
		if err := codec.dec(codec.enc([]byte("junk"), &full)[4:], &back); err != nil || !reflect.DeepEqual(back, full) {
			t.Errorf("%s: got %+v, %v", name, back, err)
		}
	}
}

func TestDecodeOverwritesAndDoesNotAlias(t *testing.T) {
	data := []byte(`{"cmd":"ack","peerId":"bob","ids":["x"]}`)
	c := full
	if err := DecodeJSON(data, &c); err != nil {
		t.Fatal(err)
	}
	want := Command{Kind: KindAck, PeerID: "bob", IDs: []string{"x"}, HasIDs: true}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v", c)
	}
	copy(data, bytes.Repeat([]byte("z"), len(data)))
	if c.PeerID != "bob" || c.IDs[0] != "x" {
		t.Fatal("decoded strings alias the input")
	}
	mp := AppendMsgpack(nil, &want)
	c = full
	if err := DecodeMsgpack(mp, &c); err != nil || !reflect.DeepEqual(c, want) {
		t.Fatalf("msgpack: %+v, %v", c, err)
	}
}

func TestUnknownCommandKeepsFields(t *testing.T) {
	var c Command
	err := DecodeJSON([]byte(`{"cmd":"session","op":"teleport","peerId":"alice","i":42}`), &c)
	if !errors.Is(err, ErrUnknownCommand) || c.Kind != KindUnknown || c.I != 42 || c.PeerID != "alice" {
		t.Fatalf("got %+v, %v", c, err)
	}
	long := `{"cmd":"` + strings.Repeat("s", 5000) + `","i":1}`
	if err := DecodeJSON([]byte(long), &c); !errors.Is(err, ErrUnknownCommand) || len(err.Error()) > 200 {
		t.Fatalf("long cmd: %v", err)
	}
}

func TestEncodeUnknownKindIsEmpty(t *testing.T) {
	for _, k := range []Kind{KindUnknown, kindCount, 200} {
		c := Command{Kind: k, PeerID: "x"}
		if got := string(AppendJSON(nil, &c)); got != "{}" {
			t.Errorf("%d: %s", k, got)
		}
		if got := AppendMsgpack(nil, &c); !bytes.Equal(got, []byte{0x80}) {
			t.Errorf("%d: %x", k, got)
		}
	}
}

func TestDecodedStringsAreValidUTF8(t *testing.T) {
	var c Command
	_ = DecodeJSON([]byte("{\"cmd\":\"direct\",\"msg\":\"\\udc00\\ud800\\ud800\\udc00\"}"), &c)
	if !utf8.ValidString(c.Msg) || c.Msg != "\uFFFD\uFFFD\U00010000" {
		t.Fatalf("%q", c.Msg)
	}
}

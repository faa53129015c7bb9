package protocol

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// writeMsgpackVectors regenerates spec/vectors/msgpack.json: every
// encode-and-decode JSON vector encoded with AppendMsgpack, then
// decode-only quirks encoded by vmihailenco/msgpack (so they use encodings
// our encoder never writes), then malformed inputs written by hand.
func writeMsgpackVectors(t *testing.T) {
	var out []vector
	for _, v := range loadVectors(t, "v1-json.json") {
		if v.JSON == nil || v.Error != "" || v.DecodeOnly {
			continue
		}
		c := v.want(t)
		out = append(out, vector{Name: v.Name, Kind: v.Kind, Hex: hex.EncodeToString(AppendMsgpack(nil, &c)), Command: v.Command})
	}
	quirk := func(name, kind string, m map[string]any, command string) {
		out = append(out, vector{Name: name, Kind: kind, Hex: hex.EncodeToString(libEncode(t, m)),
			Command: json.RawMessage(command), DecodeOnly: true})
	}
	quirk("integers in wide encodings (int64, uint16)", "ackreq",
		map[string]any{"cmd": "ackreq", "peerId": "bob", "c": int64(3), "i": uint16(7)},
		`{"cmd":"ackreq","peerId":"bob","c":3,"i":7}`)
	quirk("integers as integral float64 (JS encoders)", "direct",
		map[string]any{"cmd": "direct", "peerId": "bob", "fromPeerId": "alice", "msg": "hi", "id": "m", "timestamp": float64(1415000123456), "i": float64(2)},
		`{"cmd":"direct","peerId":"bob","fromPeerId":"alice","msg":"hi","id":"m","timestamp":1415000123456,"i":2}`)
	quirk("t as a string", "sessionopen",
		map[string]any{"cmd": "session", "op": "open", "peerId": "alice", "appId": "APPID", "t": "1415000000", "n": "48213", "s": "ab"},
		`{"cmd":"session","op":"open","peerId":"alice","appId":"APPID","t":"1415000000","s":"ab","n":"48213"}`)
	quirk("t as float64", "roomjoin",
		map[string]any{"cmd": "room", "op": "join", "peerId": "alice", "t": float64(1415000000), "n": "1", "s": "ab"},
		`{"cmd":"room","op":"join","peerId":"alice","t":"1415000000","s":"ab","n":"1"}`)
	quirk("t with a fraction keeps its decimal text", "roomjoin",
		map[string]any{"cmd": "room", "op": "join", "peerId": "alice", "t": 1415000000.5},
		`{"cmd":"room","op":"join","peerId":"alice","t":"1415000000.5"}`)
	quirk("n as an integer", "sessionadd",
		map[string]any{"cmd": "session", "op": "add", "peerId": "alice", "sessionPeerIds": []string{"dave"}, "t": int64(1415000100), "n": int64(7781), "s": "ab"},
		`{"cmd":"session","op":"add","peerId":"alice","sessionPeerIds":["dave"],"t":"1415000100","s":"ab","n":"7781"}`)
	quirk("ack t as int64", "ack",
		map[string]any{"cmd": "ack", "peerId": "alice", "uid": "u", "t": int64(1415000123456), "i": int64(7)},
		`{"cmd":"ack","peerId":"alice","uid":"u","t":1415000123456,"i":7}`)
	quirk("r as 1", "direct",
		map[string]any{"cmd": "direct", "peerId": "alice", "toPeerIds": []string{"bob"}, "msg": "hi", "r": int64(1)},
		`{"cmd":"direct","peerId":"alice","toPeerIds":["bob"],"msg":"hi","r":true}`)
	quirk("ids with nil entries", "ack",
		map[string]any{"cmd": "ack", "peerId": "bob", "ids": []any{nil, "kQ3x9Rz1", nil}},
		`{"cmd":"ack","peerId":"bob","ids":["kQ3x9Rz1"]}`)
	quirk("nil fields are absent", "direct",
		map[string]any{"cmd": "direct", "peerId": "alice", "appId": nil, "toPeerIds": []string{"bob"}, "msg": "hi", "i": nil, "ids": nil, "transient": nil},
		`{"cmd":"direct","peerId":"alice","toPeerIds":["bob"],"msg":"hi"}`)
	quirk("unknown fields of every type are skipped", "sessionopen",
		map[string]any{"cmd": "session", "op": "open", "peerId": "alice", "appId": "APPID",
			"ua": "go/1", "bin": []byte{1, 2, 3}, "ext": time.Unix(1415000000, 0).UTC(), "f32": float32(1.5),
			"nested": map[string]any{"a": []any{int64(-1), true, false, nil, map[string]any{"b": "c"}}}},
		`{"cmd":"session","op":"open","peerId":"alice","appId":"APPID"}`)
	quirk("map without cmd is a keepalive", "{}",
		map[string]any{"peerId": "alice", "i": int64(1)}, `{}`)

	raw := func(name, kind, hexText, command string) {
		out = append(out, vector{Name: name, Kind: kind, Hex: strings.ReplaceAll(hexText, " ", ""),
			Command: json.RawMessage(command), DecodeOnly: true})
	}
	raw("map16 header, str8 key and value", "ackreq",
		"de0002 d903636d64 d90661636b726571 a6706565724964 a3626f62", `{"cmd":"ackreq","peerId":"bob"}`)
	raw("negative fixint and int8 i", "sessionclosed",
		"83 a3636d64 a773657373696f6e a26f70 a6636c6f736564 a169 d080", `{"cmd":"session","op":"closed","i":-128}`)

	bad := func(name, class, hexText string) {
		out = append(out, vector{Name: name, Hex: strings.ReplaceAll(hexText, " ", ""), Error: class})
	}
	bad("empty input", "malformed", "")
	bad("nil is not a map", "malformed", "c0")
	bad("array is not a map", "malformed", "90")
	bad("string is not a map", "malformed", "a3616263")
	bad("truncated map", "malformed", "81 a3636d64")
	bad("data after the map", "malformed", "80 00")
	bad("map count beyond the end", "malformed", "df ffffffff")
	bad("array count beyond the end", "malformed", "82 a3636d64 a361636b a3696473 dd ffffffff")
	bad("str length beyond the end", "malformed", "81 a3636d64 db 7fffffff 61")
	bad("key not a string", "malformed", "81 01 01")
	bad("never-used format byte in an unknown field", "malformed", "82 a3636d64 a361636b a178 c1")
	bad("nesting too deep in an unknown field", "malformed", "82 a3636d64 a361636b a178 "+strings.Repeat("91", 100)+"90")
	bad("unknown cmd", "unknown", "82 a3636d64 a464617461 a3696473 91 a26d31")
	bad("unknown op", "unknown", "82 a3636d64 a773657373696f6e a26f70 a5626f677573")
	bad("cmd not a string", "malformed", "81 a3636d64 01")
	bad("peerId not a string", "malformed", "82 a3636d64 a6646972656374 a6706565724964 2a")
	bad("msg as bin", "malformed", "82 a3636d64 a6646972656374 a36d7367 c4026869")
	bad("transient as an integer", "malformed", "82 a3636d64 a6646972656374 a97472616e7369656e74 01")
	bad("i over int64", "malformed", "82 a3636d64 a361636b a169 cfffffffffffffffff")
	bad("i with a fraction", "malformed", "82 a3636d64 a361636b a169 cb3ff8000000000000")
	bad("ack t as a string", "malformed", "82 a3636d64 a361636b a174 a3313233")
	bad("toPeerIds with an integer", "malformed", "82 a3636d64 a6646972656374 a9746f5065657249 6473 92 a3626f62 01")

	data, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vectorDir, "msgpack.json"), append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// libEncode encodes v with vmihailenco/msgpack, map keys sorted.
func libEncode(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.SetSortMapKeys(true)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

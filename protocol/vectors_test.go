package protocol

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// The golden vectors live in spec/vectors, where SDK authors find them.
// v1-json.json is written by hand from reference/protocol-v1.md; the
// encode-and-decode half of msgpack.json is generated from it with
//
//	go test ./protocol -run TestMsgpackVectors -update-vectors
//
// and checked against an independent msgpack implementation on every run.

var updateVectors = flag.Bool("update-vectors", false, "rewrite spec/vectors/msgpack.json")

const vectorDir = "../spec/vectors"

// vector is one golden case. Exactly one of JSON and Hex is used per file.
// Without Error the case decodes to Command, the command by its wire names
// as a decoder gives it (commandFromWire); without DecodeOnly, encoding
// Command gives the bytes back exactly.
type vector struct {
	Name       string          `json:"name"`
	Kind       string          `json:"kind,omitempty"`
	JSON       *string         `json:"json,omitempty"`
	Hex        string          `json:"hex,omitempty"`
	Command    json.RawMessage `json:"command,omitempty"`
	DecodeOnly bool            `json:"decodeOnly,omitempty"`
	Error      string          `json:"error,omitempty"` // "malformed" or "unknown"
}

func loadVectors(t testing.TB, name string) []vector {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(vectorDir, name))
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(data, &vs); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return vs
}

func kindByName(t testing.TB, name string) Kind {
	t.Helper()
	for k := KindUnknown; k < kindCount; k++ {
		if k.String() == name {
			return k
		}
	}
	t.Fatalf("vector kind %q names no Kind", name)
	return 0
}

// wireFields maps the wire names of a vector's command to the Command
// fields they fill; cmd, op, t and ids have rules of their own
// (commandFromWire). Written out here, not taken from the codec under
// test.
var wireFields = map[string]string{
	"peerId": "PeerID", "appId": "AppID", "installationId": "InstallationID",
	"sessionPeerIds": "SessionPeerIDs", "onlineSessionPeerIds": "OnlineSessionPeerIDs",
	"status": "Status", "fromPeerId": "FromPeerID", "toPeerIds": "ToPeerIDs", "roomId": "RoomID",
	"roomPeerIds": "RoomPeerIDs", "byPeerId": "ByPeerID", "msg": "Msg", "id": "ID", "uid": "UID",
	"timestamp": "Timestamp", "s": "Sig", "n": "Nonce", "sp": "SuperPeer", "transient": "Transient",
	"r": "Receipt", "offline": "Offline", "c": "Count", "code": "Code", "reason": "Reason", "i": "I",
}

// commandFromWire returns the Command a vector's command describes: a
// JSON object by wire names, as a decoder gives it (cmd and op; t as text
// on session and room commands, where it is the signature time, and as a
// number of milliseconds on ack and rcp; n as text; an absent field is
// zero; ids present, even empty, sets HasIDs). Its cmd and op must make
// the vector's kind.
func commandFromWire(t testing.TB, kind string, command json.RawMessage) Command {
	t.Helper()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(command, &fields); err != nil {
		t.Fatalf("command: %v", err)
	}
	var c Command
	rv := reflect.ValueOf(&c).Elem()
	var cmd, op string
	for k, raw := range fields {
		var dst any
		switch k {
		case "cmd":
			dst = &cmd
		case "op":
			dst = &op
		case "t":
			dst = &c.Time
			if len(raw) > 0 && raw[0] == '"' {
				dst = &c.SigTime
			}
		case "ids":
			dst, c.HasIDs = &c.IDs, true
		default:
			name, ok := wireFields[k]
			if !ok {
				t.Fatalf("command: unknown wire name %q", k)
			}
			dst = rv.FieldByName(name).Addr().Interface()
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatalf("command: %s: %v", k, err)
		}
	}
	got := cmd
	switch {
	case cmd == "":
		got = "{}"
	case cmd == "session" || cmd == "room":
		got = cmd + op
	}
	if got != kind {
		t.Fatalf("command: cmd %q and op %q make kind %q, the vector says %q", cmd, op, got, kind)
	}
	c.Kind = kindByName(t, kind)
	normalize(&c)
	return c
}

// want returns the Command a vector describes.
func (v vector) want(t testing.TB) Command {
	t.Helper()
	return commandFromWire(t, v.Kind, v.Command)
}

// normalize turns empty lists into nil: the decoders never return empty
// non-nil lists, and the encoders treat both alike.
func normalize(c *Command) {
	for _, l := range []*[]string{&c.SessionPeerIDs, &c.OnlineSessionPeerIDs, &c.ToPeerIDs, &c.IDs, &c.RoomPeerIDs} {
		if len(*l) == 0 {
			*l = nil
		}
	}
}

func checkErrorClass(t *testing.T, err error, class string, c *Command) {
	t.Helper()
	switch class {
	case "malformed":
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("err = %v, want ErrMalformed", err)
		}
	case "unknown":
		if !errors.Is(err, ErrUnknownCommand) {
			t.Fatalf("err = %v, want ErrUnknownCommand", err)
		}
		if c.Kind != KindUnknown {
			t.Fatalf("Kind = %v, want KindUnknown", c.Kind)
		}
	default:
		t.Fatalf("vector error class %q", class)
	}
}

func TestJSONVectors(t *testing.T) {
	seen := map[Kind]bool{}
	for _, v := range loadVectors(t, "v1-json.json") {
		t.Run(v.Name, func(t *testing.T) {
			if v.JSON == nil {
				t.Fatal("vector without json")
			}
			var got Command
			err := DecodeJSON([]byte(*v.JSON), &got)
			if v.Error != "" {
				checkErrorClass(t, err, v.Error, &got)
				return
			}
			if err != nil {
				t.Fatalf("DecodeJSON: %v", err)
			}
			want := v.want(t)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("DecodeJSON:\n got %+v\nwant %+v", got, want)
			}
			if v.DecodeOnly {
				return
			}
			seen[want.Kind] = true
			enc := AppendJSON(nil, &want)
			if string(enc) != *v.JSON {
				t.Fatalf("AppendJSON:\n got %s\nwant %s", enc, *v.JSON)
			}
			if !json.Valid(enc) {
				t.Fatalf("AppendJSON wrote invalid JSON: %s", enc)
			}
		})
	}
	for k := KindKeepalive; k < kindCount; k++ {
		if !seen[k] {
			t.Errorf("no encode+decode vector for kind %v", k)
		}
	}
}

func TestMsgpackVectors(t *testing.T) {
	if *updateVectors {
		writeMsgpackVectors(t)
	}
	jsonByName := map[string]string{}
	for _, v := range loadVectors(t, "v1-json.json") {
		if v.JSON != nil && v.Error == "" && !v.DecodeOnly {
			jsonByName[v.Name] = *v.JSON
		}
	}
	seen := map[Kind]bool{}
	for _, v := range loadVectors(t, "msgpack.json") {
		t.Run(v.Name, func(t *testing.T) {
			data, err := hex.DecodeString(v.Hex)
			if err != nil {
				t.Fatal(err)
			}
			var got Command
			err = DecodeMsgpack(data, &got)
			if v.Error != "" {
				checkErrorClass(t, err, v.Error, &got)
				return
			}
			if err != nil {
				t.Fatalf("DecodeMsgpack: %v", err)
			}
			want := v.want(t)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("DecodeMsgpack:\n got %+v\nwant %+v", got, want)
			}
			// An independent implementation must read the same map as
			// the JSON vector of the same name.
			if j, ok := jsonByName[v.Name]; ok {
				if a, b := canonicalFromMsgpack(t, data), canonicalFromJSON(t, []byte(j)); a != b {
					t.Fatalf("msgpack and JSON vectors differ:\nmsgpack %s\n   json %s", a, b)
				}
			}
			if v.DecodeOnly {
				return
			}
			seen[want.Kind] = true
			if enc := AppendMsgpack(nil, &want); !bytes.Equal(enc, data) {
				t.Fatalf("AppendMsgpack:\n got %x\nwant %x", enc, data)
			}
		})
	}
	for k := KindKeepalive; k < kindCount; k++ {
		if !seen[k] {
			t.Errorf("no encode+decode msgpack vector for kind %v", k)
		}
	}
}

// canonicalFromMsgpack decodes data with vmihailenco/msgpack into generic
// values and returns their JSON with sorted keys.
func canonicalFromMsgpack(t testing.TB, data []byte) string {
	t.Helper()
	var m map[string]any
	if err := msgpack.Unmarshal(data, &m); err != nil {
		t.Fatalf("msgpack.Unmarshal: %v", err)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return canonicalFromJSON(t, b)
}

func canonicalFromJSON(t testing.TB, data []byte) string {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("json: %v", err)
	}
	b, err := json.Marshal(m) // map keys are sorted
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

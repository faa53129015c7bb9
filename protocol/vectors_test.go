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
// Without Error the case decodes to Command (Go field names, Kind from
// Kind); without DecodeOnly, encoding Command gives the bytes back exactly.
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

// want returns the Command a vector describes.
func (v vector) want(t testing.TB) Command {
	t.Helper()
	var c Command
	dec := json.NewDecoder(bytes.NewReader(v.Command))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("%s: command: %v", v.Name, err)
	}
	c.Kind = kindByName(t, v.Kind)
	normalize(&c)
	return c
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

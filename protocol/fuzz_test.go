package protocol

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// The fuzz targets are seeded from the golden vectors. Each checks that the
// decoder never panics, fails only with the sentinel errors, and that
// whatever it accepts survives encode→decode in both codecs unchanged.

func FuzzDecodeJSON(f *testing.F) {
	for _, v := range loadVectors(f, "v1-json.json") {
		f.Add([]byte(*v.JSON))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Command
		err := DecodeJSON(data, &c)
		if err != nil {
			if errors.Is(err, ErrUnknownCommand) {
				if !json.Valid(data) {
					t.Fatalf("unknown command reported for invalid JSON %q", data)
				}
				return
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			// Valid JSON objects may only fail on field types or depth.
			if json.Valid(data) && bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("{")) &&
				!strings.Contains(err.Error(), "field") && !strings.Contains(err.Error(), "nesting") {
				t.Fatalf("valid JSON %q rejected: %v", data, err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		checkRoundTrips(t, &c)
	})
}

func FuzzDecodeMsgpack(f *testing.F) {
	for _, v := range loadVectors(f, "msgpack.json") {
		b, err := hex.DecodeString(v.Hex)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Command
		err := DecodeMsgpack(data, &c)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownCommand) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		checkRoundTrips(t, &c)
	})
}

// checkRoundTrips encodes a decoded command with both codecs and decodes it
// back; the result must equal c.
func checkRoundTrips(t *testing.T, c *Command) {
	t.Helper()
	j := AppendJSON(nil, c)
	if !json.Valid(j) {
		t.Fatalf("AppendJSON wrote invalid JSON %q for %+v", j, c)
	}
	var cj Command
	if err := DecodeJSON(j, &cj); err != nil {
		t.Fatalf("DecodeJSON(AppendJSON(%+v)) = %v; json %s", c, err, j)
	}
	// JSON cannot carry invalid UTF-8: the encoder writes U+FFFD for the
	// bytes a peer id field kept (msgpack carries them as they are).
	if want := repairedPeerIDs(c); !reflect.DeepEqual(want, cj) {
		t.Fatalf("JSON round trip:\n got %+v\nwant %+v\njson %s", cj, want, j)
	}
	m := AppendMsgpack(nil, c)
	var cm Command
	if err := DecodeMsgpack(m, &cm); err != nil {
		t.Fatalf("DecodeMsgpack(AppendMsgpack(%+v)) = %v; hex %x", c, err, m)
	}
	if !reflect.DeepEqual(*c, cm) {
		t.Fatalf("msgpack round trip:\n got %+v\nwant %+v\nhex %x", cm, *c, m)
	}
}

func FuzzFrameReader(f *testing.F) {
	var stream []byte
	for _, v := range loadVectors(f, "msgpack.json") {
		b, _ := hex.DecodeString(v.Hex)
		stream = AppendFrame(stream, b)
		f.Add(AppendFrame(nil, b), uint16(64))
	}
	f.Add(stream, uint16(0))
	f.Add([]byte{0xc0, 0, 0, 0, 0, 0, 0, 0xff}, uint16(100))
	f.Add([]byte{0x40, 0x05, 1, 2, 3, 4, 5}, uint16(4))
	f.Fuzz(func(t *testing.T, data []byte, max uint16) {
		whole, errWhole := readAllFrames(bytes.NewReader(data), int(max))
		bytewise, errBytes := readAllFrames(iotest.OneByteReader(bytes.NewReader(data)), int(max))
		if !reflect.DeepEqual(whole, bytewise) || !sameErrClass(errWhole, errBytes) {
			t.Fatalf("chunking changed the result: %d frames (%v) vs %d (%v)", len(whole), errWhole, len(bytewise), errBytes)
		}
		limit := int(max)
		if limit <= 0 {
			limit = DefaultMaxFrameBytes
		}
		var again []byte
		for _, fr := range whole {
			if len(fr) > limit {
				t.Fatalf("frame of %d bytes over the limit %d", len(fr), limit)
			}
			again = AppendFrame(again, fr)
			var c Command
			_ = DecodeMsgpack(fr, &c)
		}
		reread, err := readAllFrames(bytes.NewReader(again), int(max))
		if err != io.EOF || !reflect.DeepEqual(reread, whole) {
			t.Fatalf("re-framed stream reads back differently: %v", err)
		}
	})
}

// readAllFrames reads frames until an error and returns copies of them.
func readAllFrames(r io.Reader, max int) ([][]byte, error) {
	fr := NewFrameReader(r, max)
	var out [][]byte
	for {
		b, err := fr.ReadFrame()
		if err != nil {
			return out, err
		}
		out = append(out, append([]byte{}, b...))
	}
}

func sameErrClass(a, b error) bool {
	return errors.Is(a, ErrFrameTooLarge) == errors.Is(b, ErrFrameTooLarge) &&
		(a == io.EOF) == (b == io.EOF) &&
		errors.Is(a, io.ErrUnexpectedEOF) == errors.Is(b, io.ErrUnexpectedEOF)
}

// repairedPeerIDs returns c with invalid UTF-8 in its peer id fields
// replaced by U+FFFD, as the JSON encoder writes them.
func repairedPeerIDs(c *Command) Command {
	r := *c
	fix := func(l []string) []string {
		if l == nil {
			return nil
		}
		out := make([]string, len(l))
		for i, s := range l {
			out[i] = replaceInvalid(s)
		}
		return out
	}
	r.PeerID = replaceInvalid(c.PeerID)
	r.SessionPeerIDs = fix(c.SessionPeerIDs)
	r.ToPeerIDs = fix(c.ToPeerIDs)
	r.RoomPeerIDs = fix(c.RoomPeerIDs)
	return r
}

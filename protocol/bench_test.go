package protocol

import (
	"bytes"
	"encoding/json"
	"testing"
)

// Benchmarks of the hot paths: the server encodes every inbound direct once
// per recipient connection and decodes every client frame once.
//
//	go test -run '^$' -bench . -benchmem ./protocol

// benchDirect is an inbound direct as the server sends it to a recipient.
var benchDirect = Command{
	Kind: KindDirect, PeerID: "bob", FromPeerID: "alice",
	Msg: `{"type":"text","content":"你好, see you at 10:30? \"the usual\" place"}`,
	ID:  "kQ3x9Rz1uA7b", Timestamp: 1415000123456,
}

// benchDirectIn is a direct as a client sends it.
var benchDirectIn = Command{
	Kind: KindDirect, PeerID: "alice", AppID: "APPID", ToPeerIDs: []string{"bob"},
	Msg: benchDirect.Msg, Receipt: true, I: 7,
}

func BenchmarkAppendJSONDirect(b *testing.B) {
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	b.SetBytes(int64(len(AppendJSON(nil, &benchDirect))))
	for b.Loop() {
		buf = AppendJSON(buf[:0], &benchDirect)
	}
}

func BenchmarkDecodeJSONDirect(b *testing.B) {
	data := AppendJSON(nil, &benchDirectIn)
	var c Command
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := DecodeJSON(data, &c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendMsgpackDirect(b *testing.B) {
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	b.SetBytes(int64(len(AppendMsgpack(nil, &benchDirect))))
	for b.Loop() {
		buf = AppendMsgpack(buf[:0], &benchDirect)
	}
}

func BenchmarkDecodeMsgpackDirect(b *testing.B) {
	data := AppendMsgpack(nil, &benchDirectIn)
	var c Command
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := DecodeMsgpack(data, &c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeJSONAck is the most frequent client frame after directs.
func BenchmarkDecodeJSONAck(b *testing.B) {
	data := []byte(`{"cmd":"ack","peerId":"bob","appId":"APPID","ids":["kQ3x9Rz1uA7b"]}`)
	var c Command
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeJSON(data, &c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodingJSONDirect is the baseline we replaced: encoding/json on
// an equivalent tagged struct.
func BenchmarkEncodingJSONDirect(b *testing.B) {
	type wire struct {
		Cmd        string `json:"cmd"`
		PeerID     string `json:"peerId,omitempty"`
		FromPeerID string `json:"fromPeerId,omitempty"`
		Msg        string `json:"msg,omitempty"`
		ID         string `json:"id,omitempty"`
		Timestamp  int64  `json:"timestamp,omitempty"`
	}
	w := wire{"direct", benchDirect.PeerID, benchDirect.FromPeerID, benchDirect.Msg, benchDirect.ID, benchDirect.Timestamp}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(&w); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFrameReader(b *testing.B) {
	body := AppendMsgpack(nil, &benchDirect)
	var stream []byte
	for range 1000 {
		stream = AppendFrame(stream, body)
	}
	r := bytes.NewReader(stream)
	fr := NewFrameReader(r, 0)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := fr.ReadFrame(); err != nil {
			r.Reset(stream)
			fr = NewFrameReader(r, 0)
		}
	}
}

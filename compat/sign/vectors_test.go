package sign

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/rtgate/rtgate/core"
)

// The signature vectors published in spec/vectors/signatures.json (and
// worked through in spec/groups-signatures.md) are computed with core's
// signing functions; `go test ./compat/sign -run Vectors -update` rewrites
// the expected strings and MACs.
var update = flag.Bool("update", false, "rewrite spec/vectors/signatures.json")

const vectorsFile = "../../spec/vectors/signatures.json"

type vectorFile struct {
	Comment     string        `json:"comment"`
	Vectors     []vector      `json:"vectors"`
	RequestSign []requestSign `json:"requestSign"`
}

type vector struct {
	Name      string   `json:"name"`
	Kind      string   `json:"kind"` // session, room, history
	MasterKey string   `json:"masterKey"`
	App       string   `json:"appId"`
	Peer      string   `json:"peerId"`
	Watch     []string `json:"watch,omitempty"`     // session: as sent (unsorted)
	SP        string   `json:"superPeer,omitempty"` // session: "sp" or "su"
	Group     *string  `json:"groupId,omitempty"`   // room ("" when creating)
	Targets   []string `json:"targets,omitempty"`   // room: as sent
	Action    string   `json:"action,omitempty"`    // room
	ConvID    string   `json:"convid,omitempty"`    // history
	T         string   `json:"t"`                   // seconds, as text
	N         string   `json:"n"`
	// String is the signed text with ids in UTF-16 code-unit order (what
	// the JS and Java clients sign); Signature its HMAC-SHA1 hex.
	String    string `json:"string"`
	Signature string `json:"signature"`
	// StringBytewise/SignatureBytewise: the UTF-8 byte order variant, set
	// only when it differs; the server accepts both.
	StringBytewise    string `json:"stringBytewise,omitempty"`
	SignatureBytewise string `json:"signatureBytewise,omitempty"`
}

type requestSign struct {
	Name   string `json:"name"`
	Key    string `json:"key"`
	Ms     string `json:"timestampMs"`
	Master bool   `json:"master"`
	Header string `json:"header"` // X-AVOSCloud-Request-Sign / X-LC-Sign value
}

// fields builds the signed fields of v, ids sorted by UTF-16 units or by
// bytes.
func (v vector) fields(bytewise bool) []string {
	sorted := func(ids []string) []string {
		if !bytewise {
			return ids // core sorts by UTF-16
		}
		s := slices.Clone(ids)
		slices.Sort(s)
		return s
	}
	switch v.Kind {
	case "session":
		f := core.SessionSignFields(v.App, v.Peer, nil, v.T, v.N, v.SP != "")
		f[2] = joinSorted(sorted(v.Watch), !bytewise)
		if v.SP != "" {
			f[len(f)-1] = v.SP
		}
		return f
	case "room":
		f := core.RoomSignFields(v.App, v.Peer, *v.Group, nil, v.T, v.N, v.Action)
		f[3] = joinSorted(sorted(v.Targets), !bytewise)
		return f
	case "history":
		return []string{v.App, v.Peer, v.ConvID, v.N, v.T}
	}
	return nil
}

// joinSorted joins ids, sorted by core (UTF-16 order) when utf16 is set,
// as given otherwise.
func joinSorted(ids []string, utf16 bool) string {
	if utf16 {
		return core.SessionSignFields("", "", ids, "", "", false)[2]
	}
	return strings.Join(ids, ":")
}

func TestVectors(t *testing.T) {
	b, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var vf vectorFile
	if err := json.Unmarshal(b, &vf); err != nil {
		t.Fatal(err)
	}
	if len(vf.Vectors) == 0 || len(vf.RequestSign) == 0 {
		t.Fatal("no vectors")
	}
	for i := range vf.Vectors {
		v := &vf.Vectors[i]
		f := v.fields(false)
		str, mac := strings.Join(f, ":"), core.Sign(v.MasterKey, f...)
		fb := v.fields(true)
		strB, macB := strings.Join(fb, ":"), core.Sign(v.MasterKey, fb...)
		if strB == str {
			strB, macB = "", ""
		}
		if *update {
			v.String, v.Signature, v.StringBytewise, v.SignatureBytewise = str, mac, strB, macB
			continue
		}
		if v.String != str || v.Signature != mac || v.StringBytewise != strB || v.SignatureBytewise != macB {
			t.Errorf("%s: have %q %s / %q %s, computed %q %s / %q %s", v.Name, v.String, v.Signature,
				v.StringBytewise, v.SignatureBytewise, str, mac, strB, macB)
		}
	}
	for i := range vf.RequestSign {
		r := &vf.RequestSign[i]
		sum := md5.Sum([]byte(r.Ms + r.Key))
		h := hex.EncodeToString(sum[:]) + "," + r.Ms
		if r.Master {
			h += ",master"
		}
		if *update {
			r.Header = h
		} else if r.Header != h {
			t.Errorf("%s: header %q, computed %q", r.Name, r.Header, h)
		}
	}
	if *update {
		out, err := json.MarshalIndent(vf, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsFile, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Package sign makes v1 signatures (protocol-v1.md §6) for session
// open/add, room join/invite/kick and history queries, as an app's own
// signing server would, and returns them with the exact string that was
// signed, so operators and app developers can test signed apps and check
// their own signing code against the server's. `rtgate sign` (cmd/rtgate)
// is its command line.
//
// Concurrency: the functions are pure and safe for concurrent use.
//
// Imports: the standard library and core (Sign, SessionSignFields,
// RoomSignFields, ConvID). It reads no flags or environment.
package sign

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/rtgate/rtgate/core"
)

// ErrInvalid is returned for a request that cannot be signed (a missing
// field, an unknown action).
var ErrInvalid = errors.New("sign: invalid request")

// Request holds what every signature covers.
type Request struct {
	App       string // app id (required)
	MasterKey string // the app's master key (required)
	Peer      string // the signing peer id (required)
	T         int64  // timestamp in seconds
	Nonce     string // empty: a random one
}

func (r *Request) check() error {
	if r.App == "" || r.MasterKey == "" || r.Peer == "" {
		return fmt.Errorf("%w: app, master key and peer are required", ErrInvalid)
	}
	if r.Nonce == "" {
		r.Nonce = RandomNonce()
	}
	return nil
}

// Signed is the answer for sessions and rooms: what an auth/groupAuth
// callback returns, plus the signed string.
type Signed struct {
	Signed string `json:"signed"`
	S      string `json:"s"`
	T      int64  `json:"t"`
	N      string `json:"n"`
	SP     bool   `json:"sp,omitempty"`
}

// History is the answer for history queries: the query parameters.
type History struct {
	Signed      string `json:"signed"`
	PeerID      string `json:"peerid"`
	ConvID      string `json:"convid"`
	Nonce       string `json:"nonce"`
	SignatureTS int64  `json:"signature_ts"`
	Signature   string `json:"signature"`
}

// SuperPeer says whether a session signature is a super peer's, and
// which suffix it ends in: "sp" (the clients) or "su" (the docs).
type SuperPeer string

// The SuperPeer values.
const (
	NotSuperPeer SuperPeer = ""
	SuperPeerSP  SuperPeer = "sp"
	SuperPeerSU  SuperPeer = "su"
)

// Session signs a session open/add of r.Peer watching watch.
func Session(r Request, watch []string, sp SuperPeer) (Signed, error) {
	if err := r.check(); err != nil {
		return Signed{}, err
	}
	if sp != NotSuperPeer && sp != SuperPeerSP && sp != SuperPeerSU {
		return Signed{}, fmt.Errorf("%w: super peer suffix %q: want sp or su", ErrInvalid, sp)
	}
	ts := strconv.FormatInt(r.T, 10)
	fields := core.SessionSignFields(r.App, r.Peer, watch, ts, r.Nonce, sp != NotSuperPeer)
	if sp == SuperPeerSU {
		fields[len(fields)-1] = "su"
	}
	return Signed{Signed: strings.Join(fields, ":"), S: core.Sign(r.MasterKey, fields...), T: r.T, N: r.Nonce,
		SP: sp != NotSuperPeer}, nil
}

// Room signs a room action (join, invite or kick) of r.Peer on group with
// targets. An empty group with join creates a group.
func Room(r Request, group string, targets []string, action string) (Signed, error) {
	if err := r.check(); err != nil {
		return Signed{}, err
	}
	switch action {
	case "join", "invite", "kick":
	default:
		return Signed{}, fmt.Errorf("%w: action %q: want join, invite or kick", ErrInvalid, action)
	}
	if action != "join" && group == "" {
		return Signed{}, fmt.Errorf("%w: a group id is required for %s", ErrInvalid, action)
	}
	fields := core.RoomSignFields(r.App, r.Peer, group, targets, strconv.FormatInt(r.T, 10), r.Nonce, action)
	return Signed{Signed: strings.Join(fields, ":"), S: core.Sign(r.MasterKey, fields...), T: r.T, N: r.Nonce}, nil
}

// HistoryQuery signs a REST history query of r.Peer on a conversation:
// convID, or when it is empty the conversation of peers.
func HistoryQuery(r Request, convID string, peers []string) (History, error) {
	if err := r.check(); err != nil {
		return History{}, err
	}
	if (convID == "") == (len(peers) == 0) {
		return History{}, fmt.Errorf("%w: give exactly one of a conversation id and its peers", ErrInvalid)
	}
	if convID == "" {
		convID = core.ConvID(peers)
	}
	fields := []string{r.App, r.Peer, convID, r.Nonce, strconv.FormatInt(r.T, 10)}
	return History{Signed: strings.Join(fields, ":"), PeerID: r.Peer, ConvID: convID, Nonce: r.Nonce,
		SignatureTS: r.T, Signature: core.Sign(r.MasterKey, fields...)}, nil
}

// RandomNonce returns 16 random hex digits.
func RandomNonce() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

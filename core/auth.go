package core

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/rtgate/rtgate/protocol"
)

// Signature errors.
var (
	ErrSignatureMissing = errors.New("core: signature required")
	ErrSignatureInvalid = errors.New("core: signature does not match")
	ErrSignatureExpired = errors.New("core: signature timestamp outside the window")
	ErrNonceReplayed    = errors.New("core: signature nonce already used")
	// ErrNonceForgotten refuses a signature no newer than the oldest one
	// the full nonce cache had to forget: it may be a replay of it. A
	// freshly made signature passes.
	ErrNonceForgotten = errors.New("core: signature older than the nonce cache remembers; sign again")
)

// Sign returns the v1 signature of fields: lower hex HMAC-SHA1 keyed by the
// master key over the fields joined by ":".
func Sign(masterKey string, fields ...string) string {
	mac := hmac.New(sha1.New, []byte(masterKey))
	mac.Write([]byte(strings.Join(fields, ":")))
	return hex.EncodeToString(mac.Sum(nil))
}

// SessionSignFields returns the fields of a session open/add signature:
// appId, peerId, sorted watch ids, t, n (and "sp" for a super peer).
func SessionSignFields(appID, peerID string, watch []string, t, n string, superPeer bool) []string {
	f := []string{appID, peerID, sortedJoin(watch, false), t, n}
	if superPeer {
		f = append(f, "sp")
	}
	return f
}

// RoomSignFields returns the fields of a room join/invite/kick signature:
// appId, peerId, groupId ("" when creating), sorted targets, t, n, action.
func RoomSignFields(appID, peerID, groupID string, targets []string, t, n, action string) []string {
	return []string{appID, peerID, groupID, sortedJoin(targets, false), t, n, action}
}

// sortedJoin sorts ids (by UTF-16 code units, as JS and Java do, or by
// bytes) and joins them with ":".
func sortedJoin(ids []string, bytewise bool) string {
	s := slices.Clone(ids)
	if bytewise {
		slices.Sort(s)
	} else {
		slices.SortFunc(s, func(a, b string) int {
			return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
		})
	}
	return strings.Join(s, ":")
}

// verify checks a signature cmd.Sig over fields built by build (called
// once with UTF-16 order and once with byte order of the id lists).
func (h *Hub) verify(app *App, cmd *protocol.Command, build func(bytewise bool) []string) error {
	if cmd.Sig == "" || cmd.SigTime == "" {
		return ErrSignatureMissing
	}
	ts, err := strconv.ParseInt(cmd.SigTime, 10, 64)
	if err != nil {
		return ErrSignatureInvalid
	}
	now := h.cfg.Now().Unix()
	window := int64(h.cfg.SignatureWindow / time.Second)
	if ts < now-window || ts > now+window {
		return ErrSignatureExpired
	}
	got, err := hex.DecodeString(strings.ToLower(cmd.Sig))
	if err != nil {
		return ErrSignatureInvalid
	}
	ok := false
	for _, bytewise := range []bool{false, true} {
		mac := hmac.New(sha1.New, []byte(app.MasterKey))
		mac.Write([]byte(strings.Join(build(bytewise), ":")))
		if hmac.Equal(mac.Sum(nil), got) {
			ok = true
			break
		}
	}
	if !ok {
		return ErrSignatureInvalid
	}
	if h.cfg.NonceCacheSize > 0 {
		return h.nonces.use(app.ID, cmd.Nonce, ts, now, window)
	}
	return nil
}

// authorizeOpen checks a session open and returns the peers to watch and
// whether the session is a super peer.
func (h *Hub) authorizeOpen(app *App, cmd *protocol.Command) ([]string, bool, error) {
	if cmd.SuperPeer {
		// A super peer always needs a signature ending in :sp (or :su).
		var err error
		for _, suffix := range []string{"sp", "su"} {
			err = h.verify(app, cmd, func(bytewise bool) []string {
				return []string{app.ID, cmd.PeerID, sortedJoin(cmd.SessionPeerIDs, bytewise), cmd.SigTime, cmd.Nonce, suffix}
			})
			if err == nil {
				return cmd.SessionPeerIDs, true, nil
			}
		}
		return nil, false, err
	}
	if !app.Signatures {
		return cmd.SessionPeerIDs, false, nil
	}
	err := h.verify(app, cmd, func(bytewise bool) []string {
		return []string{app.ID, cmd.PeerID, sortedJoin(cmd.SessionPeerIDs, bytewise), cmd.SigTime, cmd.Nonce}
	})
	return cmd.SessionPeerIDs, false, err
}

// authorizeAdd checks a session add and returns the peers to watch.
func (h *Hub) authorizeAdd(s *session, cmd *protocol.Command) ([]string, error) {
	if !s.app.Signatures {
		return cmd.SessionPeerIDs, nil
	}
	err := h.verify(s.app, cmd, func(bytewise bool) []string {
		return []string{s.app.ID, s.peer, sortedJoin(cmd.SessionPeerIDs, bytewise), cmd.SigTime, cmd.Nonce}
	})
	return cmd.SessionPeerIDs, err
}

// authorizeRoom checks a room join/invite/kick signature.
func (h *Hub) authorizeRoom(s *session, cmd *protocol.Command, groupID string, targets []string, action string) error {
	if !s.app.Signatures {
		return nil
	}
	return h.verify(s.app, cmd, func(bytewise bool) []string {
		return []string{s.app.ID, s.peer, groupID, sortedJoin(targets, bytewise), cmd.SigTime, cmd.Nonce, action}
	})
}

package protocol

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// This file holds what the JSON and msgpack codecs share: the v1 field
// names, the order and omission rules of the encoders (fieldWriter) and the
// field dispatch of the decoders (decodeField). The codecs only differ in how
// a primitive value is spelled.

// alwaysLists reports which list fields kind k always carries on the wire,
// even empty: v1 clients iterate them unguarded (protocol-v1.md §3.2 rule 5).
func alwaysLists(k Kind) (online, session, room bool) {
	switch k {
	case KindSessionOpened, KindSessionAdded, KindSessionQueryResult:
		return true, false, false
	case KindPresence:
		return false, true, false
	case KindRoomInvited, KindRoomKicked, KindRoomMembersJoined, KindRoomMembersLeft, KindRoomReject:
		return false, false, true
	}
	return false, false, false
}

// timeIsMillis reports whether `t` carries Command.Time (integer ms) for kind
// k; on every other kind it is the signature time, Command.SigTime.
func timeIsMillis(k Kind) bool { return k == KindAck || k == KindRcp }

// encodesEmpty reports whether c is written as an empty object/map: the
// keepalive, and kinds that have no wire name (a caller bug; `{}` is the
// least harmful thing to send).
func encodesEmpty(c *Command) bool {
	return c.Kind == KindKeepalive || c.Kind == KindUnknown || c.Kind >= kindCount
}

// fieldWriter appends the fields of one command in either codec. Keys are
// constants and never need escaping.
type fieldWriter struct {
	dst     []byte
	msgpack bool
	n       int // fields written so far
}

func (w *fieldWriter) key(k string) {
	if w.msgpack {
		w.dst = mpAppendStr(w.dst, k)
	} else {
		if w.n > 0 {
			w.dst = append(w.dst, ',')
		}
		w.dst = append(w.dst, '"')
		w.dst = append(w.dst, k...)
		w.dst = append(w.dst, '"', ':')
	}
	w.n++
}

func (w *fieldWriter) value(v string) {
	if w.msgpack {
		w.dst = mpAppendStr(w.dst, v)
	} else {
		w.dst = jsonAppendString(w.dst, v)
	}
}

// str writes a string field unless it is empty.
func (w *fieldWriter) str(k, v string) {
	if v == "" {
		return
	}
	w.key(k)
	w.value(v)
}

// strs writes a list field unless it is empty and not always present.
func (w *fieldWriter) strs(k string, v []string, always bool) {
	if len(v) == 0 && !always {
		return
	}
	w.key(k)
	if w.msgpack {
		w.dst = mpAppendArrayHeader(w.dst, len(v))
		for _, s := range v {
			w.dst = mpAppendStr(w.dst, s)
		}
		return
	}
	w.dst = append(w.dst, '[')
	for i, s := range v {
		if i > 0 {
			w.dst = append(w.dst, ',')
		}
		w.dst = jsonAppendString(w.dst, s)
	}
	w.dst = append(w.dst, ']')
}

// int writes an integer field unless it is zero.
func (w *fieldWriter) int(k string, v int64) {
	if v == 0 {
		return
	}
	w.key(k)
	if w.msgpack {
		w.dst = mpAppendInt(w.dst, v)
	} else {
		w.dst = strconv.AppendInt(w.dst, v, 10)
	}
}

// flag writes a boolean field only when it is true.
func (w *fieldWriter) flag(k string, v bool) {
	if !v {
		return
	}
	w.key(k)
	if w.msgpack {
		w.dst = append(w.dst, mpTrue)
	} else {
		w.dst = append(w.dst, "true"...)
	}
}

// numText writes text received as "number or string" (SigTime): as a number
// when it is a canonical unsigned decimal that fits 64 bits, else as a
// string, so decoding gives the same text back.
func (w *fieldWriter) numText(k, v string) {
	if v == "" {
		return
	}
	w.key(k)
	u, ok := canonicalUint(v)
	switch {
	case !ok:
		w.value(v)
	case w.msgpack:
		w.dst = mpAppendUint(w.dst, u)
	default:
		w.dst = append(w.dst, v...)
	}
}

// canonicalUint reports whether s is the shortest decimal spelling of a
// uint64 (no sign, no leading zero), and its value.
func canonicalUint(s string) (uint64, bool) {
	if len(s) == 0 || len(s) > 20 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	u, err := strconv.ParseUint(s, 10, 64)
	return u, err == nil
}

// writeFields writes every field of c in the fixed wire order: cmd, op,
// addressing, lists, payload, ids, times, signature, flags, counters, i.
func writeFields(w *fieldWriter, c *Command) {
	online, session, room := alwaysLists(c.Kind)
	w.str("cmd", c.Kind.Cmd())
	w.str("op", c.Kind.Op())
	w.str("peerId", c.PeerID)
	w.str("appId", c.AppID)
	w.str("installationId", c.InstallationID)
	w.strs("sessionPeerIds", c.SessionPeerIDs, session)
	w.strs("onlineSessionPeerIds", c.OnlineSessionPeerIDs, online)
	w.str("status", string(c.Status))
	w.str("fromPeerId", c.FromPeerID)
	w.strs("toPeerIds", c.ToPeerIDs, false)
	w.str("roomId", c.RoomID)
	w.strs("roomPeerIds", c.RoomPeerIDs, room)
	w.str("byPeerId", c.ByPeerID)
	w.str("msg", c.Msg)
	w.str("id", c.ID)
	w.strs("ids", c.IDs, c.HasIDs)
	w.str("uid", c.UID)
	w.int("timestamp", c.Timestamp)
	if timeIsMillis(c.Kind) {
		w.int("t", c.Time)
	} else {
		w.numText("t", c.SigTime)
	}
	w.str("s", c.Sig)
	w.str("n", c.Nonce)
	w.flag("sp", c.SuperPeer)
	w.flag("transient", c.Transient)
	w.flag("r", c.Receipt)
	w.flag("offline", c.Offline)
	w.int("c", int64(c.Count))
	w.int("code", int64(c.Code))
	w.str("reason", c.Reason)
	w.int("i", c.I)
}

// valueReader reads one value of a known field in either codec. A value of
// the wrong type is skipped and reported with ok=false; a syntax error is
// kept inside the reader, which then returns zero values until the caller
// checks it. Null counts as absent everywhere.
type valueReader interface {
	// str reads a string.
	str() (s string, ok bool)
	// strs reads an array of strings, dropping null entries; present is
	// false for null. An empty array gives a nil list.
	strs() (list []string, present, ok bool)
	// int reads an integer that fits int64.
	int() (v int64, ok bool)
	// boolean reads true or false.
	boolean() (v, ok bool)
	// receipt reads `r`: true and the integer 1 are true, anything else
	// (of any type) is false.
	receipt() bool
	// text reads a string or a number as text (JSON: the number as
	// written; msgpack: its decimal spelling). The bytes are valid until
	// the next read. isNum tells which it was; nil text means null.
	text() (b []byte, isNum, ok bool)
	// skip skips a value of any type.
	skip()
	// keepInvalid(true) makes str and strs keep invalid UTF-8 (and, in
	// JSON, lone surrogate escapes) instead of replacing it with U+FFFD,
	// until keepInvalid(false). Peer id fields are read so: CheckPeerID
	// then refuses them, where a repair would make distinct ids one.
	keepInvalid(on bool)
}

// decodeState collects what decodeField cannot resolve before the whole
// object is read: cmd and op (fields come in any order) and `t`, whose
// meaning depends on the kind.
type decodeState struct {
	cmd, op      [16]byte // longer values name no kind
	cmdN, opN    int
	hasCmd       bool
	cmdBad       bool // cmd present but not a string: malformed, not a keepalive
	t            string
	tSet, tIsNum bool
	wrongType    string // first known field with a value of the wrong type
}

func (st *decodeState) bad(field string) {
	if st.wrongType == "" {
		st.wrongType = field
	}
}

// name copies a cmd/op value into a fixed array; n > len(dst) marks a value
// too long to be a kind name. ok is false for a value that is not a string.
func (st *decodeState) name(r fieldReader, field string, dst *[16]byte) (n int, present, ok bool) {
	b, isNum, ok := r.text()
	if !ok || isNum {
		st.bad(field)
		return 0, false, false
	}
	if b == nil {
		return 0, false, true
	}
	n = copy(dst[:], b)
	if len(b) > n {
		n = len(dst) + 1
	}
	return n, true, true
}

func (st *decodeState) str(r fieldReader, field string) string {
	s, ok := r.str()
	if !ok {
		st.bad(field)
	}
	return s
}

// peer reads a peer id field, keeping invalid UTF-8 for CheckPeerID.
func (st *decodeState) peer(r fieldReader, field string) string {
	r.keepInvalid(true)
	s := st.str(r, field)
	r.keepInvalid(false)
	return s
}

// peers reads a list of peer ids, keeping invalid UTF-8 for CheckPeerID.
func (st *decodeState) peers(r fieldReader, field string) []string {
	r.keepInvalid(true)
	l := st.strs(r, field)
	r.keepInvalid(false)
	return l
}

func (st *decodeState) strs(r fieldReader, field string) []string {
	l, _, ok := r.strs()
	if !ok {
		st.bad(field)
	}
	return l
}

func (st *decodeState) int(r fieldReader, field string) int64 {
	v, ok := r.int()
	if !ok {
		st.bad(field)
	}
	return v
}

func (st *decodeState) smallInt(r fieldReader, field string) int {
	v := st.int(r, field)
	if int64(int(v)) != v {
		st.bad(field)
		return 0
	}
	return int(v)
}

func (st *decodeState) boolean(r fieldReader, field string) bool {
	v, ok := r.boolean()
	if !ok {
		st.bad(field)
	}
	return v
}

// decodeField reads the value of key into c (or st). Unknown keys are
// skipped: clients send ua, tag, deviceId, st and more.
func decodeField(r fieldReader, key []byte, c *Command, st *decodeState) {
	switch string(key) {
	case "cmd":
		n, present, ok := st.name(r, "cmd", &st.cmd)
		if present {
			st.cmdN, st.hasCmd = n, true
		}
		st.cmdBad = st.cmdBad || !ok
	case "op":
		if n, present, _ := st.name(r, "op", &st.op); present {
			st.opN = n
		}
	case "peerId":
		c.PeerID = st.peer(r, "peerId")
	case "appId":
		c.AppID = st.str(r, "appId")
	case "i":
		c.I = st.int(r, "i")
	case "installationId":
		c.InstallationID = st.str(r, "installationId")
	case "sessionPeerIds":
		c.SessionPeerIDs = st.peers(r, "sessionPeerIds")
	case "onlineSessionPeerIds":
		c.OnlineSessionPeerIDs = st.strs(r, "onlineSessionPeerIds")
	case "s":
		c.Sig = st.str(r, "s")
	case "t":
		b, isNum, ok := r.text()
		switch {
		case !ok:
			st.bad("t")
		case b == nil:
			st.tSet = false
		default:
			st.t, st.tIsNum, st.tSet = string(b), isNum, true
		}
	case "n":
		// The nonce is a string, but JS v1 passes whatever its auth()
		// callback returned: accept a number and keep its text.
		b, _, ok := r.text()
		if !ok {
			st.bad("n")
		} else if b != nil {
			c.Nonce = string(b)
		}
	case "sp":
		c.SuperPeer = st.boolean(r, "sp")
	case "status":
		c.Status = Status(st.str(r, "status"))
	case "msg":
		c.Msg = st.str(r, "msg")
	case "toPeerIds":
		c.ToPeerIDs = st.peers(r, "toPeerIds")
	case "fromPeerId":
		c.FromPeerID = st.str(r, "fromPeerId")
	case "roomId":
		c.RoomID = st.str(r, "roomId")
	case "transient":
		c.Transient = st.boolean(r, "transient")
	case "r":
		c.Receipt = r.receipt()
	case "offline":
		c.Offline = st.boolean(r, "offline")
	case "timestamp":
		c.Timestamp = st.int(r, "timestamp")
	case "id":
		c.ID = st.str(r, "id")
	case "ids":
		l, present, ok := r.strs()
		if !ok {
			st.bad("ids")
		}
		c.IDs, c.HasIDs = l, present
	case "uid":
		c.UID = st.str(r, "uid")
	case "roomPeerIds":
		c.RoomPeerIDs = st.peers(r, "roomPeerIds")
	case "byPeerId":
		c.ByPeerID = st.str(r, "byPeerId")
	case "c":
		c.Count = st.smallInt(r, "c")
	case "code":
		c.Code = st.smallInt(r, "code")
	case "reason":
		c.Reason = st.str(r, "reason")
	default:
		r.skip()
	}
}

// finish resolves the kind and `t` once the object has been read.
func finish(c *Command, st *decodeState, codec string) error {
	if st.cmdBad {
		return fmt.Errorf("%w: %s field \"cmd\" is not a string", ErrMalformed, codec)
	}
	if !st.hasCmd {
		// v1: a frame without cmd is the keepalive; its fields mean nothing.
		*c = Command{Kind: KindKeepalive}
		return nil
	}
	c.Kind = KindUnknown
	if st.cmdN <= len(st.cmd) && st.opN <= len(st.op) {
		c.Kind = lookupKind(st.cmd[:st.cmdN], st.op[:st.opN])
	}
	if c.Kind == KindUnknown {
		// string() copies: st must not escape, it lives on the caller's stack.
		return fmt.Errorf("%w: %s cmd %q op %q", ErrUnknownCommand, codec,
			string(st.cmd[:min(st.cmdN, len(st.cmd))]), string(st.op[:min(st.opN, len(st.op))]))
	}
	if st.tSet {
		if timeIsMillis(c.Kind) {
			v, err := strconv.ParseInt(st.t, 10, 64)
			if !st.tIsNum || err != nil {
				st.bad("t")
			}
			c.Time = v
		} else {
			c.SigTime = st.t
		}
	}
	if st.wrongType != "" {
		return fmt.Errorf("%w: %s field %q has the wrong type", ErrMalformed, codec, st.wrongType)
	}
	return nil
}

// lookupKind is KindOf for byte slices, without allocating.
func lookupKind(cmd, op []byte) Kind {
	switch string(cmd) {
	case "session":
		switch string(op) {
		case "open":
			return KindSessionOpen
		case "opened":
			return KindSessionOpened
		case "add":
			return KindSessionAdd
		case "added":
			return KindSessionAdded
		case "remove":
			return KindSessionRemove
		case "removed":
			return KindSessionRemoved
		case "query":
			return KindSessionQuery
		case "query-result":
			return KindSessionQueryResult
		case "close":
			return KindSessionClose
		case "closed":
			return KindSessionClosed
		}
	case "room":
		switch string(op) {
		case "join":
			return KindRoomJoin
		case "joined":
			return KindRoomJoined
		case "invite":
			return KindRoomInvite
		case "invited":
			return KindRoomInvited
		case "kick":
			return KindRoomKick
		case "kicked":
			return KindRoomKicked
		case "leave":
			return KindRoomLeave
		case "left":
			return KindRoomLeft
		case "members-joined":
			return KindRoomMembersJoined
		case "members-left":
			return KindRoomMembersLeft
		case "reject":
			return KindRoomReject
		}
	case "presence":
		return KindPresence
	case "direct":
		return KindDirect
	case "ack":
		return KindAck
	case "ackreq":
		return KindAckReq
	case "rcp":
		return KindRcp
	case "login":
		return KindLogin
	case "error":
		return KindError
	}
	return KindUnknown
}

// validString returns b as a string with each byte that is not part of a
// valid UTF-8 sequence replaced by U+FFFD, as encoding/json does.
func validString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return string(appendValidUTF8(make([]byte, 0, len(b)+8), b))
}

func appendValidUTF8(dst, b []byte) []byte {
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, b[:size]...)
		}
		b = b[size:]
	}
	return dst
}

package rest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/storage"
)

// logRecord is one history record as the v1 REST API returned it.
type logRecord struct {
	Timestamp int64  `json:"timestamp"`
	ConvID    string `json:"conv-id"`
	Data      string `json:"data"`
	From      string `json:"from"`
	AppID     string `json:"app-id"`
	MsgID     string `json:"msg-id"`
	IsRoom    bool   `json:"is-room"`
	// To is the recipients' peer ids ([]string) for direct messages and the
	// group id (string) for group messages, as the iOS SDK reads it.
	To     any    `json:"to"`
	FromIP string `json:"from-ip,omitempty"`
}

// intParam parses an optional integer query parameter ("" gives 0, false).
func intParam(rq *request, name string) (int64, bool, error) {
	s := rq.query.Get(name)
	if s == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, false, badParam("%s must be a non-negative integer", name)
	}
	return n, true, nil
}

// logs answers GET /1.1/rtm/messages/logs.
func (h *Handler) logs(ctx context.Context, rq *request) (int, any, error) {
	q := storage.HistoryQuery{App: rq.app.ID, ConvID: rq.query.Get("convid"), From: rq.query.Get("from"),
		BeforeID: rq.query.Get("msgid")}
	if q.ConvID != "" && q.From != "" {
		return 0, nil, badParam("convid and from cannot be combined")
	}
	if q.ConvID == "" && !rq.master {
		if q.From != "" {
			return 0, nil, errorf(http.StatusForbidden, CodeForbidden, "querying by from needs the master key")
		}
		return 0, nil, errorf(http.StatusForbidden, CodeForbidden, "querying the whole app needs the master key")
	}
	limit, _, err := intParam(rq, "limit")
	if err != nil {
		return 0, nil, err
	}
	q.Limit = int(min(limit, storage.MaxHistoryLimit))
	if q.Before, _, err = intParam(rq, "max_ts"); err != nil {
		return 0, nil, err
	}
	if q.AtOrBefore, _, err = intParam(rq, "timestamp"); err != nil {
		return 0, nil, err
	}
	if !rq.master && h.cfg.HistorySignatures[rq.app.ID] {
		if err := h.checkHistorySignature(rq, q.ConvID); err != nil {
			return 0, nil, err
		}
	}
	msgs, err := h.store.Query(ctx, q)
	if err != nil {
		return 0, nil, storeError(err, "history")
	}
	out := make([]logRecord, 0, len(msgs))
	for _, m := range msgs {
		rec := logRecord{Timestamp: m.Time, ConvID: m.ConvID, Data: m.Text, From: m.From, AppID: m.App,
			MsgID: m.ID, IsRoom: m.Room != "", FromIP: m.FromIP}
		if m.Room != "" {
			rec.To = m.Room
		} else {
			rec.To = nonNil(m.To)
		}
		out = append(out, rec)
	}
	return http.StatusOK, out, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// checkHistorySignature verifies peerid, nonce, signature_ts and signature
// (or the short-lived sign_ts and sign) over
// appid:peerid:convid:nonce:signature_ts.
func (h *Handler) checkHistorySignature(rq *request, convID string) error {
	peer := rq.query.Get("peerid")
	nonce := rq.query.Get("nonce")
	ts := first(rq.query.Get("signature_ts"), rq.query.Get("sign_ts"))
	sig := first(rq.query.Get("signature"), rq.query.Get("sign"))
	if peer == "" || ts == "" || sig == "" {
		return unauthorized("history signature required (peerid, nonce, signature_ts, signature)")
	}
	if err := protocol.CheckPeerID(peer); err != nil {
		// A ':' would let a signature made for one (peer, conversation)
		// pass for another: the signed string joins them with ':'.
		return badParam("peerid: %v", err)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return unauthorized("malformed signature_ts")
	}
	skew := h.cfg.Now().Sub(time.Unix(sec, 0))
	if skew < 0 {
		skew = -skew
	}
	if skew > h.cfg.SignatureWindow {
		return unauthorized("signature_ts outside the window")
	}
	want := core.Sign(rq.app.MasterKey, rq.app.ID, peer, convID, nonce, ts)
	if rq.app.MasterKey == "" || !hmac.Equal([]byte(want), []byte(strings.ToLower(sig))) {
		return unauthorized("wrong history signature")
	}
	return nil
}

// deleteLog answers DELETE /1.1/rtm/messages/logs?convid=&msgid=&timestamp=.
func (h *Handler) deleteLog(ctx context.Context, rq *request) (int, any, error) {
	conv, id := rq.query.Get("convid"), rq.query.Get("msgid")
	ts, ok, err := intParam(rq, "timestamp")
	if err != nil {
		return 0, nil, err
	}
	if conv == "" || id == "" || !ok {
		return 0, nil, badParam("convid, msgid and timestamp are required")
	}
	if err := h.store.Delete(ctx, rq.app.ID, conv, id, ts); err != nil {
		return 0, nil, storeError(err, "message")
	}
	return http.StatusOK, struct{}{}, nil
}

// sendBody is the body of POST /1.1/rtm/messages.
type sendBody struct {
	FromPeer  string          `json:"from_peer"`
	Message   json.RawMessage `json:"message"`
	ToPeers   []string        `json:"to_peers"`
	GroupID   string          `json:"group_id"`
	ConvID    string          `json:"conv_id"`
	Transient *bool           `json:"transient"`
}

// sent is the answer of POST /1.1/rtm/messages: the v1 service answered
// {}; rtgate adds the message id and time.
type sent struct {
	MsgID     string `json:"msg-id"`
	Timestamp int64  `json:"timestamp"`
}

// send answers POST /1.1/rtm/messages.
func (h *Handler) send(ctx context.Context, rq *request) (int, any, error) {
	var b sendBody
	if err := decodeObject(rq.body, &b); err != nil {
		return 0, nil, err
	}
	if b.FromPeer == "" {
		return 0, nil, badParam("from_peer is required")
	}
	if b.ConvID != "" && b.GroupID == "" && len(b.ToPeers) == 0 {
		return 0, nil, badParam("conv_id (v2 conversations) is not supported; use to_peers or group_id")
	}
	if (b.GroupID == "") == (len(b.ToPeers) == 0) {
		return 0, nil, badParam("exactly one of to_peers and group_id is required")
	}
	if len(b.ToPeers) > maxSendRecipients {
		return 0, nil, badParam("at most %d to_peers", maxSendRecipients)
	}
	text, err := messageText(b.Message)
	if err != nil {
		return 0, nil, err
	}
	transient := b.Transient == nil || *b.Transient
	m, err := h.hub.SendAs(ctx, core.Send{App: rq.app, From: b.FromPeer, To: b.ToPeers, Room: b.GroupID,
		Text: text, Transient: transient, FromIP: remoteIP(rq.r.RemoteAddr)})
	switch {
	case errors.Is(err, core.ErrBadSend):
		return 0, nil, badParam("%s", strings.TrimPrefix(err.Error(), core.ErrBadSend.Error()+": "))
	case err != nil:
		return 0, nil, storeError(err, "group")
	}
	return http.StatusOK, sent{m.ID, m.Time}, nil
}

// messageText turns the message field into the text sent: a JSON string
// as is, a JSON object as its compact JSON text.
func messageText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return "", badParam("message is required")
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", errorf(http.StatusBadRequest, CodeInvalidJSON, "malformed message: %v", err)
		}
		return s, nil
	case raw[0] == '{':
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return "", errorf(http.StatusBadRequest, CodeInvalidJSON, "malformed message: %v", err)
		}
		return buf.String(), nil
	}
	return "", errorf(http.StatusBadRequest, CodeIncorrectType, "message must be a string or an object")
}

// unread answers GET /1.1/rtm/messages/unread/<peerId>.
func (h *Handler) unread(ctx context.Context, rq *request) (int, any, error) {
	n, err := h.store.Count(ctx, rq.app.ID, rq.param, true)
	if err != nil {
		return 0, nil, storeError(err, "inbox")
	}
	return http.StatusOK, map[string]int{"count": n}, nil
}

// onlines answers GET /1.1/rtm/transient_group/onlines?gid=.
func (h *Handler) onlines(ctx context.Context, rq *request) (int, any, error) {
	gid := rq.query.Get("gid")
	if gid == "" {
		return 0, nil, badParam("gid is required")
	}
	return http.StatusOK, map[string]int{"result": h.hub.OpenGroupOnline(rq.app.ID, gid)}, nil
}

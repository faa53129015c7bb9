package longpoll

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/rtgate/rtgate/protocol"
)

// sendItem is one element of a POST /send body. D is the command: a JSON
// object, or a JSON string holding the encoded command (for clients that
// serialise frames themselves).
type sendItem struct {
	Cseq int64           `json:"cseq"`
	D    json.RawMessage `json:"d"`
}

// send handles POST /send: it applies the commands the session has not
// applied yet, in cseq order, and answers {"ack": last applied cseq}.
// Concurrent sends of one session take turns; a retried send skips what
// its first attempt applied, so a POST is safe to repeat.
func (h *Handler) send(w http.ResponseWriter, r *http.Request, s *session) {
	body, ok := h.readBody(w, r, h.cfg.MaxPayload)
	if !ok {
		return
	}
	var items []sendItem
	if err := json.Unmarshal(body, &items); err != nil {
		h.fail(w, http.StatusBadRequest, codeBadRequest, "send body must be [{\"cseq\":N,\"d\":{...}},...]: "+err.Error())
		return
	}
	if len(items) > h.cfg.MaxBatchFrames {
		h.fail(w, http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Sprintf("at most %d commands per send", h.cfg.MaxBatchFrames))
		return
	}
	for _, it := range items {
		if it.Cseq < 1 {
			h.fail(w, http.StatusBadRequest, codeBadRequest, "every item needs a cseq >= 1")
			return
		}
	}
	select {
	case s.turn <- struct{}{}:
	case <-r.Context().Done():
		return
	}
	status, code, msg := h.apply(s, items)
	ack := s.lastCseq
	<-s.turn
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(h.cfg.WriteTimeout))
	if status != http.StatusOK {
		h.fail(w, status, code, msg)
		return
	}
	h.reply(w, http.StatusOK, append(strconv.AppendInt([]byte(`{"ack":`), ack, 10), '}'))
}

// apply runs items through the client; the caller holds s's turn.
func (h *Handler) apply(s *session, items []sendItem) (status int, code, msg string) {
	m := h.metrics
	for _, it := range items {
		if it.Cseq <= s.lastCseq {
			m.duplicates.Inc()
			continue
		}
		if it.Cseq != s.lastCseq+1 {
			return http.StatusBadRequest, codeBadCseq, fmt.Sprintf("cseq %d after %d: client sequence numbers must not skip", it.Cseq, s.lastCseq)
		}
		if s.isClosing() {
			return http.StatusGone, codeClosed, "session closed; poll for its close code"
		}
		s.lastCseq = it.Cseq
		m.framesIn.Inc()
		data, err := commandBytes(it.D)
		if err == nil && len(data) > h.cfg.MaxFrameBytes {
			s.Close(protocol.CloseTooLong, "frame over the frame limit")
			return http.StatusOK, "", ""
		}
		var cmd protocol.Command
		if err == nil {
			err = protocol.DecodeJSON(data, &cmd)
		}
		if err != nil {
			err = s.client.BadFrame(&cmd, err)
		} else {
			err = s.client.Handle(&cmd)
		}
		var ce *protocol.CloseError
		if errors.As(err, &ce) {
			s.Close(ce.Code, ce.Reason)
			return http.StatusOK, "", ""
		}
	}
	return http.StatusOK, "", ""
}

// commandBytes returns the encoded command of a send item: the object
// itself, or the contents of a string.
func commandBytes(d json.RawMessage) ([]byte, error) {
	d = bytes.TrimSpace(d)
	if len(d) > 0 && d[0] == '"' {
		if !utf8.Valid(d) {
			// Unquoting would repair it, making distinct peer ids one.
			return nil, fmt.Errorf("%w: d is not valid UTF-8", protocol.ErrMalformed)
		}
		var s string
		if err := json.Unmarshal(d, &s); err != nil {
			return nil, fmt.Errorf("%w: d: %v", protocol.ErrMalformed, err)
		}
		return []byte(s), nil
	}
	if len(d) == 0 {
		return nil, fmt.Errorf("%w: item without d", protocol.ErrMalformed)
	}
	return d, nil
}

// poll handles GET /poll: it drops the frames the client acknowledged and
// answers the next ones at once, or holds the request until frames arrive,
// the session closes, a newer poll replaces this one (answered with an
// empty batch), or PollTimeout passes (an empty batch with "ping":true).
func (h *Handler) poll(w http.ResponseWriter, r *http.Request, s *session) {
	m := h.metrics
	ack, err := strconv.ParseUint(r.URL.Query().Get("ack"), 10, 64)
	if err != nil && r.URL.Query().Get("ack") != "" {
		h.fail(w, http.StatusBadRequest, codeBadRequest, "ack must be a frame sequence number")
		return
	}
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(h.cfg.PollTimeout + h.cfg.WriteTimeout))
	s.mu.Lock()
	if ack >= s.nextSeq {
		last := s.nextSeq - 1
		s.mu.Unlock()
		h.fail(w, http.StatusBadRequest, codeBadAck, fmt.Sprintf("ack %d is beyond the last frame %d", ack, last))
		return
	}
	s.lastPoll = time.Now()
	s.polled = true
	s.ackLocked(ack)
	if b, ok := s.takeLocked(); ok {
		s.mu.Unlock()
		h.answer(w, b, false)
		return
	}
	if s.poll != nil { // the older poll answers an empty batch
		m.polls.WithLabelValues("replaced").Inc()
		s.wakeLocked()
	}
	me := &waiter{wake: make(chan struct{}, 1)}
	s.poll = me
	s.mu.Unlock()
	m.held.Inc()
	defer m.held.Dec()

	t := time.NewTimer(h.cfg.PollTimeout)
	defer t.Stop()
	for {
		timeout, gone := false, false
		select {
		case <-me.wake:
		case <-t.C:
			timeout = true
		case <-r.Context().Done():
			gone = true
		}
		s.mu.Lock()
		if s.poll != me {
			s.mu.Unlock()
			h.answer(w, batch{}, false)
			return
		}
		var b batch
		ok := false
		if !gone {
			b, ok = s.takeLocked()
		}
		if ok || timeout || gone {
			s.poll = nil
			s.lastPoll = time.Now()
			s.mu.Unlock()
			if gone {
				m.polls.WithLabelValues("gone").Inc()
				return
			}
			h.answer(w, b, !ok)
			return
		}
		s.mu.Unlock()
	}
}

// answer writes a poll response.
func (h *Handler) answer(w http.ResponseWriter, b batch, ping bool) {
	m := h.metrics
	switch {
	case b.closing:
		m.polls.WithLabelValues("close").Inc()
	case len(b.frames) > 0:
		m.polls.WithLabelValues("data").Inc()
	case ping:
		m.polls.WithLabelValues("ping").Inc()
	}
	m.framesOut.Add(float64(len(b.frames)))
	m.framesResent.Add(float64(b.resent))
	h.reply(w, http.StatusOK, appendBatch(nil, b, ping))
}

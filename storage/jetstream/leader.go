package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// errNoMsg is leaderGet's answer when no message matches.
var errNoMsg = errors.New("jetstream: no message")

// msgGetRequest is the JSApiMsgGetRequest subset this store uses.
type msgGetRequest struct {
	Seq        uint64     `json:"seq,omitempty"`
	LastBySubj string     `json:"last_by_subj,omitempty"`
	NextBySubj string     `json:"next_by_subj,omitempty"`
	StartTime  *time.Time `json:"start_time,omitempty"` // the first message stored at or after it (with NextBySubj: matching it)
}

// storedMsg is a message as the stream leader returns it.
type storedMsg struct {
	Subject string `json:"subject"`
	Seq     uint64 `json:"seq"`
	Data    []byte `json:"data"`
}

type msgGetResponse struct {
	Error *struct {
		Code        int    `json:"code"`
		ErrCode     int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error"`
	Message *storedMsg `json:"message"`
}

// JetStream error codes of message gets.
const (
	errCodeNoMessage      = 10037 // no message found (JSNoMessageFoundErr)
	errCodeStreamNotFound = 10059 // stream not found (JSStreamNotFoundErr)
)

// leaderGet asks the leader of stream for one message
// ($JS.API.STREAM.MSG.GET, which only the leader answers, unlike direct
// gets that replicas answer too and may answer stale). While the stream
// has no leader (an election after a crash) nobody answers: it asks again
// every second, for up to RequestTimeout.
func (s *Store) leaderGet(ctx context.Context, stream string, req msgGetRequest) (*storedMsg, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.reqCtx(ctx)
	defer cancel()
	subj := "$JS.API.STREAM.MSG.GET." + stream
	for {
		actx, cancel := context.WithTimeout(ctx, time.Second)
		reply, err := s.nc.RequestWithContext(actx, subj, body)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("jetstream: read %s: %w", stream, ctx.Err())
			}
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) {
				continue
			}
			return nil, fmt.Errorf("jetstream: read %s: %w", stream, err)
		}
		var r msgGetResponse
		if err := json.Unmarshal(reply.Data, &r); err != nil {
			return nil, fmt.Errorf("jetstream: read %s: bad answer: %w", stream, err)
		}
		if r.Error != nil {
			switch r.Error.ErrCode {
			case errCodeNoMessage:
				return nil, errNoMsg
			case errCodeStreamNotFound:
				// Right after a stream is created, a server that has
				// not applied its assignment yet says so: ask again.
				select {
				case <-ctx.Done():
				case <-time.After(20 * time.Millisecond):
					continue
				}
			}
			return nil, fmt.Errorf("jetstream: read %s: %d/%d %s", stream, r.Error.Code, r.Error.ErrCode, r.Error.Description)
		}
		if r.Message == nil {
			return nil, fmt.Errorf("jetstream: read %s: answer without a message", stream)
		}
		return r.Message, nil
	}
}

// scan calls fn with every message of stream on subjects matching filter,
// in stream order, reading through the leader; at most limit messages
// (beyond that: an error, the stream holds more than it may).
func (s *Store) scan(ctx context.Context, stream, filter string, limit int, fn func(*storedMsg) error) error {
	next := uint64(1)
	for n := 0; ; n++ {
		m, err := s.leaderGet(ctx, stream, msgGetRequest{Seq: next, NextBySubj: filter})
		if errors.Is(err, errNoMsg) {
			return nil
		}
		if err != nil {
			return err
		}
		if n == limit {
			return fmt.Errorf("jetstream: %s holds more than %d messages on %s", stream, limit, filter)
		}
		if err := fn(m); err != nil {
			return err
		}
		next = m.Seq + 1
	}
}

type msgDeleteResponse struct {
	Success bool `json:"success"`
	Error   *struct {
		Code        int    `json:"code"`
		ErrCode     int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error"`
}

// deleteRequest is the JSApiMsgDeleteRequest for seq, no erase, written
// by hand: there is one per ack, and json.Marshal was a quarter of
// deleteMsg's CPU.
func deleteRequest(seq uint64) []byte {
	body := strconv.AppendUint(append(make([]byte, 0, 48), `{"seq":`...), seq, 10)
	return append(body, `,"no_erase":true}`...)
}

// deleteMsg deletes message seq of stream (no erase) and reports whether
// it was there.
func (s *Store) deleteMsg(ctx context.Context, stream string, seq uint64) (bool, error) {
	body := deleteRequest(seq)
	ctx, cancel := s.reqCtx(ctx)
	defer cancel()
	reply, err := s.nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.DELETE."+stream, body)
	if err != nil {
		return false, fmt.Errorf("jetstream: delete %s/%d: %w", stream, seq, err)
	}
	var r msgDeleteResponse
	if err := json.Unmarshal(reply.Data, &r); err != nil {
		return false, fmt.Errorf("jetstream: delete %s/%d: bad answer: %w", stream, seq, err)
	}
	switch {
	case r.Success:
		return true, nil
	case r.Error != nil && strings.Contains(r.Error.Description, "no message found"):
		// 10057 "message delete failed", for a message already gone.
		return false, nil
	case r.Error != nil:
		return false, fmt.Errorf("jetstream: delete %s/%d: %d/%d %s", stream, seq, r.Error.Code, r.Error.ErrCode, r.Error.Description)
	}
	return false, fmt.Errorf("jetstream: delete %s/%d: neither success nor error", stream, seq)
}

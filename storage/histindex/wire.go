package histindex

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/jetstream"
)

// The request/reply messages on <ns>.svc.hist (JSON).

// Request ops.
const (
	opQuery  = "query"
	opDelete = "delete"
)

// request is a query (Q) or a delete (App, Conv, ID, Time).
type request struct {
	Op string `json:"op"`
	// Seq is the RT_HIST sequence the answer must include; 0 means the
	// stream's last sequence when the indexer gets the request.
	Seq  uint64        `json:"seq,omitempty"`
	Q    *queryRequest `json:"q,omitempty"`
	App  string        `json:"app,omitempty"`
	Conv string        `json:"conv,omitempty"`
	ID   string        `json:"id,omitempty"`
	Time int64         `json:"t,omitempty"`
}

// queryRequest is a storage.HistoryQuery.
type queryRequest struct {
	App        string `json:"app"`
	ConvID     string `json:"conv,omitempty"`
	From       string `json:"from,omitempty"`
	Before     int64  `json:"before,omitempty"`
	AtOrBefore int64  `json:"atOrBefore,omitempty"`
	BeforeID   string `json:"beforeId,omitempty"`
	Limit      int    `json:"limit,omitempty"`
}

func toQueryRequest(q storage.HistoryQuery) *queryRequest {
	return &queryRequest{App: q.App, ConvID: q.ConvID, From: q.From, Before: q.Before,
		AtOrBefore: q.AtOrBefore, BeforeID: q.BeforeID, Limit: q.Limit}
}

func (r *queryRequest) query() storage.HistoryQuery {
	return storage.HistoryQuery{App: r.App, ConvID: r.ConvID, From: r.From, Before: r.Before,
		AtOrBefore: r.AtOrBefore, BeforeID: r.BeforeID, Limit: r.Limit}
}

// Reply error codes, mapped back to the sentinel errors by the client.
const (
	codeNotFound = "notfound"
	codeInvalid  = "invalid"
	codeBehind   = "behind"
	codeBusy     = "busy"
	codeInternal = "internal"
)

// reply answers a request: the messages of a query page, newest first, in
// the RT_HIST record format; More when the page was cut to fit one NATS
// message (the client asks for the rest); or an error.
type reply struct {
	Msgs []json.RawMessage `json:"m,omitempty"`
	More bool              `json:"more,omitempty"`
	Code string            `json:"code,omitempty"`
	Err  string            `json:"err,omitempty"`
}

// errorReply returns the reply for err.
func errorReply(err error) reply {
	code := codeInternal
	switch {
	case errors.Is(err, storage.ErrNotFound):
		code = codeNotFound
	case errors.Is(err, storage.ErrInvalid):
		code = codeInvalid
	case errors.Is(err, ErrBehind):
		code = codeBehind
	case errors.Is(err, ErrBusy):
		code = codeBusy
	}
	return reply{Code: code, Err: err.Error()}
}

// err returns the error a reply carries, nil if none.
func (r *reply) err() error {
	var base error
	switch r.Code {
	case "":
		return nil
	case codeNotFound:
		base = storage.ErrNotFound
	case codeInvalid:
		base = storage.ErrInvalid
	case codeBehind:
		base = ErrBehind
	case codeBusy:
		base = ErrBusy
	default:
		return fmt.Errorf("histindex: indexer: %s", r.Err)
	}
	return fmt.Errorf("%w (indexer: %s)", base, r.Err)
}

// messages decodes the page of a reply.
func (r *reply) messages() ([]*storage.Message, error) {
	ms := make([]*storage.Message, 0, len(r.Msgs))
	for _, b := range r.Msgs {
		m, err := jetstream.DecodeMessage(b)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, nil
}

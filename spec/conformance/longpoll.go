package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtgate/rtgate/protocol"
)

// lpConn is a long-poll client (spec/longpoll.md): sends are POSTed one
// batch at a time with increasing cseq, Recv polls with the cumulative ack
// and drops frames it already has. It does not retry lost requests: on
// loopback a failed request is a failure of the server under test.
type lpConn struct {
	base string // ends in "/"
	// others, when set, are more nodes' prefixes (ending in "/"): the
	// requests after the open go to base and others in turn.
	others []string
	turn   atomic.Uint64 // requests made so far
	hc     *http.Client
	sid    string

	ctx    context.Context // canceled by Close: ends a held poll
	cancel context.CancelFunc

	smu  sync.Mutex // serialises sends
	cseq int64      // last cseq sent; guarded by smu

	// owned by the Recv caller
	ack    uint64
	queue  []json.RawMessage
	closed error // the final error, once seen

	once sync.Once
}

var _ RawConn = (*lpConn)(nil)

func dialLongPoll(ctx context.Context, base string, others []string, modern bool, hc *http.Client) (*lpConn, error) {
	dialect := "v1"
	if modern {
		dialect = "rtgate.json.1"
	}
	body, _ := json.Marshal(map[string]string{"dialect": dialect})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"open", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	var open struct {
		SID     string `json:"sid"`
		Dialect string `json:"dialect"`
	}
	if err := lpDo(hc, req, &open); err != nil {
		return nil, fmt.Errorf("long-poll open: %w", err)
	}
	if open.SID == "" || open.Dialect != dialect {
		return nil, fmt.Errorf("long-poll open answered sid %q dialect %q, want dialect %s", open.SID, open.Dialect, dialect)
	}
	c := &lpConn{base: base, others: others, hc: hc, sid: open.SID}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// lpDo runs req and decodes a 200 JSON answer into out.
func lpDo(hc *http.Client, req *http.Request, out any) error {
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("answer %q: %w", data, err)
		}
	}
	return nil
}

func (c *lpConn) url(endpoint string, q url.Values) string {
	q.Set("sid", c.sid)
	base := c.base
	if len(c.others) > 0 {
		if k := c.turn.Add(1) % uint64(len(c.others)+1); k > 0 {
			base = c.others[k-1]
		}
	}
	return base + endpoint + "?" + q.Encode()
}

func (c *lpConn) Send(cmd *protocol.Command) error {
	return c.sendItem(protocol.AppendJSON(nil, cmd))
}

// SendRaw sends b as one item whose d is a JSON string holding b (the
// server decodes the string's contents as the frame).
func (c *lpConn) SendRaw(b []byte) error {
	s, err := json.Marshal(string(b))
	if err != nil {
		return err
	}
	return c.sendItem(s)
}

func (c *lpConn) sendItem(d []byte) error {
	c.smu.Lock()
	defer c.smu.Unlock()
	c.cseq++
	body, _ := json.Marshal([]struct {
		Cseq int64           `json:"cseq"`
		D    json.RawMessage `json:"d"`
	}{{c.cseq, d}})
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("send", url.Values{}), bytes.NewReader(body))
	if err != nil {
		return err
	}
	var ans struct {
		Ack *int64 `json:"ack"`
	}
	if err := lpDo(c.hc, req, &ans); err != nil {
		return fmt.Errorf("long-poll send: %w", err)
	}
	if ans.Ack == nil || *ans.Ack != c.cseq {
		return fmt.Errorf("long-poll send of cseq %d answered ack %v", c.cseq, ans.Ack)
	}
	return nil
}

func (c *lpConn) Recv() (*protocol.Command, error) {
	for len(c.queue) == 0 {
		if c.closed != nil {
			return nil, c.closed
		}
		if err := c.poll(); err != nil {
			c.closed = err
			return nil, err
		}
	}
	d := c.queue[0]
	c.queue = c.queue[1:]
	cmd := new(protocol.Command)
	if err := protocol.DecodeJSON(d, cmd); err != nil {
		return nil, err
	}
	return cmd, nil
}

// poll runs one poll and queues its new frames; a close in the answer
// becomes c.closed once the frames before it are read.
func (c *lpConn) poll() error {
	req, err := http.NewRequestWithContext(c.ctx, http.MethodGet,
		c.url("poll", url.Values{"ack": {strconv.FormatUint(c.ack, 10)}}), nil)
	if err != nil {
		return err
	}
	var ans struct {
		Frames []struct {
			Seq uint64          `json:"seq"`
			D   json.RawMessage `json:"d"`
		} `json:"frames"`
		Close *struct {
			Code   int    `json:"code"`
			Reason string `json:"reason"`
		} `json:"close"`
	}
	if err := lpDo(c.hc, req, &ans); err != nil {
		if c.ctx.Err() != nil {
			return errors.New("long-poll: closed")
		}
		return fmt.Errorf("long-poll poll: %w", err)
	}
	for _, f := range ans.Frames {
		if f.Seq <= c.ack {
			continue
		}
		if f.Seq != c.ack+1 {
			return fmt.Errorf("long-poll: frame seq %d after %d (a gap)", f.Seq, c.ack)
		}
		c.ack = f.Seq
		c.queue = append(c.queue, f.D)
	}
	if ans.Close != nil {
		c.closed = &protocol.CloseError{Code: protocol.CloseCode(ans.Close.Code), Reason: ans.Close.Reason}
	}
	return nil
}

// Close ends the session (POST close) and a held poll.
func (c *lpConn) Close() error {
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("close", url.Values{}), nil); err == nil {
			lpDo(c.hc, req, nil)
		}
		c.cancel()
	})
	return nil
}

// Abort is Close: a long-poll session that merely stops polling lingers
// for the server's ping timeout (45 s by default), too long for a
// scenario; the close request ends it at once, without a `session close`.
func (c *lpConn) Abort() { c.Close() }

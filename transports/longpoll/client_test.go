package longpoll_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtgate/rtgate/protocol"
)

// lpClient is a small long-poll client, the Go counterpart of what the JS
// SDK does: one send and one poll in flight at most, sends retried until
// acknowledged, polls retried with the same ack, frames de-duplicated by
// seq. Send may be called concurrently with read; read is for one
// goroutine.
type lpClient struct {
	base    string // ends in "/", e.g. http://127.0.0.1:1234/lp/
	hc      *http.Client
	sid     string
	retries int // attempts per request after a transport error (0: none)

	ctx    context.Context
	cancel context.CancelFunc

	sendMu sync.Mutex
	cseq   int64 // last cseq used; guarded by sendMu

	// owned by the reader
	ack      uint64
	queue    []*protocol.Command
	closeErr *protocol.CloseError

	dupFrames atomic.Int64 // frames received again (dropped by seq)
	polls     atomic.Int64
}

// errHTTP is a non-200 answer of the server.
type errHTTP struct {
	status int
	code   string
	msg    string
}

func (e *errHTTP) Error() string { return fmt.Sprintf("http %d %s: %s", e.status, e.code, e.msg) }

// openLP opens a session with dialect ("" for the default).
func openLP(base string, hc *http.Client, dialect string, retries int) (*lpClient, error) {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &lpClient{base: base, hc: hc, retries: retries, ctx: ctx, cancel: cancel}
	var body []byte
	if dialect != "" {
		body, _ = json.Marshal(map[string]string{"dialect": dialect})
	}
	var resp struct {
		SID          string `json:"sid"`
		PingInterval int64  `json:"pingInterval"`
	}
	// Retrying an open may leak a session on the server (it expires).
	if err := c.do(http.MethodPost, "open", nil, body, &resp); err != nil {
		cancel()
		return nil, err
	}
	if resp.SID == "" || resp.PingInterval <= 0 {
		cancel()
		return nil, fmt.Errorf("bad open response %+v", resp)
	}
	c.sid = resp.SID
	return c, nil
}

// do runs one request, retrying transport errors, and decodes a 200 JSON
// answer into out.
func (c *lpClient) do(method, endpoint string, q url.Values, body []byte, out any) error {
	if q == nil {
		q = url.Values{}
	}
	if c.sid != "" {
		q.Set("sid", c.sid)
	}
	u := c.base + endpoint + "?" + q.Encode()
	var lastErr error
	for attempt := 0; attempt <= c.retries; attempt++ {
		if attempt > 0 {
			time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond) // retry backoff, not a test wait
		}
		req, err := http.NewRequestWithContext(c.ctx, method, u, bytes.NewReader(body))
		if err != nil {
			return err
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			lastErr = err
			if c.ctx.Err() != nil {
				return err
			}
			continue
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			lastErr = err
			continue
		}
		if resp.StatusCode != http.StatusOK {
			var e struct{ Code, Error string }
			json.Unmarshal(data, &e)
			return &errHTTP{status: resp.StatusCode, code: e.Code, msg: e.Error}
		}
		if out != nil {
			if err := json.Unmarshal(data, out); err != nil {
				return fmt.Errorf("decoding %s answer %q: %w", endpoint, data, err)
			}
		}
		return nil
	}
	return lastErr
}

// Send sends one command.
func (c *lpClient) Send(cmd *protocol.Command) error {
	return c.sendItem(protocol.AppendJSON(nil, cmd))
}

// SendRaw sends b as one frame, as a JSON string item (the server decodes
// the string's contents).
func (c *lpClient) SendRaw(b []byte) error {
	s, _ := json.Marshal(string(b))
	return c.sendItem(s)
}

func (c *lpClient) sendItem(d []byte) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	c.cseq++
	body, _ := json.Marshal([]struct {
		Cseq int64           `json:"cseq"`
		D    json.RawMessage `json:"d"`
	}{{c.cseq, d}})
	var resp struct {
		Ack *int64 `json:"ack"`
	}
	if err := c.do(http.MethodPost, "send", nil, body, &resp); err != nil {
		return err
	}
	if resp.Ack == nil || *resp.Ack < c.cseq {
		return fmt.Errorf("send cseq %d answered ack %v", c.cseq, resp.Ack)
	}
	return nil
}

// pollResponse is the body of a poll answer.
type pollResponse struct {
	Frames []struct {
		Seq uint64          `json:"seq"`
		D   json.RawMessage `json:"d"`
	} `json:"frames"`
	Close *struct {
		Code   int    `json:"code"`
		Reason string `json:"reason"`
	} `json:"close"`
	Ping bool `json:"ping"`
}

// read returns the next command, polling as needed; a close ends with a
// *protocol.CloseError.
func (c *lpClient) read() (*protocol.Command, error) {
	for len(c.queue) == 0 {
		if c.closeErr != nil {
			return nil, c.closeErr
		}
		if err := c.pollOnce(); err != nil {
			return nil, err
		}
	}
	cmd := c.queue[0]
	c.queue = c.queue[1:]
	return cmd, nil
}

// pollOnce runs one poll (retried with the same ack) and queues its frames.
func (c *lpClient) pollOnce() error {
	var resp pollResponse
	c.polls.Add(1)
	if err := c.do(http.MethodGet, "poll", url.Values{"ack": {strconv.FormatUint(c.ack, 10)}}, nil, &resp); err != nil {
		return err
	}
	for _, f := range resp.Frames {
		if f.Seq <= c.ack {
			c.dupFrames.Add(1)
			continue
		}
		if f.Seq != c.ack+1 {
			return fmt.Errorf("frame seq %d after %d: a frame was lost", f.Seq, c.ack)
		}
		cmd := new(protocol.Command)
		if err := protocol.DecodeJSON(f.D, cmd); err != nil {
			return fmt.Errorf("frame %d: %w", f.Seq, err)
		}
		c.ack = f.Seq
		c.queue = append(c.queue, cmd)
	}
	if resp.Close != nil {
		c.closeErr = &protocol.CloseError{Code: protocol.CloseCode(resp.Close.Code), Reason: resp.Close.Reason}
	}
	return nil
}

// closeSession ends the session from the client side.
func (c *lpClient) closeSession() error {
	err := c.do(http.MethodPost, "close", nil, nil, nil)
	c.cancel()
	return err
}

// faultTransport loses requests and responses at random: with probability
// before a request never reaches the server; with probability after the
// server handles it completely but the response is lost on the way back.
type faultTransport struct {
	base          http.RoundTripper
	before, after float64

	mu  sync.Mutex
	rng *rand.Rand // guarded by mu

	lostRequests, lostResponses atomic.Int64
}

var errInjected = errors.New("injected network fault")

func (t *faultTransport) roll(p float64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rng.Float64() < p
}

func (t *faultTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.roll(t.before) {
		if req.Body != nil {
			req.Body.Close()
		}
		t.lostRequests.Add(1)
		return nil, errInjected
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if t.roll(t.after) {
		io.Copy(io.Discard, resp.Body) // the server finished; the answer is lost
		resp.Body.Close()
		t.lostResponses.Add(1)
		return nil, errInjected
	}
	return resp, nil
}

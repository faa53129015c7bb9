package histindex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rtgate/rtgate/storage"
)

// ClientConfig configures a Client. Conn is required.
type ClientConfig struct {
	// Conn is the NATS connection (not owned).
	Conn *nats.Conn
	// Namespace is the cluster store's namespace; "" means "rt".
	Namespace string
	// Timeout bounds one request when the caller's context has no
	// earlier deadline; 0 means 10 s (more than an indexer's WaitTimeout).
	Timeout time.Duration
}

// Client is storage.History answered by the cluster's indexers. Wrap
// gives a whole storage.Store with it.
type Client struct {
	nc      *nats.Conn
	subject string
	timeout time.Duration
}

var _ storage.History = (*Client)(nil)

// NewClient returns a Client.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.Conn == nil {
		return nil, fmt.Errorf("%w: no NATS connection", ErrConfig)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	return &Client{nc: cfg.Conn, subject: Subject(cfg.Namespace), timeout: cfg.Timeout}, nil
}

// errNoIndexer is what a request answers when no indexer runs.
var errNoIndexer = fmt.Errorf("%w: no history indexer is running in the cluster (start one or two nodes with --history-indexer)", storage.ErrNotSupported)

// call sends rq to an indexer and decodes its reply.
func (c *Client) call(ctx context.Context, rq *request) (*reply, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	b, err := json.Marshal(rq)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", storage.ErrInvalid, err)
	}
	m, err := c.nc.RequestWithContext(ctx, c.subject, b)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, errNoIndexer
	}
	if err != nil {
		return nil, fmt.Errorf("histindex: request to the history indexer: %w", err)
	}
	var r reply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return nil, fmt.Errorf("histindex: bad reply from the history indexer: %w", err)
	}
	if err := r.err(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Query implements storage.History: the indexer's page, newest first. A
// page larger than one NATS message comes in parts, continued with msgid
// paging, which gives exactly the messages after the last one received.
func (c *Client) Query(ctx context.Context, q storage.HistoryQuery) ([]*storage.Message, error) {
	limit := q.EffectiveLimit()
	q.Limit = limit
	var out []*storage.Message
	for range storage.MaxHistoryLimit + 1 { // each part holds at least one message
		r, err := c.call(ctx, &request{Op: opQuery, Q: toQueryRequest(q)})
		if err != nil {
			return nil, err
		}
		ms, err := r.messages()
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
		if !r.More || len(ms) == 0 || len(out) >= limit {
			return out, nil
		}
		last := ms[len(ms)-1]
		q.Before, q.BeforeID, q.Limit = last.Time, last.ID, limit-len(out)
	}
	return out, nil
}

// Delete implements storage.History: the message leaves the history on
// every indexer before Delete returns.
func (c *Client) Delete(ctx context.Context, app, convID, msgID string, ts int64) error {
	_, err := c.delete(ctx, app, convID, msgID, ts)
	return err
}

// delete is Delete, returning the message deleted.
func (c *Client) delete(ctx context.Context, app, convID, msgID string, ts int64) (*storage.Message, error) {
	r, err := c.call(ctx, &request{Op: opDelete, App: app, Conv: convID, ID: msgID, Time: ts})
	if err != nil {
		return nil, err
	}
	ms, err := r.messages()
	if err != nil || len(ms) != 1 {
		return nil, fmt.Errorf("histindex: delete answered %d messages (%v)", len(ms), err)
	}
	return ms[0], nil
}

// Store is a storage.Store whose history queries and deletes go to the
// indexers, everything else to the cluster store it wraps. It hides the
// optional interfaces of the store it wraps: give it to the REST API, not
// to the core.
type Store struct {
	storage.Store
	hist   *Client
	closed atomic.Bool
}

// Wrap returns st with its history answered by c.
func Wrap(st storage.Store, c *Client) *Store { return &Store{Store: st, hist: c} }

// Close closes the store it wraps; history calls then answer
// storage.ErrClosed.
func (s *Store) Close() error {
	s.closed.Store(true)
	return s.Store.Close()
}

// Query implements storage.History through the indexers.
func (s *Store) Query(ctx context.Context, q storage.HistoryQuery) ([]*storage.Message, error) {
	if s.closed.Load() {
		return nil, storage.ErrClosed
	}
	return s.hist.Query(ctx, q)
}

// Delete implements storage.History through the indexers, then takes the
// message out of every inbox it was persisted into: those its history
// records name (when the store wrapped can say, as the JetStream store
// does), else the inboxes that may hold it, as a single node does: its
// direct recipients, or the group's present members but the sender.
func (s *Store) Delete(ctx context.Context, app, convID, msgID string, ts int64) error {
	if s.closed.Load() {
		return storage.ErrClosed
	}
	m, err := s.hist.delete(ctx, app, convID, msgID, ts)
	if err != nil {
		return err
	}
	var peers []string
	known := false
	if rf, ok := s.Store.(recipientFinder); ok {
		if peers, known, err = rf.Recipients(ctx, m); err != nil {
			return fmt.Errorf("histindex: deleted from the history; its inboxes: %w", err)
		}
	}
	if !known {
		guess, err := s.guessInboxes(ctx, m)
		if err != nil {
			return err
		}
		peers = append(peers, guess...)
	}
	for _, p := range peers {
		if _, err := s.Store.Remove(ctx, app, p, []string{msgID}); err != nil {
			return fmt.Errorf("histindex: deleted from the history; inbox of %s: %w", p, err)
		}
	}
	return nil
}

// recipientFinder is a store that knows which inboxes a message was
// persisted into (storage/jetstream.Store).
type recipientFinder interface {
	Recipients(ctx context.Context, m *storage.Message) (peers []string, known bool, err error)
}

// guessInboxes returns the inboxes that may hold m: its direct recipients,
// or its group's present members but the sender.
func (s *Store) guessInboxes(ctx context.Context, m *storage.Message) ([]string, error) {
	if m.Room == "" {
		return m.To, nil
	}
	g, err := s.Store.Group(ctx, m.App, m.Room)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("histindex: deleted from the history; group %s for its inboxes: %w", m.Room, err)
	}
	if g == nil {
		return m.To, nil
	}
	var peers []string
	for _, p := range g.Members {
		if p != m.From {
			peers = append(peers, p)
		}
	}
	return peers, nil
}

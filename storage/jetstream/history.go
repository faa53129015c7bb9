package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtgate/rtgate/storage"
)

// errHistory is what Query and Delete answer.
var errHistory = fmt.Errorf("%w: history queries on a cluster come with the history indexer (RT_HIST keeps every message meanwhile)", storage.ErrNotSupported)

// Query answers storage.ErrNotSupported: see the package doc.
func (s *Store) Query(ctx context.Context, _ storage.HistoryQuery) ([]*storage.Message, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	return nil, errHistory
}

// Delete answers storage.ErrNotSupported: see the package doc.
func (s *Store) Delete(ctx context.Context, _, _, _ string, _ int64) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	return errHistory
}

// clientSendsSlack widens the time window ClientSends reads: RT_HIST is
// searched by the servers' clocks, messages carry the node's.
const clientSendsSlack = time.Minute

// ClientSends calls fn with each message of RT_HIST with a ClientID and a
// Time at or after since. It reads the stream from about since to its end
// with one ordered consumer (deleted when done).
func (s *Store) ClientSends(ctx context.Context, since int64, fn func(*storage.Message) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	info, err := s.hist.Info(ctx)
	if err != nil {
		return fmt.Errorf("jetstream: history stream: %w", err)
	}
	start := time.UnixMilli(since).Add(-clientSendsSlack)
	if info.State.Msgs == 0 || info.State.LastTime.Before(start) {
		return nil
	}
	last := info.State.LastSeq
	cons, err := s.hist.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &start,
	})
	if err != nil {
		return fmt.Errorf("jetstream: history stream consumer: %w", err)
	}
	for {
		batch, err := cons.Fetch(256, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return fmt.Errorf("jetstream: read the history stream: %w", err)
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			meta, err := msg.Metadata()
			if err != nil {
				return err
			}
			m, err := decodeMessage(msg.Data())
			if err != nil {
				return err
			}
			if m.ClientID != "" && m.Time >= since {
				if err := fn(m); err != nil {
					return err
				}
			}
			if meta.Sequence.Stream >= last || meta.NumPending == 0 {
				return nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("jetstream: read the history stream: %w", err)
		}
		if n == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if n == 0 {
			return nil // nothing more came in a second: the messages from start were expired
		}
	}
}

// recipientsSlack widens the time window Recipients reads: a message's
// Time is its node's clock, the stream's times are the servers'.
const recipientsSlack = time.Minute

// Recipients returns the peers whose inboxes m (App, ID, ConvID, From,
// Time) was persisted into, read from its RT_HIST records (every copy).
// known is false when none was found (expired) or a record of m with
// recipients or a group names no inbox (as records written before they
// named them do; a record naming none for a message with recipients is
// new and says nothing wrong, so guessing then costs only removals of ids
// that are not there): the caller then adds its guess from m's recipients
// or group. It reads m's history subject through the stream leader, from
// about m.Time on (one request per record of that sender in that
// conversation since).
func (s *Store) Recipients(ctx context.Context, m *storage.Message) (peers []string, known bool, err error) {
	if err := s.check(ctx); err != nil {
		return nil, false, err
	}
	start := time.UnixMilli(m.Time).Add(-recipientsSlack)
	subj := s.n.histSubject(m.App, m.ConvID, m.From)
	req := msgGetRequest{NextBySubj: subj, StartTime: &start}
	seen := map[string]bool{}
	found, unnamed := 0, false
	for {
		sm, err := s.leaderGet(ctx, s.n.hist, req)
		if errors.Is(err, errNoMsg) {
			return peers, found > 0 && !unnamed, nil
		}
		if err != nil {
			return nil, false, err
		}
		req = msgGetRequest{Seq: sm.Seq + 1, NextBySubj: subj}
		var r record
		if err := json.Unmarshal(sm.Data, &r); err != nil {
			return nil, false, fmt.Errorf("jetstream: bad stored message: %w", err)
		}
		if r.ID != m.ID || r.Time != m.Time {
			continue
		}
		found++
		if r.Inbox == nil && len(r.To)+len(r.Room) > 0 {
			unnamed = true // before records named their inboxes; none has a sender alone
		}
		for _, p := range r.Inbox {
			if !seen[p] {
				seen[p] = true
				peers = append(peers, p)
			}
		}
	}
}

package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rtgate/rtgate/storage"
)

// sendRecord is a send claim as stored in RT_SENDS (JSON).
type sendRecord struct {
	Sum   uint64 `json:"sum"`
	State string `json:"state"` // "pending", "done" or "failed"
	At    int64  `json:"at"`    // when the claim was made or finished (ms, store clock)
	ID    string `json:"id,omitempty"`
	Time  int64  `json:"t,omitempty"`
}

// Claim states.
const (
	claimPending = "pending"
	claimDone    = "done"
	claimFailed  = "failed"
)

func sendKey(k storage.SendKey) string {
	return "s." + tok(k.App) + "." + tok(k.From) + "." + tok(k.ClientID)
}

func (n names) sendSubject(k storage.SendKey) string { return "$KV." + n.sends + "." + sendKey(k) }

// readSend reads a claim and its revision through the leader (nil, 0 if
// there is none).
func (s *Store) readSend(ctx context.Context, k storage.SendKey) (*sendRecord, uint64, error) {
	sm, err := s.leaderGet(ctx, "KV_"+s.n.sends, msgGetRequest{LastBySubj: s.n.sendSubject(k)})
	if errors.Is(err, errNoMsg) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	var r sendRecord
	if err := json.Unmarshal(sm.Data, &r); err != nil {
		return nil, 0, fmt.Errorf("jetstream: bad send claim: %w", err)
	}
	return &r, sm.Seq, nil
}

// ClaimSend claims a send in RT_SENDS by compare-and-swap (see
// storage.SendClaims). A pending claim older than twice PersistTimeout is
// taken over: its node did not finish it.
func (s *Store) ClaimSend(ctx context.Context, k storage.SendKey, sum uint64) (storage.SendClaim, bool, error) {
	if err := s.check(ctx); err != nil {
		return storage.SendClaim{}, false, err
	}
	ctx, cancel := s.groupCtx(ctx)
	defer cancel()
	stale := 2 * s.cfg.PersistTimeout.Milliseconds()
	for range maxCASAttempts {
		r, rev, err := s.readSend(ctx, k)
		if err != nil {
			return storage.SendClaim{}, false, err
		}
		now := s.cfg.Now().UnixMilli()
		if r != nil && r.Sum == sum && (r.State == claimDone || r.State == claimPending && now-r.At < stale) {
			return storage.SendClaim{Sum: r.Sum, Done: r.State == claimDone, ID: r.ID, Time: r.Time}, false, nil
		}
		data, _ := json.Marshal(sendRecord{Sum: sum, State: claimPending, At: now})
		ok, err := s.writeKV(ctx, s.n.sendSubject(k), data, rev)
		if err != nil {
			return storage.SendClaim{}, false, err
		}
		if ok {
			return storage.SendClaim{Sum: sum}, true, nil
		}
	}
	return storage.SendClaim{}, false, fmt.Errorf("jetstream: send claim: changed by others %d times in a row", maxCASAttempts)
}

// FinishSend records how an owned send ended (see storage.SendClaims).
func (s *Store) FinishSend(ctx context.Context, k storage.SendKey, sum uint64, id string, t int64, ok bool) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	ctx, cancel := s.groupCtx(ctx)
	defer cancel()
	r := sendRecord{Sum: sum, State: claimFailed, At: s.cfg.Now().UnixMilli()}
	if ok {
		r.State, r.ID, r.Time = claimDone, id, t
	}
	data, _ := json.Marshal(r)
	_, err := s.putKV(ctx, s.n.sendSubject(k), data)
	return err
}

// sendsTTL is how long RT_SENDS keeps a claim: longer than any send
// de-duplication window core uses.
const sendsTTL = 15 * time.Minute

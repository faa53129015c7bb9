package inbound

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/protocol"
)

func TestBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := NewBucket(10, 3, t0)
	for i := range 3 {
		if !b.Take(t0) {
			t.Fatalf("take %d of the burst refused", i)
		}
	}
	if b.Take(t0) {
		t.Fatal("take past the burst allowed")
	}
	if !b.Take(t0.Add(100 * time.Millisecond)) { // one token refilled
		t.Fatal("refilled token refused")
	}
	if b.Take(t0.Add(100 * time.Millisecond)) {
		t.Fatal("second take after one refill allowed")
	}
	if !b.Take(t0.Add(time.Hour)) || !b.Take(t0.Add(time.Hour)) || !b.Take(t0.Add(time.Hour)) || b.Take(t0.Add(time.Hour)) {
		t.Fatal("refill is not capped at the burst")
	}
	var off Bucket // zero rate: never refuses
	for range 1000 {
		if !off.Take(t0) {
			t.Fatal("zero bucket refused")
		}
	}
}

type closeRec struct {
	code   protocol.CloseCode
	reason string
	n      int
}

func (c *closeRec) Close(code protocol.CloseCode, reason string) {
	c.code, c.reason = code, reason
	c.n++
}

func TestHandled(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		name     string
		err      error
		readOn   bool
		wantCode protocol.CloseCode
	}{
		{"nil reads on", nil, true, 0},
		{"close error closes with its code", &protocol.CloseError{Code: protocol.CloseTooLong, Reason: "big"}, false, protocol.CloseTooLong},
		{"wrapped close error", fmt.Errorf("ctx: %w", &protocol.CloseError{Code: protocol.ClosePolicyViolation}), false, protocol.ClosePolicyViolation},
		{"conn closed is going away", core.ErrConnClosed, false, protocol.CloseGoingAway},
		{"other error is internal", errors.New("boom"), false, protocol.CloseInternal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c closeRec
			if got := Handled(&c, tc.err, log, core.ConnInfo{Transport: "test"}); got != tc.readOn {
				t.Fatalf("Handled = %v, want %v", got, tc.readOn)
			}
			if c.code != tc.wantCode || (tc.readOn && c.n != 0) {
				t.Fatalf("closed %d times with %d, want %d", c.n, c.code, tc.wantCode)
			}
		})
	}
}

// Package inbound holds what every transport's reader does the same way:
// the per-connection flood limit (Bucket) and acting on the core's answer
// to a frame (Handled).
//
// Concurrency: a Bucket is owned by one reader and is not safe for
// concurrent use; Handled may be called from any goroutine.
//
// Imports: core, protocol and the standard library.
package inbound

import (
	"errors"
	"log/slog"
	"time"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/protocol"
)

// Bucket is a token bucket: the sustained rate of inbound frames one
// connection may send, with a burst. The zero Bucket never refuses.
type Bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

// NewBucket returns a full bucket refilling at rate tokens per second up
// to burst. A non-positive rate never refuses.
func NewBucket(rate float64, burst int, now time.Time) Bucket {
	return Bucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

// Take spends one token, reporting false when none is left.
func (b *Bucket) Take(now time.Time) bool {
	if b.rate <= 0 {
		return true
	}
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Closer is the connection a reader closes.
type Closer interface {
	Close(code protocol.CloseCode, reason string)
}

// Handled acts on the error core.Client.Handle or BadFrame returned for a
// frame and reports whether the reader reads on (err is nil):
//   - a *protocol.CloseError closes c with its code and reason;
//   - core.ErrConnClosed (the hub refused or dropped the client) closes c
//     with 1001, a no-op when c is already closing;
//   - anything else is a core failure: logged, and c closes with 1011.
func Handled(c Closer, err error, log *slog.Logger, info core.ConnInfo) bool {
	if err == nil {
		return true
	}
	var ce *protocol.CloseError
	switch {
	case errors.As(err, &ce):
		c.Close(ce.Code, ce.Reason)
	case errors.Is(err, core.ErrConnClosed):
		c.Close(protocol.CloseGoingAway, "connection closed")
	default:
		log.Error("core failed a command", "transport", info.Transport, "remote", info.RemoteAddr, "err", err)
		c.Close(protocol.CloseInternal, "internal error")
	}
	return false
}

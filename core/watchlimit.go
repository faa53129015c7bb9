package core

import (
	"sync"

	"github.com/rtgate/rtgate/protocol"
)

// watchBudget counts the watch entries (session, watched peer) of each app
// on this node against Config.MaxWatchPerApp. A session's entries are
// reserved before they are added and given back when they are removed,
// so the count never passes the bound (issue 15, defect 2).
type watchBudget struct {
	max int // immutable

	mu    sync.Mutex
	inApp map[string]int // app id -> watch entries; guarded by mu
}

// reserve takes n entries for app, or reports false (taking none) when
// that would pass the bound.
func (b *watchBudget) reserve(app string, n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.inApp[app]+n > b.max {
		return false
	}
	if b.inApp == nil {
		b.inApp = make(map[string]int)
	}
	b.inApp[app] += n
	return true
}

// give returns n entries of app.
func (b *watchBudget) give(app string, n int) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.inApp[app] -= n; b.inApp[app] <= 0 {
		delete(b.inApp, app)
	}
}

// reserveWatches takes budget for up to n new watch entries of s: the
// connection's (MaxWatchPerConn) and the app's (MaxWatchPerApp). Over
// either bound the connection is closed with CloseTooManyWatches.
func (c *Client) reserveWatches(s *session, n int) *protocol.CloseError {
	cfg := &c.hub.cfg
	if c.watches+n > cfg.MaxWatchPerConn {
		return protocol.Closef(protocol.CloseTooManyWatches,
			"at most %d watched peers per connection, over all its sessions", cfg.MaxWatchPerConn)
	}
	if !c.hub.watches.reserve(s.app.ID, n) {
		c.hub.metrics.WatchRefusals.Inc()
		return protocol.Closef(protocol.CloseTooManyWatches,
			"the app has %d watched peers on this server, its bound", cfg.MaxWatchPerApp)
	}
	c.watches += n
	return nil
}

// giveWatches returns n watch entries of s (unwatched, or reserved and not
// used).
func (c *Client) giveWatches(s *session, n int) {
	c.watches -= n
	c.hub.watches.give(s.app.ID, n)
}

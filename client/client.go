package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtgate/rtgate/client/wire"
	"github.com/rtgate/rtgate/protocol"
)

// Client is one logical connection to an rtgate server carrying the
// sessions of one or more peers. It keeps the connection up: when it is
// lost the sessions are paused, the client reconnects with backoff and
// re-opens every session with its full watch list.
//
// Goroutines: the connection goroutine (dials, then reads every frame and
// matches replies; per connection it runs one helper that re-opens the
// sessions and one that sends keepalives) and the event goroutine (runs
// the Handler). Close stops both and waits for them.
type Client struct {
	cfg Config
	log *slog.Logger
	h   Handler

	ctx     context.Context // done when Close begins
	cancel  context.CancelFunc
	runDone chan struct{} // closed when the connection goroutine returned
	events  eventQueue
	seen    *idSet // ids of handled persistent messages; owned by the event goroutine

	// sendMu serialises "register the call, then write it", so the order
	// of the FIFO (legacy matching) is the order on the wire.
	sendMu sync.Mutex

	mu       sync.Mutex
	conn     wire.Conn           // the live connection, nil while offline; guarded by mu
	modern   bool                // conn's dialect; guarded by mu
	sessions map[string]*Session // by peer id; guarded by mu
	pending  map[int64]*call     // requests waiting for a reply, by i; guarded by mu
	fifo     []*call             // the same, in wire order; guarded by mu
	nextI    int64               // last request serial used; guarded by mu
	closed   bool                // Close was called; guarded by mu
	resumed  bool                // a session was (re)opened on conn; guarded by mu

	draining atomic.Bool                                                     // Close began: no more pushes for the Handler
	lastRecv atomic.Int64                                                    // unix ns of the last frame received
	dial     func(context.Context, string, *wire.Options) (wire.Conn, error) // wire.Dial; tests wrap it
	stats    struct{ connects, duplicates, slowHandler, dialErrors atomic.Uint64 }
}

// Stats are counters of a Client's life.
type Stats struct {
	Connects    uint64 // connections established
	DialErrors  uint64 // failed connection attempts
	Duplicates  uint64 // redelivered messages dropped (and re-acked)
	SlowHandler uint64 // connections dropped because the Handler fell behind
}

// errOffline is internal: the request found no live connection or session
// and waits for one.
var errOffline = errors.New("client: offline")

// errSlowHandler ends a connection whose Handler fell behind.
var errSlowHandler = errors.New("client: handler too slow, event queue full")

// New validates cfg and returns a Client that starts connecting at once
// (in the background: Open waits for the connection).
func New(cfg Config) (*Client, error) {
	if cfg.URL == "" {
		return nil, errors.New("client: Config.URL is required")
	}
	if cfg.AppID == "" {
		return nil, errors.New("client: Config.AppID is required")
	}
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		cfg:      cfg,
		log:      cfg.Logger.With("url", cfg.URL),
		h:        cfg.Handler,
		ctx:      ctx,
		cancel:   cancel,
		runDone:  make(chan struct{}),
		seen:     newIDSet(cfg.DedupeSize),
		sessions: make(map[string]*Session),
		pending:  make(map[int64]*call),
		dial:     wire.Dial,
	}
	if cfg.dial != nil {
		c.dial = cfg.dial
	}
	c.events.init()
	go c.events.run()
	go c.run()
	return c, nil
}

// Close lets the Handler finish the events already queued (so the messages
// it handled are acknowledged), then closes the connection and every
// session, fails the requests in flight with ErrClosed, and waits for the
// client's goroutines. It must not be called
// from a Handler method. Closing the connection ends the sessions on the
// server; use Session.Close first for an explicit logout.
func (c *Client) Close() error {
	// First let the Handler finish what is queued while the connection is
	// still up, so that its acks are sent; frames arriving meanwhile are
	// not handed out (the server keeps and redelivers them).
	if !c.draining.Swap(true) {
		barrier := make(chan struct{})
		c.emit(func() { close(barrier) })
		t := time.NewTimer(c.cfg.RequestTimeout)
		select {
		case <-barrier:
		case <-t.C:
		}
		t.Stop()
	}
	c.mu.Lock()
	already := c.closed
	c.closed = true
	conn := c.conn
	c.mu.Unlock()
	if !already {
		c.cancel()
		if conn != nil {
			conn.Close()
		}
	}
	<-c.runDone
	c.mu.Lock()
	calls := c.takeCalls()
	var list []*Session
	for _, s := range c.sessions {
		list = append(list, s)
	}
	c.sessions = map[string]*Session{}
	for _, s := range list {
		s.end(ErrClosed)
	}
	c.mu.Unlock()
	for _, cl := range calls {
		c.complete(cl, nil, ErrClosed)
	}
	c.events.close()
	c.events.wait()
	return nil
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{
		Connects:    c.stats.connects.Load(),
		DialErrors:  c.stats.dialErrors.Load(),
		Duplicates:  c.stats.duplicates.Load(),
		SlowHandler: c.stats.slowHandler.Load(),
	}
}

// Transport returns the transport of the live connection ("ws", "quic",
// "webtransport"), or "" while offline.
func (c *Client) Transport() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return ""
	}
	return c.conn.Transport()
}

// run is the connection goroutine: connect, serve, back off, again.
func (c *Client) run() {
	defer close(c.runDone)
	for attempt := 0; ; {
		if c.ctx.Err() != nil {
			return
		}
		dctx, cancel := context.WithTimeout(c.ctx, c.cfg.DialTimeout)
		conn, err := c.dial(dctx, c.cfg.URL, c.cfg.Transport)
		cancel()
		if err == nil {
			if c.serve(conn) {
				attempt = 0
			}
		} else if c.ctx.Err() == nil {
			c.stats.dialErrors.Add(1)
			c.log.Debug("client: connect failed", "attempt", attempt, "err", err)
			c.emit(func() { c.h.OnError(nil, fmt.Errorf("client: connect: %w", err)) })
		}
		if c.cfg.Reconnect.Disabled && (err == nil || attempt > 0) {
			<-c.ctx.Done()
			return
		}
		t := time.NewTimer(c.cfg.Reconnect.delay(attempt, rand.Float64()))
		select {
		case <-c.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		attempt++
	}
}

// serve runs one connection until it ends; healthy reports whether a
// session was (re)opened on it, which resets the backoff.
func (c *Client) serve(conn wire.Conn) (healthy bool) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		conn.Close()
		return false
	}
	c.conn, c.modern, c.resumed = conn, conn.Modern(), false
	var list []*Session
	for _, s := range c.sessions {
		list = append(list, s)
	}
	c.mu.Unlock()
	c.stats.connects.Add(1)
	c.lastRecv.Store(time.Now().UnixNano())
	c.log.Debug("client: connected", "transport", conn.Transport())

	ctx, cancel := context.WithCancel(c.ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.reopen(ctx, list) }()
	go func() { defer wg.Done(); c.keepalive(ctx, conn) }()
	err := c.read(conn)
	cancel()
	conn.Close()
	wg.Wait()
	return c.lost(conn, err)
}

// read reads frames until the connection fails.
func (c *Client) read(conn wire.Conn) error {
	for {
		cmd, err := conn.Recv()
		if err != nil {
			if errors.Is(err, protocol.ErrMalformed) || errors.Is(err, protocol.ErrUnknownCommand) {
				c.emit(func() { c.h.OnError(nil, err) })
				continue
			}
			return err
		}
		c.lastRecv.Store(time.Now().UnixNano())
		c.handle(cmd)
		if c.events.len() > c.cfg.MaxQueuedEvents {
			c.stats.slowHandler.Add(1)
			return errSlowHandler
		}
	}
}

// lost tears a connection down: requests in flight fail with ErrConnLost,
// open sessions are paused.
func (c *Client) lost(conn wire.Conn, cause error) (healthy bool) {
	c.mu.Lock()
	healthy = c.resumed
	c.conn = nil
	calls := c.takeCalls()
	closing := c.closed
	var paused []*Session
	var fatal []*Session
	var ce *protocol.CloseError
	refused := errors.As(cause, &ce) && (ce.Code == protocol.CloseLoginTimeout ||
		ce.Code == protocol.CloseMalformedPeerID || ce.Code == protocol.CloseAppNotAvailable)
	for _, s := range c.sessions {
		switch {
		case refused && s.opening:
			// The server refused the open in flight: retrying would be
			// refused again.
			fatal = append(fatal, s)
		case s.state == stateOpen:
			s.state = statePaused
			s.ready = make(chan struct{})
			paused = append(paused, s)
		}
		s.opening = false
	}
	for _, s := range fatal {
		delete(c.sessions, s.peer)
		s.end(fmt.Errorf("client: session open refused: %w", cause))
	}
	c.mu.Unlock()

	for _, cl := range calls {
		c.complete(cl, nil, fmt.Errorf("%w: %v", ErrConnLost, cause))
	}
	if closing {
		return healthy
	}
	c.log.Info("client: connection lost", "transport", conn.Transport(), "err", cause)
	c.emit(func() { c.h.OnError(nil, fmt.Errorf("client: connection lost: %w", cause)) })
	for _, s := range fatal {
		err := s.err
		c.emit(func() { c.h.OnError(s, err) })
	}
	for _, s := range paused {
		c.emit(func() { c.h.OnPaused(s) })
	}
	return healthy
}

// reopen sends `session open` for every session of a new connection.
func (c *Client) reopen(ctx context.Context, list []*Session) {
	for _, s := range list {
		if ctx.Err() != nil {
			return
		}
		if err := c.sendOpen(ctx, s); err != nil && ctx.Err() == nil {
			c.emit(func() { c.h.OnError(s, fmt.Errorf("client: re-open: %w", err)) })
		}
	}
}

// keepalive sends `{}` every KeepAlive and drops a connection that stayed
// silent for three periods.
func (c *Client) keepalive(ctx context.Context, conn wire.Conn) {
	if c.cfg.KeepAlive <= 0 {
		return
	}
	t := time.NewTicker(c.cfg.KeepAlive)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if time.Since(time.Unix(0, c.lastRecv.Load())) > 3*c.cfg.KeepAlive {
			c.log.Info("client: connection silent, dropping it", "transport", conn.Transport())
			conn.Close()
			return
		}
		c.sendMu.Lock()
		err := conn.Send(&protocol.Command{Kind: protocol.KindKeepalive})
		c.sendMu.Unlock()
		if err != nil {
			conn.Close()
			return
		}
	}
}

// emit queues an event for the Handler.
func (c *Client) emit(f func()) { c.events.push(f) }

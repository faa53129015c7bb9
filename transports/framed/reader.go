package framed

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/transports/internal/inbound"
)

// Serve connects c to hub and serves it until the connection ends: it runs
// the writer, waits for the client's stream with accept, reads and handles
// frames in the caller's goroutine, calls core.Client.Disconnect once and
// returns after the writer has closed the session.
//
// The connection is connected to the hub before its stream exists, so the
// hub's login timeout (4108) bounds a connection that never opens one, and
// a hub that is shutting down closes it with 1001 at once. accept's
// context ends when c closes. ctx is the QUIC connection's (or WT
// session's) context: when it ends, the connection is treated as lost.
func (c *Conn) Serve(ctx context.Context, hub *core.Hub, accept func(context.Context) (Stream, error)) {
	c.m.Conns.Inc()
	defer c.m.Conns.Dec()
	stop := c.stopOn(ctx)
	defer stop()
	c.client = hub.Connect(c) // may close c at once (hub shutting down)
	go c.writeLoop()
	if str := c.acceptStream(ctx, accept); str != nil {
		c.readLoop(str)
	}
	close(c.readerDone)
	c.client.Disconnect()
	<-c.writerDone
}

// acceptStream waits for the client's stream and attaches it; nil when c
// closed or the connection failed first.
func (c *Conn) acceptStream(ctx context.Context, accept func(context.Context) (Stream, error)) Stream {
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Lock order: c.mu, then the queue's. closed() closes the queue before
	// it takes c.mu: either it finds cancelAccept set or we find the queue
	// closed.
	c.mu.Lock()
	c.cancelAccept = cancel
	closing := c.q.Closed()
	c.mu.Unlock()
	if closing {
		return nil
	}
	str, err := accept(actx)
	c.mu.Lock()
	c.cancelAccept = nil
	closing = c.q.Closed()
	if err == nil {
		c.str = str
	}
	c.mu.Unlock()
	if err != nil {
		if !closing {
			c.log.Debug("no stream", "transport", c.info.Transport, "remote", c.info.RemoteAddr, "err", err)
			c.abort()
		}
		return nil
	}
	signal(c.wake) // frames may have been queued before the stream
	if closing {
		return nil
	}
	return str
}

// readLoop reads frames from str until the connection closes or fails.
// Every way out leaves c closing, so the writer finishes.
func (c *Conn) readLoop(str Stream) {
	fr := protocol.NewFrameReader(str, c.opts.MaxFrameBytes)
	bucket := inbound.NewBucket(c.opts.CommandsPerSecond, c.opts.Burst, time.Now())
	var cmd protocol.Command
	for {
		if c.q.OverHalf() {
			// Our own replies are piling up: let the writer catch up before
			// reading more requests (the client is slowed, not dropped).
			select {
			case <-c.q.Drained():
			case <-c.writerDone:
			}
			continue
		}
		str.SetReadDeadline(time.Now().Add(c.opts.ReadTimeout))
		if c.isClosing() {
			return
		}
		body, err := fr.ReadFrame()
		if err != nil {
			c.readFailed(err)
			return
		}
		c.m.FramesIn.Inc()
		c.m.BytesIn.Add(float64(len(body)))
		if !bucket.Take(time.Now()) {
			c.Close(protocol.ClosePolicyViolation, "flood")
			return
		}
		if err := protocol.DecodeMsgpack(body, &cmd); err != nil {
			err = c.client.BadFrame(&cmd, err)
			if !inbound.Handled(c, err, c.log, c.info) {
				return
			}
			continue
		}
		if !inbound.Handled(c, c.client.Handle(&cmd), c.log, c.info) {
			return
		}
	}
}

// readFailed closes c after a read error: a clean FIN is an orderly close
// by the client, an oversize length is 4109, anything else (a reset, the
// connection lost, a stalled stream) aborts.
func (c *Conn) readFailed(err error) {
	switch {
	case c.isClosing():
		// Close woke the reader; the writer finishes.
	case errors.Is(err, protocol.ErrFrameTooLarge):
		c.Close(protocol.CloseTooLong, err.Error())
	case errors.Is(err, io.EOF):
		c.Close(protocol.CloseNormal, "client closed the stream")
	default:
		c.log.Debug("stream read failed", "transport", c.info.Transport, "remote", c.info.RemoteAddr, "err", err)
		c.abort()
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/rtgate/rtgate/internal/config"
)

// Shutdown budget and HTTP server bounds.
const (
	shutdownTimeout   = 15 * time.Second // whole graceful shutdown
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
)

// run starts the server described by args and getenv, writes logs and the
// listen addresses to stdout, and serves until ctx is done; then it shuts
// down gracefully and returns nil. It returns early with an error for a bad
// configuration (wrapping config.ErrInvalid), a store that cannot open or
// an address that cannot be bound.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	stdout = &lockedWriter{w: stdout}
	cfg, err := config.Load(args, getenv, stdout)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stdout)

	s, err := build(cfg, log)
	if err != nil {
		return err
	}
	defer s.closeStore()

	lns := make([]net.Listener, 0, len(cfg.Listen))
	for _, addr := range cfg.Listen {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return fmt.Errorf("listen %s: %w", addr, err)
		}
		lns = append(lns, ln)
	}

	srv := &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	serveErr := make(chan error, len(lns))
	var wg sync.WaitGroup
	for _, ln := range lns {
		wg.Add(1)
		go func() { // owned by run, which waits on wg
			defer wg.Done()
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				serveErr <- err
			}
		}()
		addr := ln.Addr().String()
		fmt.Fprintf(stdout, "rtgate listening on http://%s (WebSocket ws://%s/ and /ws, long-poll /lp/, router /v1/route, REST /1.1/, /healthz, /metrics)\n", addr, addr)
		log.Info("listening", "addr", addr)
	}

	var failure error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "cause", context.Cause(ctx))
	case failure = <-serveErr:
		log.Error("serve failed, shutting down", "err", failure)
	}

	// Graceful shutdown: stop accepting (srv.Shutdown closes the listeners
	// at once, then waits for plain HTTP requests), close every client
	// connection, which also answers held long-polls, and wait for commands
	// in flight; then close the store.
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Shutdown(sctx) }() // owned by run, which receives from httpDone
	if err := s.hub.Shutdown(sctx); err != nil {
		log.Warn("hub shutdown did not finish", "err", err)
	}
	waitCtx(sctx, s.ws.Wait)
	waitCtx(sctx, s.longpoll.Wait)
	if err := <-httpDone; err != nil {
		log.Warn("http shutdown", "err", err)
	}
	wg.Wait()
	if s.push != nil {
		if err := s.push.Close(sctx); err != nil {
			log.Warn("push hook did not drain", "err", err)
		}
	}
	if err := s.closeStore(); err != nil {
		log.Error("closing store", "err", err)
		if failure == nil {
			failure = err
		}
	}
	log.Info("stopped")
	return failure
}

// waitCtx calls wait and returns when it does or when ctx is done.
func waitCtx(ctx context.Context, wait func()) {
	done := make(chan struct{})
	go func() { // ends with wait; may outlive waitCtx only until shutdown completes
		wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// newLogger returns the slog logger cfg asks for, writing to w.
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.SlogLevel()}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// lockedWriter serialises writes from the logger and run's own lines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// mkdirData makes sure the data directory exists.
func mkdirData(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	return nil
}

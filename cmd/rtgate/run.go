package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/rtgate/rtgate/compat/flashpolicy"
	"github.com/rtgate/rtgate/internal/config"
	"github.com/rtgate/rtgate/internal/devcert"
	quictransport "github.com/rtgate/rtgate/transports/quic"
)

// Shutdown budget and HTTP server bounds.
const (
	shutdownTimeout   = 15 * time.Second // whole graceful shutdown
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
	leaveGrace        = 2 * time.Second // cluster: between closing the connections and leaving
)

// run starts the server described by args and getenv, writes logs and the
// listen addresses to stdout, and serves until ctx is done; then it shuts
// down gracefully and returns nil. It returns early with an error for a bad
// configuration (wrapping config.ErrInvalid), an address that cannot be
// bound (a *bindError, before the store is opened) or a store that cannot
// open.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	stdout = &lockedWriter{w: stdout}
	cfg, err := config.Load(args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, commandsHelp)
	}
	if err != nil {
		return err
	}
	log := newLogger(cfg, stdout)

	var legacyCert tls.Certificate
	if cfg.Flash.LegacyTLSAddr != "" {
		if legacyCert, err = tls.LoadX509KeyPair(cfg.Flash.CertFile, cfg.Flash.KeyFile); err != nil {
			return fmt.Errorf("%w: flash legacy TLS certificate: %v", config.ErrInvalid, err)
		}
	}
	// Every port first, so that one in use fails before the store opens.
	socks, err := bind(cfg)
	if err != nil {
		return err
	}
	advertise, err := advertisedURL(cfg, socks, log)
	if err != nil {
		socks.close()
		return err
	}
	s, err := build(cfg, log, advertise)
	if err != nil {
		socks.close()
		return err
	}
	defer s.closeStore()

	srv := &http.Server{
		Handler:           s.handler(socks.admin == nil),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	// Flash clients: every HTTP port answers policy requests; optional
	// dedicated policy port and legacy-TLS port.
	// limits.connectionsPerIP: the count is taken on the raw socket.
	lns := make([]net.Listener, 0, len(socks.http)+len(socks.https)+1)
	for _, ln := range socks.http {
		lns = append(lns, s.flash.Listener(s.perIP.Listener(ln)))
	}
	// HTTPS/WSS: the same handler behind TLS, with the QUIC certificate
	// (HTTP/1.1 only, which WebSocket upgrades need).
	secure := map[net.Listener]bool{}
	for _, ln := range socks.https {
		ln = tls.NewListener(s.perIP.Listener(ln), s.certs.TLSConfig("http/1.1"))
		secure[ln] = true
		lns = append(lns, ln)
	}
	if socks.legacyTLS != nil {
		lns = append(lns, tls.NewListener(s.flash.Listener(socks.legacyTLS), flashpolicy.LegacyTLSConfig(legacyCert)))
	}
	policyLn := socks.policy
	var debugSrv *http.Server
	if ln := socks.debug; ln != nil {
		debugSrv = &http.Server{Handler: debugHandler(), ReadHeaderTimeout: readHeaderTimeout,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
		go debugSrv.Serve(ln) // ends when run closes debugSrv
		defer debugSrv.Close()
		fmt.Fprintf(stdout, "rtgate debug on http://%s (pprof /debug/pprof/, POST /debug/gc)\n", ln.Addr())
		log.Warn("debug listener on: pprof exposes internals, keep it on loopback", "addr", ln.Addr().String())
	}
	if ln := socks.admin; ln != nil {
		adminSrv := &http.Server{Handler: s.adminHandler(), ReadHeaderTimeout: readHeaderTimeout,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
		go adminSrv.Serve(ln) // ends when run closes adminSrv
		defer adminSrv.Close()
		fmt.Fprintf(stdout, "rtgate admin on http://%s (/metrics, /healthz, pprof /debug/pprof/, POST /debug/gc; not on the client port)\n", ln.Addr())
		log.Info("admin listener on: keep it private", "addr", ln.Addr().String())
	}
	udp := socks.udp
	if udp != nil {
		defer udp.Close()
		if a, ok := udp.LocalAddr().(*net.UDPAddr); ok {
			s.quicAddr.Store(a)
		}
	}

	// SIGHUP re-reads the production certificate (QUIC, WebTransport,
	// HTTPS), after its files were renewed. Taken before anything says the
	// server is up: a SIGHUP that follows the "listening" line is never
	// lost (or, without nohup, fatal).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	serveErr := make(chan error, len(lns)+2)
	var wg sync.WaitGroup
	if policyLn != nil {
		wg.Add(1)
		go func() { // owned by run, which waits on wg
			defer wg.Done()
			if err := s.flash.Serve(policyLn); err != nil && !errors.Is(err, net.ErrClosed) {
				serveErr <- err
			}
		}()
		fmt.Fprintf(stdout, "rtgate Flash policy on %s\n", policyLn.Addr())
	}
	if udp != nil {
		wg.Add(1)
		go func() { // owned by run, which waits on wg
			defer wg.Done()
			if err := s.quic.Serve(udp, s.certs.TLSConfig()); err != nil && !errors.Is(err, quictransport.ErrServerClosed) {
				serveErr <- err
			}
		}()
		info := s.certs.Info()
		addr := udp.LocalAddr().String()
		fmt.Fprintf(stdout, "rtgate QUIC on %s (raw QUIC ALPN rtgate/1, WebTransport https://%s/wt); certificate sha256 %s (base64 %s; GET /certinfo)\n",
			addr, addr, info.SHA256, info.SHA256Base64)
		qc := s.quic.QUICConfig()
		log.Info("quic listening", "addr", addr, "sha256", info.SHA256, "dev_certificate", info.Dev,
			"idle_timeout", qc.MaxIdleTimeout, "max_stream_window", qc.MaxStreamReceiveWindow,
			"max_connection_window", qc.MaxConnectionReceiveWindow, "max_streams", qc.MaxIncomingStreams)
	}
	for _, ln := range lns {
		wg.Add(1)
		go func() { // owned by run, which waits on wg
			defer wg.Done()
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				serveErr <- err
			}
		}()
		addr := ln.Addr().String()
		web, ws := "http", "ws"
		if secure[ln] {
			web, ws = "https", "wss"
		}
		metrics := ", /metrics"
		if socks.admin != nil {
			metrics = ""
		}
		fmt.Fprintf(stdout, "rtgate listening on %s://%s (WebSocket %s://%s/ and /ws, long-poll /lp/, router /v1/route, REST /1.1/, demo %s://%s/demo/, SDK /sdk/, /healthz%s)\n",
			web, addr, ws, addr, web, addr, metrics)
		log.Info("listening", "addr", addr, "tls", secure[ln])
	}

	var failure error
wait:
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down", "cause", context.Cause(ctx))
			break wait
		case failure = <-serveErr:
			log.Error("serve failed, shutting down", "err", failure)
			break wait
		case <-hup:
			reloadCert(s.certs, log)
		}
	}

	// Graceful shutdown: stop accepting (srv.Shutdown closes the listeners
	// at once, then waits for plain HTTP requests), close every client
	// connection, which also answers held long-polls, and wait for commands
	// in flight; then close the store.
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Shutdown(sctx) }() // owned by run, which receives from httpDone
	if s.cluster != nil {
		// Peers whose last session closes now keep their presence keys
		// until the lease goes (closeStore): they reconnect elsewhere
		// meanwhile, and their watchers see no off/on.
		s.cluster.bus.Drain()
	}
	if err := s.hub.Shutdown(sctx); err != nil {
		log.Warn("hub shutdown did not finish", "err", err)
	}
	if s.cluster != nil {
		select { // the grace period for clients to register elsewhere
		case <-time.After(leaveGrace):
		case <-sctx.Done():
		}
	}
	if s.quic != nil {
		s.quic.Close() // also closes WebTransport; waits for their goroutines
	}
	if policyLn != nil {
		policyLn.Close()
		s.flash.Wait()
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

func closeAll(lns []net.Listener) {
	for _, l := range lns {
		l.Close()
	}
}

// reloadCert re-reads a production certificate; a failure keeps the one in
// use. The dev certificate is kept: a new one would change its pin.
func reloadCert(certs *devcert.Source, log *slog.Logger) {
	if certs.Dev() {
		log.Info("SIGHUP: the dev certificate is kept (it renews itself)")
		return
	}
	if err := certs.Reload(); err != nil {
		log.Error("SIGHUP: certificate not reloaded, the old one stays in use", "err", err)
		return
	}
	c := certs.Current()
	log.Info("SIGHUP: certificate reloaded", "sha256", c.Hex(), "not_after", c.NotAfter)
}

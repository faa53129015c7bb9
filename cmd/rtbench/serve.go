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
	httppprof "net/http/pprof"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	quic "github.com/quic-go/quic-go"

	"github.com/rtgate/rtgate/cmd/rtbench/relay"
	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/internal/devcert"
	"github.com/rtgate/rtgate/internal/natsembed"
	"github.com/rtgate/rtgate/storage/badger"
	quictransport "github.com/rtgate/rtgate/transports/quic"
	"github.com/rtgate/rtgate/transports/webtransport"
	"github.com/rtgate/rtgate/transports/ws"
)

// serveMain is `rtbench serve`: the profiling harness. It wires the same
// parts as cmd/rtgate's hot path (Badger store, core hub, WebSocket,
// raw QUIC and WebTransport, /metrics with the Go and process collectors)
// in this process, optionally under a CPU profile and with
// net/http/pprof-style heap snapshots on exit, and prints its addresses in
// rtgate's format so rtbench --spawn-server self can drive it. It serves
// until ctx is done (SIGINT/SIGTERM).
func serveMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rtbench serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "HTTP/WebSocket `HOST:PORT` (loopback only)")
	quicAddr := fs.String("quic", "127.0.0.1:0", "UDP `HOST:PORT` for QUIC and WebTransport, or off")
	data := fs.String("data", "", "Badger `DIR` (required)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to `FILE`")
	heapProfile := fs.String("memprofile", "", "write a heap profile at exit to `FILE`")
	noSync := fs.Bool("nosync", false, "skip fsync on commit (to see what durability costs)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" {
		return errors.New("rtbench serve: --data is required")
	}
	if err := checkLoopback(*listen); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	stopProf, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProf()
	store, err := badger.New(badger.Config{Dir: *data, Logger: log, NoSync: *noSync})
	if err != nil {
		return err
	}
	defer store.Close()
	hub, err := core.New(core.Config{Store: store, Logger: log})
	if err != nil {
		return err
	}
	wsh := ws.New(hub, ws.Config{Logger: log})
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/debug/gc", freeOSMemory)
	mux.HandleFunc("/debug/pprof/", httppprof.Index) // heap, goroutine, profile?seconds=N ...
	mux.HandleFunc("/debug/pprof/profile", httppprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", httppprof.Trace)
	mux.Handle("/", wsh)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) // ends at srv.Close below

	var qs *quictransport.Server
	if *quicAddr != "off" {
		if err := checkLoopback(*quicAddr); err != nil {
			return err
		}
		certs, err := devcert.Dev(nil)
		if err != nil {
			return err
		}
		pc, err := net.ListenPacket("udp", *quicAddr)
		if err != nil {
			return err
		}
		defer pc.Close()
		wt := webtransport.New(hub, webtransport.Config{Logger: log})
		qs = quictransport.New(hub, quictransport.Config{H3: wt, Logger: log})
		go qs.Serve(pc, certs.TLSConfig()) // ends at qs.Close below
		fmt.Fprintf(stdout, "rtgate QUIC on %s (in-process harness)\n", pc.LocalAddr())
	}
	fmt.Fprintf(stdout, "rtgate listening on http://%s (rtbench serve harness)\n", ln.Addr())
	<-ctx.Done()

	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hub.Shutdown(sctx)
	if qs != nil {
		qs.Close()
	}
	srv.Close()
	if *heapProfile != "" {
		if f, err := os.Create(*heapProfile); err == nil {
			pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
	}
	return nil
}

// relayMain is `rtbench relay`: the bare relay as its own process.
func relayMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rtbench relay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "`HOST:PORT` (loopback only)")
	quicAddr := fs.String("quic", "", "`HOST:PORT` of the raw QUIC and WebTransport relay (ALPN rtgate/1, and h3 with sessions at /wt; a self-signed certificate, rtgate's QUIC settings; loopback only); empty: none")
	fs.String("data", "", "ignored (accepted so the relay spawns like a server)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkLoopback(*listen); err != nil {
		return err
	}
	rl := relay.New(relay.Config{Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	defer rl.Close()
	if *quicAddr != "" {
		if err := checkLoopback(*quicAddr); err != nil {
			return err
		}
		cert, err := devcert.Generate(time.Now())
		if err != nil {
			return err
		}
		tlsConf := &tls.Config{Certificates: []tls.Certificate{cert.TLS}, NextProtos: []string{relay.ALPN, relay.ALPNH3}}
		qln, err := quic.ListenAddr(*quicAddr, tlsConf, quictransport.Config{}.QUICConfig())
		if err != nil {
			return err
		}
		served := make(chan error, 1)
		go func() { served <- rl.ServeQUIC(qln) }() // ends at qln.Close below
		defer func() { qln.Close(); <-served }()
		fmt.Fprintf(stdout, "rtbench relay QUIC on %s\n", qln.Addr())
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", relay.Metrics)
	mux.HandleFunc("/debug/gc", freeOSMemory)
	mux.Handle("/", rl)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) // ends at srv.Close below
	fmt.Fprintf(stdout, "rtbench relay listening on http://%s (ws://%s/)\n", ln.Addr(), ln.Addr())
	<-ctx.Done()
	srv.Close()
	return nil
}

// freeOSMemory runs a GC and returns freed memory to the OS, so the idle
// workload reads live heap, not garbage (POST or GET /debug/gc; the
// harness and the relay only: rtgate has no such endpoint).
func freeOSMemory(w http.ResponseWriter, _ *http.Request) {
	debug.FreeOSMemory()
	w.WriteHeader(http.StatusNoContent)
}

// startCPUProfile writes a CPU profile to path until the returned stop is
// called; an empty path profiles nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// natsMain is `rtbench nats-server`: one JetStream nats-server (the
// module rtgate embeds, through internal/natsembed: sync_interval always)
// in a process of its own, for --spawn-cluster --cluster-nats external.
// It prints "NATS on nats://HOST:PORT" once it accepts clients and serves
// until ctx is done.
func natsMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rtbench nats-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "s1", "server `name` (distinct in a cluster)")
	listen := fs.String("listen", "127.0.0.1:0", "client `HOST:PORT` (loopback only)")
	clusterAddr := fs.String("cluster", "", "route `HOST:PORT` (loopback only); empty: no cluster")
	routes := fs.String("routes", "", "every server's route `URL`s, comma-separated")
	store := fs.String("data", "", "JetStream store `DIR` (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *store == "" {
		return errors.New("rtbench nats-server: --data is required")
	}
	for _, a := range []string{*listen, *clusterAddr} {
		if a != "" {
			if err := checkLoopback(a); err != nil {
				return err
			}
		}
	}
	var rs []string
	if *routes != "" {
		rs = strings.Split(*routes, ",")
	}
	s, err := natsembed.Start(natsembed.Config{Name: *name, Listen: *listen, StoreDir: *store, ClusterName: "rtbench",
		ClusterListen: *clusterAddr, Routes: rs,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return err
	}
	defer s.Shutdown()
	fmt.Fprintf(stdout, "rtbench nats-server %s: NATS on %s (JetStream, sync_interval always)\n", *name, s.ClientURL())
	<-ctx.Done()
	return nil
}

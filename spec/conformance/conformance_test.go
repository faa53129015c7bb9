package conformance_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/internal/devcert"
	"github.com/rtgate/rtgate/spec/conformance"
	"github.com/rtgate/rtgate/storage/memory"
	"github.com/rtgate/rtgate/transports/longpoll"
	quictransport "github.com/rtgate/rtgate/transports/quic"
	"github.com/rtgate/rtgate/transports/webtransport"
	"github.com/rtgate/rtgate/transports/ws"
)

// The apps of the in-process server: one plain, one requiring signatures.
const (
	plainApp  = "conform-app"
	signedApp = "conform-signed"
	masterKey = "conform-master-key"
)

// serve starts an in-process server with every transport on loopback: the
// hub over a memory store, WebSocket (/ws) and long-poll (/lp/) on an
// httptest server, raw QUIC and WebTransport (/wt) on one UDP port with a
// dev certificate. Everything stops when t ends.
func serve(t *testing.T) conformance.Endpoints {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("RTCONFORM_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	store := memory.New(memory.Config{})
	hub, err := core.New(core.Config{
		Apps: core.StaticApps{
			plainApp:  {ID: plainApp, Key: "k", MasterKey: "mk"},
			signedApp: {ID: signedApp, Key: "k2", MasterKey: masterKey, Signatures: true},
		},
		Store:  store,
		Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	wsh := ws.New(hub, ws.Config{Logger: log})
	lp := longpoll.New(hub, longpoll.Config{Logger: log})
	mux := http.NewServeMux()
	mux.Handle("/ws", wsh)
	mux.Handle("/lp/", lp)
	hs := httptest.NewServer(mux)

	certs, err := devcert.Dev(nil)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wt := webtransport.New(hub, webtransport.Config{Logger: log})
	qs := quictransport.New(hub, quictransport.Config{H3: wt, Logger: log})
	served := make(chan error, 1)
	go func() { served <- qs.Serve(pc, certs.TLSConfig()) }() // stopped by the cleanup, which waits

	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := hub.Shutdown(ctx); err != nil {
			t.Errorf("hub shutdown: %v", err)
		}
		qs.Close()
		if err := <-served; !errors.Is(err, quictransport.ErrServerClosed) {
			t.Errorf("quic Serve returned %v", err)
		}
		pc.Close()
		wsh.Wait()
		lp.Wait()
		hs.Close()
		store.Close()
	})
	addr := pc.LocalAddr().String()
	return conformance.Endpoints{
		WebSocket:    "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws",
		LongPoll:     hs.URL + "/lp/",
		QUIC:         "quic://" + addr,
		WebTransport: "https://" + addr + "/wt",
		PinSHA256:    certs.Info().SHA256,
	}
}

// TestConformance runs every scenario over every transport of an
// in-process server. This is what CI runs.
func TestConformance(t *testing.T) {
	ep := serve(t)
	targets, err := conformance.Targets(ep, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(targets) != len(conformance.TargetNames) {
		t.Fatalf("%d targets, want all %d", len(targets), len(conformance.TargetNames))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out strings.Builder
	rep := conformance.Run(ctx, targets, conformance.All(), conformance.Config{
		App:    plainApp,
		Signed: &conformance.SignedApp{ID: signedApp, MasterKey: masterKey},
	})
	for _, r := range rep.Results {
		if r.Status != conformance.Pass || testing.Verbose() {
			out.WriteString(r.String() + "\n")
		}
	}
	t.Log("\n" + out.String() + rep.Summary())
	if rep.Failed > 0 || rep.Skipped > 0 {
		t.Errorf("conformance: %s", rep.Summary())
	}
}

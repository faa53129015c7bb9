package client

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/storage/memory"
	"github.com/rtgate/rtgate/transports/ws"
)

// StartExampleServer serves a dev-mode hub over WebSocket on a loopback
// port for the examples; stop shuts it down.
func StartExampleServer() (url string, stop func()) {
	hub, err := core.New(core.Config{Store: memory.New(memory.Config{}), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	h := ws.New(hub, ws.Config{Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(h)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/", func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hub.Shutdown(ctx)
		srv.Close()
		h.Wait()
	}
}

package serverproc

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// script writes an executable shell script standing in for rtgate.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fake-rtgate")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStartReadsAddresses: Start returns once the listening line is out,
// with the addresses and certificate hash of the lines before it; the
// arguments include the loopback listeners and the data directory; Kill
// ends the process.
func TestStartReadsAddresses(t *testing.T) {
	args := filepath.Join(t.TempDir(), "args")
	bin := script(t, `echo "$@" > `+args+`
echo "time=x level=WARN msg=dev"
echo "rtgate debug on http://127.0.0.1:7001 (pprof /debug/pprof/)"
echo "rtgate QUIC on 127.0.0.1:7002 (raw QUIC ALPN rtgate/1, WebTransport https://127.0.0.1:7002/wt); certificate sha256 abcd (base64 q80=; GET /certinfo)"
echo "rtgate listening on http://127.0.0.1:7003 (WebSocket ...)"
exec sleep 60
`)
	p, err := Start(context.Background(), Config{Bin: bin, Data: "/tmp/d", Args: []string{"--config", "c.json"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.HTTPAddr != "127.0.0.1:7003" || p.QUICAddr != "127.0.0.1:7002" || p.CertSHA256 != "abcd" || p.DebugAddr != "127.0.0.1:7001" {
		t.Errorf("addresses %+v", p)
	}
	if rss, err := p.RSS(); err != nil || rss <= 0 {
		t.Errorf("RSS = %d, %v", rss, err)
	}
	p.Kill()
	select {
	case <-p.Exited():
	default:
		t.Fatal("Kill returned before the exit")
	}
	b, _ := os.ReadFile(args)
	if got := strings.TrimSpace(string(b)); got != "--listen 127.0.0.1:0 --data /tmp/d --quic 127.0.0.1:0 --config c.json" {
		t.Errorf("arguments %q", got)
	}
}

// TestStartFails: a server that exits first, or never listens, is an error.
func TestStartFails(t *testing.T) {
	_, err := Start(context.Background(), Config{Bin: script(t, "echo broken >&2; exit 1\n"), Data: "d"})
	if !errors.Is(err, ErrExited) {
		t.Errorf("exiting server: %v", err)
	}
	start := time.Now()
	_, err = Start(context.Background(), Config{Bin: script(t, "exec sleep 60\n"), Data: "d", StartTimeout: 200 * time.Millisecond})
	if !errors.Is(err, ErrStartTimeout) || time.Since(start) > 10*time.Second {
		t.Errorf("silent server: %v after %v", err, time.Since(start))
	}
	p, err := Spawn(Config{Bin: script(t, "echo panic: boom; exec sleep 60\n"), Data: "d"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	deadline := time.Now().Add(10 * time.Second)
	for !p.Panicked() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !p.Panicked() {
		t.Error("a panic line was not noticed")
	}
	if !hasFlag([]string{"--quic=off"}, "quic") || hasFlag([]string{"--quicker"}, "quic") {
		t.Error("hasFlag")
	}
}

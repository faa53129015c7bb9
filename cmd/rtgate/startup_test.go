package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runBinary runs rtgate with args and env (on top of a clean RTGATE_*
// environment) until it exits, and returns its exit code and output.
func runBinary(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(append(os.Environ(), "RTGATE_CONFIG=", "RTGATE_APPS=", "RTGATE_LOG_LEVEL="), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("run rtgate %v: %v", args, err)
		}
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// TestStartupErrorsSayWhatToDo: a port in use names its listener and the
// setting that changes it, before the store is opened (exit 1); a bad
// port, a bad config file and a bad environment variable are
// configuration errors (exit 2) that point at the mistake.
func TestStartupErrorsSayWhatToDo(t *testing.T) {
	tcpBusy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcpBusy.Close()
	udpBusy, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udpBusy.Close()
	writeConfig := func(body string) string {
		p := filepath.Join(t.TempDir(), "rtgate.json")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		env  []string
		args []string
		code int
		want []string
	}{
		{"QUIC port in use", nil, []string{"--listen", "127.0.0.1:0", "--quic", udpBusy.LocalAddr().String()}, 1,
			[]string{"QUIC/WebTransport", udpBusy.LocalAddr().String(), "already in use", "--quic off", "--quic HOST:PORT"}},
		{"HTTP port in use", nil, []string{"--listen", tcpBusy.Addr().String(), "--quic", "off"}, 1,
			[]string{"HTTP/WebSocket", tcpBusy.Addr().String(), "already in use", "--listen HOST:PORT"}},
		{"TLS port in use", nil, []string{"--listen", "127.0.0.1:0", "--listen-tls", tcpBusy.Addr().String(), "--quic", "off"}, 1,
			[]string{"HTTPS/WSS", "already in use", "--listen-tls HOST:PORT"}},
		{"listen port out of range", nil, []string{"--listen", "127.0.0.1:99999"}, 2,
			[]string{"--listen", "99999", "0 to 65535"}},
		{"quic port not a number", nil, []string{"--quic", "127.0.0.1:abc"}, 2,
			[]string{"--quic", "abc", "0 to 65535", "off"}},
		{"log level from the environment", []string{"RTGATE_LOG_LEVEL=loud"}, nil, 2,
			[]string{"RTGATE_LOG_LEVEL", "loud", "debug, info, warn or error"}},
		{"comment in the config file", nil, []string{"--config", writeConfig("{\n  // apps\n  \"apps\": []\n}")}, 2,
			[]string{"line 2, column 3", "JSON has no comments"}},
		{"wrong type in the config file", nil, []string{"--config", writeConfig(`{"listen": "127.0.0.1:8080"}`)}, 2,
			[]string{`"listen" wants a list of strings, not a string`}},
		{"bad duration in the config file", nil, []string{"--config", writeConfig(`{"limits": {"inboxTTL": "3 days"}}`)}, 2,
			[]string{`"limits.inboxTTL"`, `"3 days" is not a duration`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			code, out := runBinary(t, tt.env, append([]string{"--data", data}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit code %d, want %d; output:\n%s", code, tt.code, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Errorf("the store was opened (%s exists: %v); listeners and configuration come first", data, err)
			}
		})
	}
}

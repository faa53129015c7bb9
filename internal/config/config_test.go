package config_test

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rtgate/rtgate/internal/config"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rtgate.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	c, err := config.Load(nil, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := &config.Config{Listen: []string{"127.0.0.1:8080"}, Data: "rtgate-data", LogLevel: "info", LogFormat: "text", QUIC: config.DefaultQUIC}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
	if !c.DevMode() {
		t.Fatal("no apps should be dev mode")
	}
}

const fileBody = `{
  "listen": ["127.0.0.1:9000", "[::1]:9000"],
  "data": "/var/lib/rtgate",
  "publicURL": "https://chat.example.org",
  "apps": [
    {"id": "app1", "key": "k1", "masterKey": "m1", "signatures": true},
    {"id": "app2", "key": "k2", "masterKey": "m2", "allowUnwatched": true}
  ],
  "allowedOrigins": ["https://chat.example.org"],
  "limits": {"maxFrameBytes": 32768, "queueBytes": 1048576, "inboxSize": 100,
             "inboxTTL": "72h", "loginTimeout": 30, "readTimeout": "5m"},
  "logLevel": "debug",
  "logFormat": "json",
  "debugAddr": "127.0.0.1:6060",
  "adminAddr": "127.0.0.1:9100"
}`

func TestFile(t *testing.T) {
	p := writeFile(t, fileBody)
	c, err := config.Load([]string{"--config", p}, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := &config.Config{
		Listen:    []string{"127.0.0.1:9000", "[::1]:9000"},
		Data:      "/var/lib/rtgate",
		PublicURL: "https://chat.example.org",
		Apps: []config.App{
			{ID: "app1", Key: "k1", MasterKey: "m1", Signatures: true},
			{ID: "app2", Key: "k2", MasterKey: "m2", AllowUnwatched: true},
		},
		AllowedOrigins: []string{"https://chat.example.org"},
		Limits: config.Limits{MaxFrameBytes: 32768, QueueBytes: 1 << 20, InboxSize: 100,
			InboxTTL: config.Duration(72 * time.Hour), LoginTimeout: config.Duration(30 * time.Second),
			ReadTimeout: config.Duration(5 * time.Minute)},
		LogLevel:   "debug",
		LogFormat:  "json",
		DebugAddr:  "127.0.0.1:6060",
		AdminAddr:  "127.0.0.1:9100",
		QUIC:       config.DefaultQUIC,
		ConfigFile: p,
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got  %+v\nwant %+v", c, want)
	}
	if c.DevMode() {
		t.Fatal("apps configured: not dev mode")
	}
}

func TestExampleFileLoads(t *testing.T) {
	c, err := config.Load([]string{"--config", "../../rtgate.example.json"}, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Apps) == 0 {
		t.Fatal("the example should define an app")
	}
}

func TestPrecedence(t *testing.T) {
	p := writeFile(t, `{"listen":["127.0.0.1:1"],"data":"file","publicURL":"http://file:1","logLevel":"warn",
		"apps":[{"id":"a","key":"fk","masterKey":"fm"},{"id":"b"}]}`)
	env := map[string]string{
		"RTGATE_CONFIG":     p,
		"RTGATE_LISTEN":     "127.0.0.1:2, 127.0.0.1:3",
		"RTGATE_LISTEN_TLS": "127.0.0.1:6",
		"RTGATE_DATA":       "env",
		"RTGATE_APPS":       "a:ek:em,c:ck:cm",
	}
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, c *config.Config)
	}{
		{"env over file", nil, func(t *testing.T, c *config.Config) {
			if !reflect.DeepEqual(c.Listen, []string{"127.0.0.1:2", "127.0.0.1:3"}) || c.Data != "env" ||
				!reflect.DeepEqual(c.ListenTLS, []string{"127.0.0.1:6"}) ||
				c.PublicURL != "http://file:1" || c.LogLevel != "warn" {
				t.Fatalf("%+v", c)
			}
			want := []config.App{{ID: "a", Key: "ek", MasterKey: "em"}, {ID: "b"}, {ID: "c", Key: "ck", MasterKey: "cm"}}
			if !reflect.DeepEqual(c.Apps, want) {
				t.Fatalf("apps %+v", c.Apps)
			}
		}},
		{"flags over env", []string{"--listen", "127.0.0.1:4", "--listen", "127.0.0.1:5", "--data", "flag",
			"--public-url", "ws://flag:1/", "--log-level", "error", "--app", "c:fk:fm", "--signatures",
			"--listen-tls", "127.0.0.1:7"},
			func(t *testing.T, c *config.Config) {
				if !reflect.DeepEqual(c.Listen, []string{"127.0.0.1:4", "127.0.0.1:5"}) || c.Data != "flag" ||
					!reflect.DeepEqual(c.ListenTLS, []string{"127.0.0.1:7"}) ||
					c.PublicURL != "ws://flag:1/" || c.LogLevel != "error" {
					t.Fatalf("%+v", c)
				}
				want := []config.App{{ID: "a", Key: "ek", MasterKey: "em", Signatures: true}, {ID: "b"},
					{ID: "c", Key: "fk", MasterKey: "fm", Signatures: true}}
				if !reflect.DeepEqual(c.Apps, want) {
					t.Fatalf("apps %+v", c.Apps)
				}
			}},
		{"config flag over env", []string{"--config", writeFile(t, `{"data":"other"}`)}, func(t *testing.T, c *config.Config) {
			if c.Data != "env" || c.PublicURL != "" || len(c.Apps) != 2 {
				t.Fatalf("%+v", c)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(tt.args, envOf(env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestSignaturesEnv(t *testing.T) {
	c, err := config.Load(nil, envOf(map[string]string{"RTGATE_APPS": "a:k:m", "RTGATE_SIGNATURES": "true"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Apps[0].Signatures {
		t.Fatal("RTGATE_SIGNATURES=true should require signatures")
	}
	c, err = config.Load([]string{"--signatures=false"}, envOf(map[string]string{"RTGATE_APPS": "a:k:m", "RTGATE_SIGNATURES": "1"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Apps[0].Signatures {
		t.Fatal("--signatures=false should win over the environment")
	}
}

func TestInvalid(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown flag", []string{"--nope"}, nil, "nope"},
		{"positional argument", []string{"serve"}, nil, "unexpected argument"},
		{"bad listen", []string{"--listen", "8080"}, nil, "HOST:PORT"},
		{"bad tls listen", []string{"--listen-tls", "8443"}, nil, "HOST:PORT"},
		{"bad app spec", []string{"--app", "a:b"}, nil, "ID:KEY:MASTERKEY"},
		{"empty app id", []string{"--app", ":k:m"}, nil, "ID:KEY:MASTERKEY"},
		{"signatures without master key", []string{"--app", "a:k:", "--signatures"}, nil, "no masterKey"},
		{"bad log level", []string{"--log-level", "loud"}, nil, "log level"},
		{"bad log format", []string{"--log-format", "xml"}, nil, "log format"},
		{"bad debug address", []string{"--debug-addr", "6060"}, nil, "debug address"},
		{"bad admin address", []string{"--admin-addr", "9100"}, nil, "admin address"},
		{"bad admin address env", nil, map[string]string{"RTGATE_ADMIN_ADDR": "nowhere"}, "RTGATE_ADMIN_ADDR"},
		{"negative memtable", []string{"--memtable-mb", "-1"}, nil, "memTableMB"},
		{"negative quic idle timeout", []string{"--config", writeFile(t, `{"quicLimits":{"idleTimeout":"-1s"}}`)}, nil, "quicLimits"},
		{"huge memtable", []string{"--config", writeFile(t, `{"storage":{"memTableMB":5000}}`)}, nil, "memTableMB"},
		{"bad memtable env", nil, map[string]string{"RTGATE_MEMTABLE_MB": "big"}, "RTGATE_MEMTABLE_MB"},
		{"bad signatures env", nil, map[string]string{"RTGATE_SIGNATURES": "maybe"}, "RTGATE_SIGNATURES"},
		{"missing file", []string{"--config", "/nonexistent/rtgate.json"}, nil, "config file"},
		{"unknown file field", []string{"--config", writeFile(t, `{"lsiten":["x:1"]}`)}, nil, "lsiten"},
		{"bad duration", []string{"--config", writeFile(t, `{"limits":{"inboxTTL":"soon"}}`)}, nil, "soon"},
		{"negative limit", []string{"--config", writeFile(t, `{"limits":{"inboxSize":-1}}`)}, nil, "negative"},
		{"duplicate app", []string{"--config", writeFile(t, `{"apps":[{"id":"a"},{"id":"a"}]}`)}, nil, "twice"},
		{"trailing data", []string{"--config", writeFile(t, `{} {}`)}, nil, "trailing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(tt.args, envOf(tt.env), io.Discard)
			if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want ErrInvalid mentioning %q", err, tt.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var b strings.Builder
	_, err := config.Load([]string{"-h"}, nil, &b)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err %v", err)
	}
	for _, f := range []string{"-listen", "-data", "-config", "-public-url", "-app", "-signatures", "-log-level"} {
		if !strings.Contains(b.String(), f) {
			t.Errorf("help lacks %s", f)
		}
	}
}

func TestQUICAndFlashFlags(t *testing.T) {
	c, err := config.Load([]string{"--quic", "off", "--flash-policy", "127.0.0.1:10843"}, nil, io.Discard)
	if err != nil || c.QUICEnabled() || c.Flash.PolicyAddr != "127.0.0.1:10843" {
		t.Fatalf("%+v %v", c, err)
	}
	env := map[string]string{config.EnvQUIC: "127.0.0.1:5000"}
	c, err = config.Load(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil || c.QUIC != "127.0.0.1:5000" {
		t.Fatalf("%+v %v", c, err)
	}
	c, err = config.Load([]string{"--admin-addr", "127.0.0.1:9100"}, func(k string) string {
		return map[string]string{config.EnvAdminAddr: "127.0.0.1:9101"}[k]
	}, io.Discard)
	if err != nil || c.AdminAddr != "127.0.0.1:9100" {
		t.Fatalf("--admin-addr over %s: %+v %v", config.EnvAdminAddr, c, err)
	}
	c, err = config.Load(nil, func(k string) string {
		return map[string]string{config.EnvAdminAddr: "127.0.0.1:9101"}[k]
	}, io.Discard)
	if err != nil || c.AdminAddr != "127.0.0.1:9101" {
		t.Fatalf("%s: %+v %v", config.EnvAdminAddr, c, err)
	}
	c, err = config.Load([]string{"--debug-addr", "127.0.0.1:6060"}, nil, io.Discard)
	if err != nil || c.DebugAddr != "127.0.0.1:6060" {
		t.Fatalf("--debug-addr: %+v %v", c, err)
	}
	env = map[string]string{config.EnvDebugAddr: "127.0.0.1:6061"}
	c, err = config.Load(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil || c.DebugAddr != "127.0.0.1:6061" {
		t.Fatalf("%s: %+v %v", config.EnvDebugAddr, c, err)
	}
	file := writeFile(t, `{"storage":{"memTableMB":128}}`)
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want int
	}{
		{[]string{"--config", file}, nil, 128},
		{[]string{"--config", file}, map[string]string{config.EnvMemTableMB: "96"}, 96},
		{[]string{"--config", file, "--memtable-mb", "256"}, map[string]string{config.EnvMemTableMB: "96"}, 256},
	} {
		c, err := config.Load(tc.args, envOf(tc.env), io.Discard)
		if err != nil || c.Storage.MemTableMB != tc.want {
			t.Fatalf("%v %v: memTableMB %+v %v, want %d", tc.args, tc.env, c, err, tc.want)
		}
	}
	if _, err := config.Load([]string{"--tls-cert", "a.pem"}, nil, io.Discard); !errors.Is(err, config.ErrInvalid) {
		t.Fatalf("cert without key: %v", err)
	}
	c, err = config.Load([]string{"--config", writeFile(t, `{"storage":{"syncInterval":"5ms","inboxDelay":"250ms"}}`)}, nil, io.Discard)
	if err != nil || c.Storage.SyncInterval.Std() != 5*time.Millisecond || c.Storage.InboxDelay.Std() != 250*time.Millisecond {
		t.Fatalf("storage.syncInterval, inboxDelay: %+v %v", c.Storage, err)
	}
	for _, bad := range []string{`{"storage":{"syncInterval":"1s"}}`, `{"storage":{"inboxDelay":"2m"}}`} {
		if _, err := config.Load([]string{"--config", writeFile(t, bad)}, nil, io.Discard); !errors.Is(err, config.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", bad, err)
		}
	}
}

// TestErrorsPointAtTheMistake: a config error names the line and column of
// a syntax error, the config-file key of a wrong value, and the flag or
// environment variable that set a bad one.
func TestErrorsPointAtTheMistake(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"comment", []string{"--config", writeFile(t, "{\n  \"listen\": [],\n  // QUIC\n  \"quic\": \"off\"\n}")}, nil,
			"line 3, column 3: invalid character '/' looking for beginning of object key string (JSON has no comments)"},
		{"missing comma", []string{"--config", writeFile(t, "{\n  \"data\": \"d\"\n  \"quic\": \"off\"\n}")}, nil, "line 3, column 3"},
		{"truncated", []string{"--config", writeFile(t, `{"listen": [`)}, nil, "ends too early"},
		{"string for a list", []string{"--config", writeFile(t, `{"listen": "127.0.0.1:8080"}`)}, nil,
			`"listen" wants a list of strings, not a string`},
		{"string for a number", []string{"--config", writeFile(t, `{"limits": {"inboxSize": "50"}}`)}, nil,
			`"limits.inboxSize" wants a whole number, not a string`},
		{"type in a list item", []string{"--config", writeFile(t, `{"apps": [{"id": "a"}, {"id": "b", "push": {"url": 5}}]}`)}, nil,
			`"apps[1].push.url" wants a string, not a number`},
		{"bad duration", []string{"--config", writeFile(t, `{"limits": {"inboxTTL": "3 days"}}`)}, nil,
			`"limits.inboxTTL": "3 days" is not a duration`},
		{"duration of the wrong type", []string{"--config", writeFile(t, `{"storage": {"syncInterval": true}}`)}, nil,
			`"storage.syncInterval": true is not a duration`},
		{"key in the wrong case", []string{"--config", writeFile(t, `{"limits": {"inboxTTl": "1h"}}`)}, nil,
			`"limits.inboxTTl": unknown key: keys are case-sensitive, did you mean "inboxTTL"?`},
		{"nested unknown key", []string{"--config", writeFile(t, `{"flash": {"policyAdr": ":843"}}`)}, nil,
			`"flash.policyAdr": unknown key`},
		{"log level from env", nil, map[string]string{"RTGATE_LOG_LEVEL": "loud"}, `RTGATE_LOG_LEVEL: log level "loud"`},
		{"log level from flag", []string{"--log-level", "loud"}, nil, `--log-level: log level "loud"`},
		{"log level from file", []string{"--config", writeFile(t, `{"logLevel": "loud"}`)}, nil, `"logLevel" in `},
		{"log format from env", nil, map[string]string{"RTGATE_LOG_FORMAT": "xml"}, `RTGATE_LOG_FORMAT: log format "xml"`},
		{"quic from env", nil, map[string]string{"RTGATE_QUIC": "127.0.0.1:abc"}, `RTGATE_QUIC: quic address "127.0.0.1:abc": port "abc"`},
		{"listen port out of range", []string{"--listen", "127.0.0.1:99999"}, nil, `--listen: listen address "127.0.0.1:99999": port "99999": want a number from 0 to 65535`},
		{"negative port", []string{"--listen", "127.0.0.1:-1"}, nil, `port "-1"`},
		{"debug port from file", []string{"--config", writeFile(t, `{"debugAddr": "127.0.0.1:70000"}`)}, nil, `"debugAddr" in `},
		{"flash policy port", []string{"--flash-policy", ":x"}, nil, `--flash-policy: Flash policy address ":x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(tt.args, envOf(tt.env), io.Discard)
			if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v\nwant ErrInvalid containing %q", err, tt.want)
			}
		})
	}
}

func TestCluster(t *testing.T) {
	c, err := config.Load([]string{"--nats-embed", "--nats-cluster", "127.0.0.1:6222",
		"--nats-routes", "nats-route://127.0.0.1:6222,nats-route://127.0.0.1:6223", "--node-name", "a",
		"--advertise-url", "ws://n1.example.org:8080/"},
		envOf(map[string]string{config.EnvNATS: "nats://x:4222,nats://y:4222", config.EnvNATSCreds: "/c.creds",
			config.EnvAdvertise: "ws://overridden-by-the-flag/"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Cluster{NATS: []string{"nats://x:4222", "nats://y:4222"}, Creds: "/c.creds", Name: "a", Embed: true,
		EmbedCluster: "127.0.0.1:6222", Routes: []string{"nats-route://127.0.0.1:6222", "nats-route://127.0.0.1:6223"},
		AdvertiseURL: "ws://n1.example.org:8080/"}
	if !reflect.DeepEqual(c.Cluster, want) || !c.Cluster.Enabled() {
		t.Fatalf("cluster = %+v, want %+v", c.Cluster, want)
	}
	c, err = config.Load([]string{"--nats", "nats://x"}, envOf(map[string]string{config.EnvAdvertise: "off"}), io.Discard)
	if err != nil || c.Cluster.AdvertiseURL != "off" {
		t.Fatalf("%s=off: %+v, %v", config.EnvAdvertise, c.Cluster, err)
	}
	c, err = config.Load([]string{"--nats", "nats://x", "--nats-monitor", "http://x:8222,http://y:8222", "--nats-monitor", "http://z:8222"}, nil, io.Discard)
	if err != nil || !reflect.DeepEqual(c.Cluster.Monitor, []string{"http://x:8222", "http://y:8222", "http://z:8222"}) {
		t.Fatalf("--nats-monitor: %+v, %v", c.Cluster, err)
	}
	c, err = config.Load(nil, nil, io.Discard)
	if err != nil || c.Cluster.Enabled() {
		t.Fatalf("default is a cluster member: %+v, %v", c.Cluster, err)
	}
	for _, args := range [][]string{
		{"--nats", "nats://x", "--nats-creds", "a", "--nats-nkey", "b"},
		{"--nats", "nats://x", "--nats-cert", "a"},
		{"--nats-routes", "nats-route://127.0.0.1:1"},
		{"--nats-embed", "--nats-routes", "nats-route://127.0.0.1:1"},
		{"--advertise-url", "off"},          // needs cluster mode
		{"--nats-monitor", "http://x:8222"}, // needs cluster mode
	} {
		if _, err := config.Load(args, nil, io.Discard); !errors.Is(err, config.ErrInvalid) {
			t.Errorf("%v: %v, want ErrInvalid", args, err)
		}
	}
}

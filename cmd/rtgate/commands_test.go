package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/rtgate/rtgate/core"
)

func TestSignCommand(t *testing.T) {
	now := func() time.Time { return time.Unix(1415000000, 0) }
	tests := []struct {
		name   string
		args   string
		status int
		signed string // want "signed"; the MAC is checked against core.Sign
	}{
		{"session doc example", "session --app A --master-key K --peer alice --watch carol,bob --n 48213", 0, "A:alice:bob:carol:1415000000:48213"},
		{"session no watch", "session --app A --master-key K --peer alice --t 1415000000 --n 48213", 0, "A:alice::1415000000:48213"},
		{"super peer sp", "session --app A --master-key K --peer bot --sp --n x", 0, "A:bot::1415000000:x:sp"},
		{"super peer su", "session --app A --master-key K --peer bot --su --n x", 0, "A:bot::1415000000:x:su"},
		{"room create", "room --app A --master-key K --peer alice --action join --n 1", 0, "A:alice:::1415000000:1:join"},
		{"room invite", "room --app A --master-key K --peer alice --group G --targets eve,bob --action invite --n 2", 0, "A:alice:G:bob:eve:1415000000:2:invite"},
		{"history by peers", "history --app A --master-key K --peer u1234 --peers u1234,u0988 --n n1", 0, "A:u1234:bcd26a54e98687390b0abb4d83683d4b:n1:1415000000"},
		{"history by convid", "history --app A --master-key K --peer alice --convid G --n n1 --t 5", 0, "A:alice:G:n1:5"},
		{"no args", "", 2, ""},
		{"unknown kind", "user --app A", 2, ""},
		{"missing key", "session --app A --peer alice", 2, ""},
		{"bad action", "room --app A --master-key K --peer alice --action ban", 2, ""},
		{"invite without group", "room --app A --master-key K --peer alice --action invite --targets b", 2, ""},
		{"history without conv", "history --app A --master-key K --peer alice", 2, ""},
		{"bad t", "session --app A --master-key K --peer alice --t soon", 2, ""},
		{"sp and su", "session --app A --master-key K --peer alice --sp --su", 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if got := runSign(strings.Fields(tc.args), &out, &errb, now); got != tc.status {
				t.Fatalf("status %d, want %d; stderr %s", got, tc.status, errb.String())
			}
			if tc.status != 0 {
				if errb.Len() == 0 {
					t.Fatal("no message on stderr")
				}
				return
			}
			var v map[string]any
			if err := json.Unmarshal(out.Bytes(), &v); err != nil {
				t.Fatalf("output %q: %v", out.String(), err)
			}
			if v["signed"] != tc.signed {
				t.Fatalf("signed %q, want %q", v["signed"], tc.signed)
			}
			mac, _ := v["s"].(string)
			if mac == "" {
				mac, _ = v["signature"].(string)
			}
			if want := core.Sign("K", strings.Split(tc.signed, ":")...); mac != want {
				t.Fatalf("mac %s, want %s", mac, want)
			}
		})
	}
}

func TestHelpListsCommands(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"--help"}, func(string) string { return "" }, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err %v", err)
	}
	for _, w := range []string{"-listen", "-quic", "rtgate sign session|room|history", "rtgate version"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("--help lacks %q:\n%s", w, out.String())
		}
	}
}

func TestVersionLine(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/rtgate/rtgate", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "950bf56"}, {Key: "vcs.time", Value: "2026-12-07T20:12:28Z"},
			{Key: "vcs.modified", Value: "true"}}}
	if got, want := versionLine(info, true), "rtgate v1.2.3 revision 950bf56+modified (2026-12-07T20:12:28Z) go1.26.8"; got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	info.Settings = nil
	info.Main.Version = "(devel)"
	if got := versionLine(info, true); !strings.Contains(got, "(devel) revision unknown") {
		t.Fatalf("got %q", got)
	}
}

// TestVersionCommand runs the binary: `rtgate version` prints one line
// and exits 0.
func TestVersionCommand(t *testing.T) {
	code, out := runBinary(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "rtgate ") || !strings.Contains(out, "revision") {
		t.Fatalf("exit %d, output %q", code, out)
	}
}

package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/rtgate/rtgate/compat/sign"
)

// commandsHelp lists rtgate's subcommands; `rtgate --help` prints it
// after the server's flags.
const commandsHelp = `
Commands (instead of running the server):
  rtgate sign session|room|history ...   print a valid v1 signature for the given fields (rtgate sign --help)
  rtgate version                         print the module version, VCS revision and Go version
  rtgate help                            print this help
`

const signUsage = `usage:
  rtgate sign session --app A --master-key K --peer P [--watch p1,p2] [--t secs] [--n nonce] [--sp|--su]
  rtgate sign room    --app A --master-key K --peer P [--group G] [--targets p1,p2] --action join|invite|kick [--t secs] [--n nonce]
  rtgate sign history --app A --master-key K --peer P (--convid C | --peers p1,p2) [--t secs] [--n nonce]

Each prints one JSON line: the signed string and the fields to send
({"signed":..,"s":..,"t":..,"n":..} for sessions and rooms; peerid, convid,
nonce, signature_ts, signature for history). --t defaults to now, --n to a
random nonce. From a checkout: go run ./cmd/rtgate sign ...
`

// runSign runs `rtgate sign` with args (the words after "sign") and
// returns the exit status: 0, or 2 for a usage error.
func runSign(args []string, stdout, stderr io.Writer, now func() time.Time) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) == 0 {
			fmt.Fprint(stderr, signUsage)
			return 2
		}
		fmt.Fprint(stdout, signUsage)
		return 0
	}
	kind := args[0]
	fs := flag.NewFlagSet("rtgate sign "+kind, flag.ContinueOnError)
	fs.SetOutput(stderr)
	app := fs.String("app", "", "app id (required)")
	key := fs.String("master-key", "", "the app's master key (required)")
	peer := fs.String("peer", "", "the signing peer id (required)")
	ts := fs.String("t", "", "timestamp in seconds (default now)")
	nonce := fs.String("n", "", "nonce (default random)")
	var watch, targets, group, action, convid, peers *string
	var sp, su *bool
	switch kind {
	case "session":
		watch = fs.String("watch", "", "comma-separated peer ids to watch")
		sp = fs.Bool("sp", false, "super peer (signature ends in :sp)")
		su = fs.Bool("su", false, "super peer, docs variant (signature ends in :su)")
	case "room":
		group = fs.String("group", "", "group id (empty: create a group with join)")
		targets = fs.String("targets", "", "comma-separated target peer ids (invite, kick)")
		action = fs.String("action", "", "join, invite or kick (required)")
	case "history":
		convid = fs.String("convid", "", "conversation id (md5 id or group id)")
		peers = fs.String("peers", "", "comma-separated participants: computes convid")
	default:
		fmt.Fprintf(stderr, "rtgate sign: unknown kind %q\n%s", kind, signUsage)
		return 2
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "rtgate sign %s: %s\n", kind, fmt.Sprintf(format, a...))
		return 2
	}
	if fs.NArg() > 0 {
		return fail("unexpected argument %q", fs.Arg(0))
	}
	if *app == "" || *key == "" || *peer == "" {
		return fail("--app, --master-key and --peer are required")
	}
	r := sign.Request{App: *app, MasterKey: *key, Peer: *peer, T: now().Unix(), Nonce: *nonce}
	if *ts != "" {
		t, err := strconv.ParseInt(*ts, 10, 64)
		if err != nil {
			return fail("--t must be an integer number of seconds")
		}
		r.T = t
	}
	var out any
	var err error
	switch kind {
	case "session":
		if *sp && *su {
			return fail("--sp and --su exclude each other")
		}
		suffix := sign.NotSuperPeer
		if *sp {
			suffix = sign.SuperPeerSP
		} else if *su {
			suffix = sign.SuperPeerSU
		}
		out, err = sign.Session(r, splitIDs(*watch), suffix)
	case "room":
		out, err = sign.Room(r, *group, splitIDs(*targets), *action)
	case "history":
		out, err = sign.HistoryQuery(r, *convid, splitIDs(*peers))
	}
	if err != nil {
		return fail("%s", strings.TrimPrefix(err.Error(), "sign: invalid request: "))
	}
	b, _ := json.Marshal(out)
	fmt.Fprintf(stdout, "%s\n", b)
	return 0
}

// splitIDs splits a comma-separated list of peer ids, dropping blanks.
func splitIDs(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// versionLine describes the binary from its build information: module
// version, VCS revision and time (with "+modified" for a dirty tree) and
// the Go version.
func versionLine(info *debug.BuildInfo, ok bool) string {
	if !ok {
		return "rtgate (no build information) " + runtime.Version()
	}
	version := info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	var rev, when, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+modified"
			}
		}
	}
	line := "rtgate " + version
	if rev != "" {
		line += " revision " + rev + modified
		if when != "" {
			line += " (" + when + ")"
		}
	} else {
		line += " revision unknown (not recorded: go run, or go build with -buildvcs=false)"
	}
	return line + " " + info.GoVersion
}

// Package sign is the `rtgate sign` subcommand: it prints v1 signatures
// (protocol-v1.md §6) for session open/add, room join/invite/kick and
// history queries, so operators and app developers can test signed apps
// and check their own signing code against the server's.
//
//	rtgate sign session --app A --master-key K --peer alice --watch bob,carol [--t 1415000000] [--n 48213] [--sp|--su]
//	rtgate sign room    --app A --master-key K --peer alice --group G --targets bob --action invite [--t ..] [--n ..]
//	rtgate sign history --app A --master-key K --peer alice (--convid C | --peers alice,bob) [--t ..] [--n ..]
//
// Each prints one JSON line: the signed string and the fields to send
// ({"signed":..,"s":..,"t":..,"n":..} for sessions and rooms; peerid,
// convid, nonce, signature_ts, signature for history). t defaults to now
// (seconds), n to a random nonce.
//
// Concurrency: Main is a plain function with no shared state.
//
// Imports: the standard library and core (Sign, SessionSignFields,
// RoomSignFields, ConvID). It parses the args it is given; cmd/rtgate
// passes os.Args[2:].
package sign

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/rtgate/rtgate/core"
)

const usage = `usage:
  rtgate sign session --app A --master-key K --peer P [--watch p1,p2] [--t secs] [--n nonce] [--sp|--su]
  rtgate sign room    --app A --master-key K --peer P [--group G] [--targets p1,p2] --action join|invite|kick [--t secs] [--n nonce]
  rtgate sign history --app A --master-key K --peer P (--convid C | --peers p1,p2) [--t secs] [--n nonce]
`

// Main runs `rtgate sign` with args (the words after "sign") and returns
// the exit status: 0, or 2 for a usage error.
func Main(args []string, stdout, stderr io.Writer) int {
	return run(args, stdout, stderr, time.Now)
}

func run(args []string, stdout, stderr io.Writer, now func() time.Time) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
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
		fmt.Fprintf(stderr, "rtgate sign: unknown kind %q\n%s", kind, usage)
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
	if *ts == "" {
		*ts = strconv.FormatInt(now().Unix(), 10)
	}
	t, err := strconv.ParseInt(*ts, 10, 64)
	if err != nil {
		return fail("--t must be an integer number of seconds")
	}
	if *nonce == "" {
		*nonce = randomNonce()
	}

	var fields []string
	var out any
	switch kind {
	case "session":
		if *sp && *su {
			return fail("--sp and --su exclude each other")
		}
		fields = core.SessionSignFields(*app, *peer, list(*watch), *ts, *nonce, *sp || *su)
		if *su {
			fields[len(fields)-1] = "su"
		}
		s := core.Sign(*key, fields...)
		out = signed{Signed: strings.Join(fields, ":"), S: s, T: t, N: *nonce, SP: *sp || *su}
	case "room":
		switch *action {
		case "join", "invite", "kick":
		default:
			return fail("--action must be join, invite or kick")
		}
		if *action != "join" && *group == "" {
			return fail("--group is required for %s", *action)
		}
		fields = core.RoomSignFields(*app, *peer, *group, list(*targets), *ts, *nonce, *action)
		out = signed{Signed: strings.Join(fields, ":"), S: core.Sign(*key, fields...), T: t, N: *nonce}
	case "history":
		conv := *convid
		if (conv == "") == (*peers == "") {
			return fail("exactly one of --convid and --peers is required")
		}
		if conv == "" {
			conv = core.ConvID(list(*peers))
		}
		fields = []string{*app, *peer, conv, *nonce, *ts}
		out = history{Signed: strings.Join(fields, ":"), PeerID: *peer, ConvID: conv, Nonce: *nonce,
			SignatureTS: t, Signature: core.Sign(*key, fields...)}
	}
	b, _ := json.Marshal(out)
	fmt.Fprintf(stdout, "%s\n", b)
	return 0
}

// signed is the answer for sessions and rooms: what an auth/groupAuth
// callback returns, plus the signed string.
type signed struct {
	Signed string `json:"signed"`
	S      string `json:"s"`
	T      int64  `json:"t"`
	N      string `json:"n"`
	SP     bool   `json:"sp,omitempty"`
}

// history is the answer for history queries: the query parameters.
type history struct {
	Signed      string `json:"signed"`
	PeerID      string `json:"peerid"`
	ConvID      string `json:"convid"`
	Nonce       string `json:"nonce"`
	SignatureTS int64  `json:"signature_ts"`
	Signature   string `json:"signature"`
}

// list splits a comma-separated list, dropping empty items.
func list(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func randomNonce() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

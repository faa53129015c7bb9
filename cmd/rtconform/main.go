// Command rtconform runs the rtgate protocol conformance suite
// (package spec/conformance) against a running server, over every
// transport and dialect it serves:
//
//	go run ./cmd/rtconform --server http://127.0.0.1:8080
//
// WebSocket is reached at <server>/ws and long-poll at <server>/lp/. Raw
// QUIC and WebTransport are taken from --quic and --wt, or else from the
// server's GET /certinfo, which also gives the certificate's SHA-256 to
// pin (--cert-sha256 overrides it). --signed-app and --master-key enable
// the signature scenarios; without them they are reported as skipped.
//
// Against a cluster, --server takes several URLs, one per node:
//
//	go run ./cmd/rtconform --server http://127.0.0.1:8081,http://127.0.0.1:8082,http://127.0.0.1:8083
//
// Each scenario's connections then go to the servers in turn (its first
// connection to the first server, the second to the second, ...), so
// every scenario with two or more connections crosses nodes, over every
// transport that all the servers serve. --ws, --longpoll, --quic, --wt
// and --cert-sha256 then take one comma-separated value per server, in
// the same order, or none. With --longpoll-any-node each long-poll
// session's requests after its open go to every server in turn, as behind
// a round-robin proxy without sticky sessions.
//
// It prints one line per scenario and transport ("ok   ws-json/direct-ack",
// "FAIL quic/receipts: ...") and a closing line "N passed, M failed". The
// exit status is 0 when nothing failed, 1 on any failure, 2 on bad usage
// or an unreachable server.
//
// Every scenario uses fresh random peer ids, so rtconform may run against
// a shared, long-running server; the --app it uses must not require
// signatures and must keep the v1 rule that recipients be watched. When
// the server's router refuses --app (or --signed-app), rtconform says so
// in one line and exits 2 before running anything.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rtgate/rtgate/spec/conformance"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the parsed flags.
type options struct {
	server, ws, lp, quic, wt string
	certSHA256               string
	insecure                 bool
	app                      string
	signedApp, masterKey     string
	transports, scenarios    string
	wait                     time.Duration
	timeout                  time.Duration
	parallel                 int
	list                     bool
	lpAnyNode                bool
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	var o options
	fs := flag.NewFlagSet("rtconform", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.server, "server", "", "the server's HTTP `URL`, e.g. http://127.0.0.1:8080 (WebSocket at /ws, long-poll at /lp/, /certinfo); "+
		"a comma-separated list of a cluster's nodes spreads each scenario's connections over them in turn")
	fs.StringVar(&o.ws, "ws", "", "WebSocket `URL` (default: the --server URL with ws:// and /ws); one per --server URL")
	fs.StringVar(&o.lp, "longpoll", "", "long-poll prefix `URL` (default: --server + /lp/); one per --server URL")
	fs.StringVar(&o.quic, "quic", "", "raw QUIC `HOST:PORT` or quic://host:port (default: from /certinfo); one per --server URL")
	fs.StringVar(&o.wt, "wt", "", "WebTransport `URL` https://host:port/wt (default: from /certinfo); one per --server URL")
	fs.StringVar(&o.certSHA256, "cert-sha256", "", "hex SHA-256 of the server certificate to pin for wss, QUIC and WebTransport (default: from /certinfo); one per --server URL")
	fs.BoolVar(&o.lpAnyNode, "longpoll-any-node", false, "with several --server URLs: send each long-poll session's requests to every server in turn "+
		"(a cluster without sticky sessions forwards them to the session's node)")
	fs.BoolVar(&o.insecure, "insecure", false, "accept any TLS certificate (tests only)")
	fs.StringVar(&o.app, "app", "rtconform", "app `ID` the scenarios use: no signatures, recipients must be watched")
	fs.StringVar(&o.signedApp, "signed-app", "", "app `ID` that requires signatures (enables the signature scenarios)")
	fs.StringVar(&o.masterKey, "master-key", "", "master `KEY` of --signed-app")
	fs.StringVar(&o.transports, "transports", "", "comma-separated targets (default: all the server serves): "+strings.Join(conformance.TargetNames, ","))
	fs.StringVar(&o.scenarios, "scenarios", "", "comma-separated scenario names (default: all; see --list)")
	fs.DurationVar(&o.wait, "wait", 3*time.Second, "bound on the wait for each expected frame")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "bound on the whole run")
	fs.IntVar(&o.parallel, "parallel", 8, "scenarios run at once")
	fs.BoolVar(&o.list, "list", false, "list the scenarios and targets and exit")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if (o.signedApp == "") != (o.masterKey == "") {
		return nil, errors.New("--signed-app and --master-key go together")
	}
	return &o, nil
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "rtconform:", err)
		return 2
	}
	all := conformance.All()
	if o.list {
		for _, s := range all {
			fmt.Fprintln(stdout, s.Name)
		}
		fmt.Fprintln(stdout, "targets:", strings.Join(conformance.TargetNames, ", "))
		return 0
	}
	scenarios, unknown := conformance.Select(all, splitList(o.scenarios))
	if len(unknown) > 0 {
		fmt.Fprintf(stderr, "rtconform: unknown scenarios %v (see --list)\n", unknown)
		return 2
	}
	servers, err := o.perServer()
	if err != nil {
		fmt.Fprintln(stderr, "rtconform:", err)
		return 2
	}
	for _, srv := range servers {
		if srv.server == "" {
			continue
		}
		// One line instead of every scenario failing on a refused app.
		for _, a := range []struct{ id, flag string }{{o.app, "--app"}, {o.signedApp, "--signed-app"}} {
			if a.id == "" {
				continue
			}
			if reason := appRefused(ctx, srv.server, a.id); reason != "" {
				fmt.Fprintf(stderr, "rtconform: the server %s refuses app %q (%s): pass %s ID with an app it knows "+
					"(--app: no signatures; --signed-app with --master-key: signatures), or run rtgate in dev mode (no apps configured)\n",
					srv.server, a.id, reason, a.flag)
				return 2
			}
		}
	}
	if o.lpAnyNode && len(servers) < 2 {
		fmt.Fprintln(stderr, "rtconform: --longpoll-any-node needs several --server URLs")
		return 2
	}
	eps := make([]conformance.Endpoints, len(servers))
	for i, srv := range servers {
		if eps[i], err = endpoints(ctx, srv, stderr); err != nil {
			fmt.Fprintln(stderr, "rtconform:", err)
			return 2
		}
	}
	if o.lpAnyNode {
		// Each session's requests go to its node, then the next ones.
		for i := range eps {
			for k := 1; k < len(eps); k++ {
				eps[i].LongPollOthers = append(eps[i].LongPollOthers, eps[(i+k)%len(eps)].LongPoll)
			}
		}
	}
	perServer := make([][]conformance.Target, len(servers))
	for i, srv := range servers {
		if perServer[i], err = conformance.Targets(eps[i], splitList(o.transports)); err != nil {
			if len(servers) > 1 {
				err = fmt.Errorf("%s: %w", srv.server, err)
			}
			fmt.Fprintln(stderr, "rtconform:", err)
			return 2
		}
	}
	targets, partial := conformance.SpreadTargets(perServer)
	if len(partial) > 0 {
		fmt.Fprintf(stderr, "rtconform: left out %s: not served by every server\n", strings.Join(partial, ", "))
	}
	if len(targets) == 0 {
		fmt.Fprintln(stderr, "rtconform: no target: give --server (and --quic/--wt, or a server with /certinfo)")
		return 2
	}
	cfg := conformance.Config{App: o.app, Wait: o.wait, Parallel: o.parallel, Out: stdout}
	if o.signedApp != "" {
		cfg.Signed = &conformance.SignedApp{ID: o.signedApp, MasterKey: o.masterKey}
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	rep := conformance.Run(ctx, targets, scenarios, cfg)
	if rep.Failed > 0 {
		return 1
	}
	return 0
}

// splitList splits a comma-separated flag; empty means nil (all).
func splitList(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// certInfo is the part of GET /certinfo rtconform reads.
type certInfo struct {
	SHA256       string `json:"sha256"`
	WebTransport string `json:"webtransport"`
	QUIC         string `json:"quic"`
}

// server is one server's share of the endpoint flags.
type server struct {
	server, ws, lp, quic, wt, certSHA256 string
	insecure                             bool
}

// perServer splits the endpoint flags into one server each: --server
// (and the flags that override what it gives) may list several servers,
// each flag with one value per server or none.
func (o *options) perServer() ([]server, error) {
	lists := map[string][]string{}
	n := 1
	for _, f := range []struct{ name, v string }{{"server", o.server}, {"ws", o.ws}, {"longpoll", o.lp},
		{"quic", o.quic}, {"wt", o.wt}, {"cert-sha256", o.certSHA256}} {
		l := splitList(f.v)
		lists[f.name] = l
		n = max(n, len(l))
	}
	for name, l := range lists {
		if len(l) != 0 && len(l) != n {
			return nil, fmt.Errorf("--%s has %d values for %d servers: give one per server, in the same order, or none", name, len(l), n)
		}
	}
	at := func(name string, i int) string {
		if l := lists[name]; len(l) > 0 {
			return l[i]
		}
		return ""
	}
	out := make([]server, n)
	for i := range out {
		out[i] = server{server: at("server", i), ws: at("ws", i), lp: at("longpoll", i), quic: at("quic", i),
			wt: at("wt", i), certSHA256: at("cert-sha256", i), insecure: o.insecure}
	}
	return out, nil
}

// endpoints derives one server's endpoints from the flags and, for what
// they leave out, the server's /certinfo.
func endpoints(ctx context.Context, o server, stderr io.Writer) (conformance.Endpoints, error) {
	ep := conformance.Endpoints{WebSocket: o.ws, LongPoll: o.lp, WebTransport: o.wt,
		PinSHA256: o.certSHA256, InsecureSkipVerify: o.insecure}
	if o.quic != "" {
		ep.QUIC = o.quic
		if !strings.Contains(o.quic, "://") {
			ep.QUIC = "quic://" + o.quic
		}
	}
	if o.server == "" {
		return ep, nil
	}
	u, err := url.Parse(o.server)
	if err != nil || u.Host == "" {
		return ep, fmt.Errorf("--server %q is not a URL like http://127.0.0.1:8080", o.server)
	}
	var httpBase, wsBase string
	switch u.Scheme {
	case "http", "ws":
		httpBase, wsBase = "http://"+u.Host, "ws://"+u.Host
	case "https", "wss":
		httpBase, wsBase = "https://"+u.Host, "wss://"+u.Host
	default:
		return ep, fmt.Errorf("--server %q: scheme must be http, https, ws or wss", o.server)
	}
	if ep.WebSocket == "" {
		ep.WebSocket = wsBase + "/ws"
	}
	if ep.LongPoll == "" {
		ep.LongPoll = httpBase + "/lp/"
	}
	if ep.QUIC != "" && ep.WebTransport != "" && (ep.PinSHA256 != "" || o.insecure) {
		return ep, nil
	}
	ci, err := fetchCertInfo(ctx, httpBase+"/certinfo")
	if err != nil {
		fmt.Fprintf(stderr, "rtconform: %v: QUIC and WebTransport only from flags\n", err)
		return ep, nil
	}
	if ep.QUIC == "" {
		ep.QUIC = ci.QUIC
	}
	if ep.WebTransport == "" {
		ep.WebTransport = ci.WebTransport
	}
	if ep.PinSHA256 == "" {
		ep.PinSHA256 = ci.SHA256
	}
	return ep, nil
}

func fetchCertInfo(ctx context.Context, u string) (*certInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	var ci certInfo
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&ci); err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	return &ci, nil
}

// appRefused asks the server's v1 router (GET /v1/route?appId=) whether
// it knows app, and returns the router's reason when it refuses it
// (`unknown app "x"`, code 4100); "" when it accepts it, or when the
// answer is not rtgate's (then the scenarios will tell).
func appRefused(ctx context.Context, server, app string) string {
	u, err := url.Parse(server)
	if err != nil {
		return ""
	}
	scheme := "http"
	if u.Scheme == "https" || u.Scheme == "wss" {
		scheme = "https"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+u.Host+"/v1/route?appId="+url.QueryEscape(app), nil)
	if err != nil {
		return ""
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var answer struct {
		Code  int    `json:"code"`
		Error string `json:"error"`
	}
	if resp.StatusCode != http.StatusNotFound || json.NewDecoder(io.LimitReader(resp.Body, 4<<10)).Decode(&answer) != nil ||
		answer.Code != 4100 {
		return ""
	}
	return answer.Error
}

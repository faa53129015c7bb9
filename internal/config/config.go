// Package config loads rtgate's server configuration from, in rising order
// of precedence: built-in defaults, an optional JSON file, RTGATE_*
// environment variables and command-line flags.
//
// Only cmd/rtgate uses it (STYLE habit 8: cmd is the only code that reads
// flags and environment); it turns a File into the component Configs.
//
// Concurrency: Load is a pure function of its arguments; a Config is a plain
// value.
//
// Imports: the standard library only.
package config

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Defaults used when neither file, environment nor flag says otherwise.
const (
	DefaultListen    = "127.0.0.1:8080"
	DefaultDataDir   = "rtgate-data"
	DefaultLogLevel  = "info"
	DefaultLogFormat = "text"
)

// ErrInvalid wraps every configuration error, so callers can tell a bad
// configuration (exit code 2) from a runtime failure.
var ErrInvalid = errors.New("invalid configuration")

// App is one application, as in the config file's "apps" list.
type App struct {
	ID        string `json:"id"`
	Key       string `json:"key,omitempty"`
	MasterKey string `json:"masterKey,omitempty"`
	// Signatures requires HMAC-SHA1 signatures (made with MasterKey) on
	// session open/add and room join/invite/kick.
	Signatures bool `json:"signatures,omitempty"`
	// AllowUnwatched lets peers message peers they do not watch.
	AllowUnwatched bool `json:"allowUnwatched,omitempty"`
	// HistorySignatures requires a history signature on REST history
	// queries made without the master key.
	HistorySignatures bool `json:"historySignatures,omitempty"`
	// Push, when set, is the offline push webhook of the app.
	Push *Push `json:"push,omitempty"`
}

// Push is an app's offline push webhook: rtgate POSTs a signed JSON notice
// to URL when a persistent message is stored for a peer with no open
// session.
type Push struct {
	URL    string `json:"url"`
	Secret string `json:"secret,omitempty"` // keys the X-Rtgate-Signature HMAC-SHA256
	Text   string `json:"text,omitempty"`   // the static push text of every notice
}

// Flash configures the Flash socket policy server and the optional legacy
// TLS listener for Flash's TLS 1.0 stack. The HTTP ports always answer
// policy requests too.
type Flash struct {
	// PolicyAddr is a dedicated policy listener (":843" in production);
	// empty: none.
	PolicyAddr string `json:"policyAddr,omitempty"`
	// Domains and ToPorts restrict the policy (default "*" and "*").
	Domains []string `json:"domains,omitempty"`
	ToPorts string   `json:"toPorts,omitempty"`
	// LegacyTLSAddr, with CertFile/KeyFile (an RSA certificate), serves
	// HTTP/WebSocket over TLS 1.0 with RSA key exchange for Flash clients.
	// Off by default; never use it for the main port.
	LegacyTLSAddr string `json:"legacyTLSAddr,omitempty"`
	CertFile      string `json:"certFile,omitempty"`
	KeyFile       string `json:"keyFile,omitempty"`
}

// QUICLimits tunes the one QUIC listener of raw QUIC and WebTransport.
// Zero means the transport's default (given in parentheses); the
// per-connection frame, queue and flood bounds are in Limits.
type QUICLimits struct {
	// IdleTimeout closes a connection on which nothing was received for
	// this long; clients keep theirs alive with QUIC pings (60s).
	IdleTimeout Duration `json:"idleTimeout,omitempty"`
	// MaxStreamReceiveWindow and MaxConnectionReceiveWindow bound, in
	// bytes, what a client may have in flight toward the server per
	// stream (512 KiB) and per connection (1 MiB).
	MaxStreamReceiveWindow     uint64 `json:"maxStreamReceiveWindow,omitempty"`
	MaxConnectionReceiveWindow uint64 `json:"maxConnectionReceiveWindow,omitempty"`
	// MaxIncomingStreams bounds the bidirectional streams a client may
	// have open at once; raw QUIC uses one, HTTP/3 a few (16).
	MaxIncomingStreams int64 `json:"maxIncomingStreams,omitempty"`
}

// Storage tunes the Badger store. Zero means its default.
type Storage struct {
	// MemTableMB is the size of one Badger memtable in MiB (64). Each
	// full memtable is flushed to disk in the background, a burst of CPU
	// (about 300 ms per 64 MiB on one core of the project's VM, about
	// 90 000 persistent messages): larger memtables flush less often, in
	// bigger bursts, and keep that much more memory (up to five of them
	// when flushing falls behind).
	MemTableMB int `json:"memTableMB,omitempty"`
	// SyncInterval is the least time between two fsyncs (2ms): a
	// persistent message that comes sooner waits for the rest of it, so
	// that one fsync covers more messages (group commit). Negative: none.
	SyncInterval Duration `json:"syncInterval,omitempty"`
	// InboxDelay is how long a new offline-inbox entry stays in memory
	// only (1s): an acknowledgement within it costs no disk write. After a
	// crash, what was acknowledged within it may be delivered again. New
	// history index entries are gathered this long too, then written one
	// key per conversation and per sender. Negative: write both with
	// their message.
	InboxDelay Duration `json:"inboxDelay,omitempty"`
}

// DefaultSyncInterval is Storage.SyncInterval's default.
const DefaultSyncInterval = 2 * time.Millisecond

// Limits are the tunable bounds. Zero means the component's own default
// (given in parentheses).
type Limits struct {
	MaxFrameBytes int `json:"maxFrameBytes,omitempty"` // one inbound frame (64 KiB)
	QueueBytes    int `json:"queueBytes,omitempty"`    // outbound queue per connection (transport default)
	InboxSize     int `json:"inboxSize,omitempty"`     // offline messages kept per peer (50)
	// CommandsPerSecond and Burst bound what one connection may send
	// (close 1008 "flood" over it); 200/s and 400 by default, a negative
	// rate disables the check (WebSocket, QUIC, WebTransport).
	CommandsPerSecond float64  `json:"commandsPerSecond,omitempty"`
	Burst             int      `json:"burst,omitempty"`
	InboxTTL          Duration `json:"inboxTTL,omitempty"`     // how long they are kept (168h)
	LoginTimeout      Duration `json:"loginTimeout,omitempty"` // connect to session open (60s)
	ReadTimeout       Duration `json:"readTimeout,omitempty"`  // silence before close 4107 (360s)
	// Hub bounds (core.Config; zero means the core's default).
	MaxPeersPerConn int `json:"maxPeersPerConn,omitempty"` // sessions on one connection (64)
	MaxWatch        int `json:"maxWatch,omitempty"`        // watched peers per session (10000)
	// Watch entries of one connection over all its sessions (20000), and
	// of one app on this server (1000000); over either the connection is
	// closed with 4110.
	MaxWatchPerConn int `json:"maxWatchPerConn,omitempty"`
	MaxWatchPerApp  int `json:"maxWatchPerApp,omitempty"`
	MaxGroupMembers int `json:"maxGroupMembers,omitempty"` // members of a group; past it joins and invites are rejected (1000)
	// SignatureWindow is how far a signature's timestamp may be from now
	// (6h); NonceCache, when positive, refuses reused nonces, remembering
	// that many per app; when full, only signatures no newer than the
	// oldest it forgot are refused (default 0: no cache, the v1 demos reuse
	// one nonce).
	SignatureWindow Duration `json:"signatureWindow,omitempty"`
	NonceCache      int      `json:"nonceCache,omitempty"`
	// DedupeWindow is how long a modern client's send with a client id is
	// remembered, so that a repeat is acked without being stored again
	// (10m; negative: off); DedupeEntries bounds the sends remembered
	// (100000).
	DedupeWindow  Duration `json:"dedupeWindow,omitempty"`
	DedupeEntries int      `json:"dedupeEntries,omitempty"`
	// ConnectionsPerIP bounds the connections open at once from one IP
	// address, over every transport together (0: no limit). Over it, a
	// TCP connection is closed at once and a QUIC one with 1008.
	ConnectionsPerIP int `json:"connectionsPerIP,omitempty"`
	// LongPollSessionsPerIP bounds the long-poll sessions opened from one
	// IP address (200; negative: no bound); over it /lp/open answers 429.
	// A long-poll session also counts as a connection for
	// ConnectionsPerIP.
	LongPollSessionsPerIP int `json:"longPollSessionsPerIP,omitempty"`
}

// Cluster makes the node a member of a cluster on NATS (docs/cluster.md).
// Its zero value is a single node with Badger.
type Cluster struct {
	// NATS lists the nats-server URLs (nats:// or tls://). Set, or Embed,
	// makes the node a cluster member.
	NATS []string `json:"nats,omitempty"`
	// Creds is a NATS credentials file (JWT and nkey seed); NKeySeed a
	// file holding an nkey seed. At most one.
	Creds    string `json:"creds,omitempty"`
	NKeySeed string `json:"nkeySeed,omitempty"`
	// CAFile verifies the servers' TLS certificates; CertFile and KeyFile
	// are the client certificate, for servers that require one.
	CAFile   string `json:"caFile,omitempty"`
	CertFile string `json:"certFile,omitempty"`
	KeyFile  string `json:"keyFile,omitempty"`
	// Name names this node in its incarnations (default: the host name).
	Name string `json:"name,omitempty"`
	// Embed runs a nats-server with JetStream inside this process (store
	// under <data>/nats, sync_interval always), listening for clients on
	// EmbedListen (127.0.0.1:4222) and for routes on EmbedCluster; Routes
	// are the route URLs of every embedded server of the cluster
	// (nats-route://host:port), this one's included. For trials and small
	// setups: this process's crash is also a JetStream server's crash.
	Embed        bool     `json:"embed,omitempty"`
	EmbedListen  string   `json:"embedListen,omitempty"`
	EmbedCluster string   `json:"embedCluster,omitempty"`
	Routes       []string `json:"routes,omitempty"`
	// UnsafeSingleReplica keeps one replica of every stream and bucket
	// instead of 3: one server's loss then loses acknowledged messages.
	// For trials against a single nats-server only.
	UnsafeSingleReplica bool `json:"unsafeSingleReplica,omitempty"`
	// Monitor lists the monitoring URLs (http://host:8222) of the external
	// nats-servers: at start the node reads each one's /jsz and refuses to
	// start unless its JetStream syncs every write (sync_interval: always).
	// Empty: the setting cannot be seen, and the node says so in its log.
	Monitor []string `json:"monitor,omitempty"`
	// HistoryIndexer makes this node one of the cluster's history indexers
	// (one or two per cluster): it indexes the history stream in
	// <data>/hist-index and answers every node's history queries
	// (docs/cluster.md). Needs cluster mode.
	HistoryIndexer bool `json:"historyIndexer,omitempty"`
	// AdvertiseURL is this node's WebSocket URL that the cluster's
	// routers hand out (ws://, wss://, http:// or https://): every node's
	// /v1/route names the live nodes' advertised URLs in turn. Empty
	// means the public URL (PublicURL) if set, else ws://<first listen
	// address>/ (wss:// for a TLS-only node), and nothing when that
	// address's host is unspecified (0.0.0.0, ::). "off" advertises
	// nothing: behind a load balancer, whose address the router then
	// answers (PublicURL or the request's Host) as on a single node.
	AdvertiseURL string `json:"advertiseURL,omitempty"`
}

// Enabled reports whether the node is a cluster member.
func (c *Cluster) Enabled() bool { return len(c.NATS) > 0 || c.Embed }

// Config is the whole server configuration; it is also the schema of the
// JSON config file (field names as tagged).
type Config struct {
	// Listen holds the HTTP/WebSocket listen addresses (host:port).
	Listen []string `json:"listen,omitempty"`
	// ListenTLS holds HTTPS/WSS listen addresses (host:port), served like
	// Listen with the certificate of TLSCert/TLSKey (or the dev one).
	ListenTLS []string `json:"listenTLS,omitempty"`
	// Data is the Badger data directory.
	Data string `json:"data,omitempty"`
	// PublicURL is what the router hands out (http://, https://, ws://
	// or wss://); empty means the request's Host.
	PublicURL string `json:"publicURL,omitempty"`
	// Apps are the known applications. None means dev mode: any appId,
	// no signatures.
	Apps []App `json:"apps,omitempty"`
	// AllowedOrigins limits browser origins (router CORS, WebSocket
	// Origin check). Empty means any.
	AllowedOrigins []string `json:"allowedOrigins,omitempty"`
	Limits         Limits   `json:"limits"`
	// QUIC is the UDP address of raw QUIC (ALPN rtgate/1) and WebTransport
	// (HTTP/3 /wt), sharing one port; "off" disables both.
	QUIC string `json:"quic,omitempty"`
	// TLSCert and TLSKey are PEM files of the certificate used by QUIC and
	// WebTransport (ECDSA P-256 recommended). Empty: a self-signed dev
	// certificate valid 13 days, published at /certinfo.
	TLSCert string `json:"tlsCert,omitempty"`
	TLSKey  string `json:"tlsKey,omitempty"`
	// Flash configures the Flash (web-socket-js) fallback.
	Flash Flash `json:"flash"`
	// Storage tunes the Badger store.
	Storage Storage `json:"storage"`
	// QUICLimits tunes the QUIC listener (raw QUIC and WebTransport).
	QUICLimits QUICLimits `json:"quicLimits"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `json:"logLevel,omitempty"`
	// LogFormat is text or json.
	LogFormat string `json:"logFormat,omitempty"`
	// DebugAddr, when set, is a separate HTTP listener (HOST:PORT, keep it
	// on loopback) serving Go's pprof under /debug/pprof/ and POST
	// /debug/gc (collect garbage and return memory to the OS). Off by
	// default.
	DebugAddr string `json:"debugAddr,omitempty"`
	// AdminAddr, when set, is a separate HTTP listener (HOST:PORT, keep
	// it private) serving /metrics, /healthz, pprof under /debug/pprof/
	// and POST /debug/gc; the client listeners then no longer serve
	// /metrics. Off by default: /metrics is on the client port.
	AdminAddr string `json:"adminAddr,omitempty"`

	// Cluster makes the node a cluster member on NATS; zero: single node.
	Cluster Cluster `json:"cluster"`

	// ConfigFile is the file that was read, if any (not part of the
	// schema).
	ConfigFile string `json:"-"`

	// src maps a config-file key ("logLevel") to the environment
	// variable or flag that set it, for error messages; nil when every
	// setting came from the file or the defaults.
	src map[string]string
}

// DevMode reports whether no app is configured, so any appId is accepted.
func (c *Config) DevMode() bool { return len(c.Apps) == 0 }

// SlogLevel returns LogLevel as a slog.Level.
func (c *Config) SlogLevel() slog.Level {
	var l slog.Level
	l.UnmarshalText([]byte(c.LogLevel)) // validated by Load
	return l
}

// Duration is a time.Duration that reads "90s"-style strings or a number
// of seconds from JSON, and writes the string form.
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := parseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("%s is not a duration: want a string such as \"90s\" or a number of seconds", b)
	}
	*d = Duration(secs * float64(time.Second))
	return nil
}

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Env names, one per flag.
const (
	EnvListen     = "RTGATE_LISTEN"     // comma-separated host:port list
	EnvListenTLS  = "RTGATE_LISTEN_TLS" // comma-separated host:port list (HTTPS/WSS)
	EnvData       = "RTGATE_DATA"       // data directory
	EnvConfig     = "RTGATE_CONFIG"     // config file
	EnvPublicURL  = "RTGATE_PUBLIC_URL" // router public URL
	EnvApps       = "RTGATE_APPS"       // comma-separated ID:KEY:MASTERKEY list
	EnvSignatures = "RTGATE_SIGNATURES" // true/1: RTGATE_APPS and --app apps require signatures
	EnvLogLevel   = "RTGATE_LOG_LEVEL"
	EnvLogFormat  = "RTGATE_LOG_FORMAT"
	EnvOrigins    = "RTGATE_ALLOWED_ORIGINS" // comma-separated
	EnvQUIC       = "RTGATE_QUIC"            // UDP HOST:PORT or off
	EnvTLSCert    = "RTGATE_TLS_CERT"
	EnvTLSKey     = "RTGATE_TLS_KEY"
	EnvFlash      = "RTGATE_FLASH_POLICY" // HOST:PORT of the Flash policy listener
	EnvDebugAddr  = "RTGATE_DEBUG_ADDR"   // HOST:PORT of the pprof/debug listener
	EnvAdminAddr  = "RTGATE_ADMIN_ADDR"   // HOST:PORT of the admin listener (/metrics, /healthz, /debug/)
	EnvMemTableMB = "RTGATE_MEMTABLE_MB"  // Badger memtable size in MiB
	EnvNATS       = "RTGATE_NATS"         // comma-separated nats-server URLs
	EnvNATSCreds  = "RTGATE_NATS_CREDS"   // NATS credentials file
	EnvNodeName   = "RTGATE_NODE_NAME"    // cluster node name
)

// EnvAdvertise is the URL the cluster's routers hand out for this node, or off.
const EnvAdvertise = "RTGATE_ADVERTISE_URL"

// DefaultQUIC is the default UDP address of QUIC and WebTransport.
const DefaultQUIC = "127.0.0.1:4433"

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// flags holds the parsed command line.
type flags struct {
	set        map[string]bool
	listen     list
	listenTLS  list
	data       string
	config     string
	publicURL  string
	apps       list
	signatures bool
	logLevel   string
	logFormat  string
	origins    list
	quic       string
	tlsCert    string
	tlsKey     string
	flash      string
	debugAddr  string
	adminAddr  string
	memTableMB int

	nats, natsCreds, natsNKey, natsCA, natsCert, natsKey string
	nodeName, natsListen, natsCluster, advertise         string
	natsRoutes, natsMonitor                              list
	natsEmbed, natsUnsafeR1, histIndexer                 bool
}

func newFlagSet(name string, out io.Writer, f *flags) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Var(&f.listen, "listen", "HTTP/WebSocket listen address `HOST:PORT`, repeatable (default "+DefaultListen+"; env "+EnvListen+")")
	fs.Var(&f.listenTLS, "listen-tls", "HTTPS/WSS listen address `HOST:PORT`, repeatable, with the --tls-cert certificate (default none; env "+EnvListenTLS+")")
	fs.StringVar(&f.data, "data", "", "Badger data `DIR` (default ./"+DefaultDataDir+"; env "+EnvData+")")
	fs.StringVar(&f.config, "config", "", "JSON config `FILE` (env "+EnvConfig+")")
	fs.StringVar(&f.publicURL, "public-url", "", "`URL` the router hands out, e.g. http://chat.example.org:8080 (default: the request's Host; env "+EnvPublicURL+")")
	fs.Var(&f.apps, "app", "app `ID:KEY:MASTERKEY`, repeatable; with any app defined, unknown appIds are refused (env "+EnvApps+", comma-separated)")
	fs.BoolVar(&f.signatures, "signatures", false, "apps given by --app or "+EnvApps+" require signatures (env "+EnvSignatures+")")
	fs.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error (default "+DefaultLogLevel+"; env "+EnvLogLevel+")")
	fs.StringVar(&f.logFormat, "log-format", "", "text or json (default "+DefaultLogFormat+"; env "+EnvLogFormat+")")
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: rtgate [flags]\n\nFlags override RTGATE_* environment variables, which override the JSON config file (--config).\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&f.quic, "quic", "", "UDP `HOST:PORT` for raw QUIC and WebTransport, or off (default "+DefaultQUIC+"; env "+EnvQUIC+")")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "certificate PEM `FILE` for QUIC/WebTransport (default: a self-signed dev certificate; env "+EnvTLSCert+")")
	fs.StringVar(&f.tlsKey, "tls-key", "", "key PEM `FILE` for --tls-cert (env "+EnvTLSKey+")")
	fs.StringVar(&f.flash, "flash-policy", "", "Flash socket policy listener `HOST:PORT`, e.g. :843 (default none; env "+EnvFlash+")")
	fs.IntVar(&f.memTableMB, "memtable-mb", 0, "Badger memtable size in `MiB` (default 64; env "+EnvMemTableMB+")")
	fs.StringVar(&f.adminAddr, "admin-addr", "", "admin listener `HOST:PORT` serving /metrics, /healthz and /debug/ (pprof, POST /debug/gc); the client port then no longer serves /metrics; keep it private (default none; env "+EnvAdminAddr+")")
	fs.StringVar(&f.debugAddr, "debug-addr", "", "pprof and /debug/gc listener `HOST:PORT`, keep it on loopback (default none; env "+EnvDebugAddr+")")
	fs.StringVar(&f.nats, "nats", "", "make this node a cluster member: nats-server `URL[,URL...]` (env "+EnvNATS+"; docs/cluster.md)")
	fs.StringVar(&f.natsCreds, "nats-creds", "", "NATS credentials `FILE` (env "+EnvNATSCreds+")")
	fs.StringVar(&f.natsNKey, "nats-nkey", "", "`FILE` holding a NATS nkey seed")
	fs.StringVar(&f.natsCA, "nats-ca", "", "CA `FILE` that verifies the nats-servers' TLS certificates")
	fs.StringVar(&f.natsCert, "nats-cert", "", "client certificate `FILE` for NATS TLS")
	fs.StringVar(&f.natsKey, "nats-key", "", "client key `FILE` for --nats-cert")
	fs.StringVar(&f.nodeName, "node-name", "", "this node's `NAME` in the cluster (default: host name; env "+EnvNodeName+")")
	fs.BoolVar(&f.natsEmbed, "nats-embed", false, "run a nats-server with JetStream in this process and join the cluster through it (trials, small setups)")
	fs.StringVar(&f.natsListen, "nats-listen", "", "client `HOST:PORT` of the embedded nats-server (default 127.0.0.1:4222)")
	fs.StringVar(&f.natsCluster, "nats-cluster", "", "route `HOST:PORT` of the embedded nats-server")
	fs.Var(&f.natsRoutes, "nats-routes", "route `URL[,URL...]` of every embedded nats-server of the cluster (nats-route://host:port), repeatable")
	fs.StringVar(&f.advertise, "advertise-url", "", "this cluster node's WebSocket `URL` that every node's router hands out in turn, or off behind a load balancer (default: --public-url, else ws://<listen address>/; env "+EnvAdvertise+")")
	fs.BoolVar(&f.histIndexer, "history-indexer", false, "run a history indexer on this cluster node (index in <data>/hist-index; one or two per cluster)")
	fs.Var(&f.natsMonitor, "nats-monitor", "monitoring `URL[,URL...]` (http://host:8222) of the nats-servers: start only if each one's JetStream runs with sync_interval always, repeatable")
	fs.BoolVar(&f.natsUnsafeR1, "nats-unsafe-single-replica", false, "keep 1 replica of the JetStream assets instead of 3 (one nats-server only; its loss loses messages)")
	fs.Var(&f.origins, "allowed-origin", "allowed browser `ORIGIN`, repeatable (default any; env "+EnvOrigins+", comma-separated)")
	return fs
}

// Load builds the configuration from args (without the program name),
// getenv (nil: no environment) and the config file they name. Usage and
// flag errors are written to usage. The error wraps ErrInvalid for a bad
// configuration, and is flag.ErrHelp for -h.
func Load(args []string, getenv func(string) string, usage io.Writer) (*Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	f := flags{set: map[string]bool{}}
	fs := newFlagSet("rtgate", usage, &f)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected argument %q", ErrInvalid, fs.Arg(0))
	}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })

	c := &Config{}
	// File.
	path := getenv(EnvConfig)
	if f.set["config"] {
		path = f.config
	}
	if path != "" {
		if err := c.readFile(path); err != nil {
			return nil, err
		}
	}
	// Environment.
	if v := getenv(EnvListen); v != "" {
		c.Listen = splitList(v)
		c.from("listen", EnvListen)
	}
	if v := getenv(EnvListenTLS); v != "" {
		c.ListenTLS = splitList(v)
		c.from("listenTLS", EnvListenTLS)
	}
	if v := getenv(EnvData); v != "" {
		c.Data = v
	}
	if v := getenv(EnvPublicURL); v != "" {
		c.PublicURL = v
	}
	if v := getenv(EnvLogLevel); v != "" {
		c.LogLevel = v
		c.from("logLevel", EnvLogLevel)
	}
	if v := getenv(EnvLogFormat); v != "" {
		c.LogFormat = v
		c.from("logFormat", EnvLogFormat)
	}
	if v := getenv(EnvOrigins); v != "" {
		c.AllowedOrigins = splitList(v)
	}
	for _, e := range []struct {
		env, key string
		dst      *string
	}{{EnvQUIC, "quic", &c.QUIC}, {EnvTLSCert, "tlsCert", &c.TLSCert}, {EnvTLSKey, "tlsKey", &c.TLSKey},
		{EnvFlash, "flash.policyAddr", &c.Flash.PolicyAddr}, {EnvDebugAddr, "debugAddr", &c.DebugAddr},
		{EnvAdminAddr, "adminAddr", &c.AdminAddr}} {
		if v := getenv(e.env); v != "" {
			*e.dst = v
			c.from(e.key, e.env)
		}
	}
	if v := getenv(EnvMemTableMB); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("%w: %s=%q: want a number of MiB", ErrInvalid, EnvMemTableMB, v)
		}
		c.Storage.MemTableMB = n
	}
	if v := getenv(EnvNATS); v != "" {
		c.Cluster.NATS = splitList(v)
	}
	if v := getenv(EnvNATSCreds); v != "" {
		c.Cluster.Creds = v
	}
	if v := getenv(EnvNodeName); v != "" {
		c.Cluster.Name = v
	}
	if v := getenv(EnvAdvertise); v != "" {
		c.Cluster.AdvertiseURL = v
	}
	signatures := false
	if v := getenv(EnvSignatures); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%w: %s=%q: want true or false", ErrInvalid, EnvSignatures, v)
		}
		signatures = b
	}
	if f.set["signatures"] {
		signatures = f.signatures
	}
	extra := splitList(getenv(EnvApps))
	// Flags.
	if f.set["listen"] {
		c.Listen = splitList(strings.Join(f.listen, ","))
		c.from("listen", "--listen")
	}
	if f.set["listen-tls"] {
		c.ListenTLS = splitList(strings.Join(f.listenTLS, ","))
		c.from("listenTLS", "--listen-tls")
	}
	if f.set["data"] {
		c.Data = f.data
	}
	if f.set["public-url"] {
		c.PublicURL = f.publicURL
	}
	if f.set["log-level"] {
		c.LogLevel = f.logLevel
		c.from("logLevel", "--log-level")
	}
	if f.set["log-format"] {
		c.LogFormat = f.logFormat
		c.from("logFormat", "--log-format")
	}
	if f.set["allowed-origin"] {
		c.AllowedOrigins = splitList(strings.Join(f.origins, ","))
	}
	for _, fl := range []struct {
		name, key string
		src       string
		dst       *string
	}{{"quic", "quic", f.quic, &c.QUIC}, {"tls-cert", "tlsCert", f.tlsCert, &c.TLSCert}, {"tls-key", "tlsKey", f.tlsKey, &c.TLSKey},
		{"flash-policy", "flash.policyAddr", f.flash, &c.Flash.PolicyAddr}, {"debug-addr", "debugAddr", f.debugAddr, &c.DebugAddr},
		{"admin-addr", "adminAddr", f.adminAddr, &c.AdminAddr}} {
		if f.set[fl.name] {
			*fl.dst = fl.src
			c.from(fl.key, "--"+fl.name)
		}
	}
	if f.set["memtable-mb"] {
		c.Storage.MemTableMB = f.memTableMB
	}
	if f.set["nats"] {
		c.Cluster.NATS = splitList(f.nats)
	}
	for name, dst := range map[string]*string{"nats-creds": &c.Cluster.Creds, "nats-nkey": &c.Cluster.NKeySeed,
		"nats-ca": &c.Cluster.CAFile, "nats-cert": &c.Cluster.CertFile, "nats-key": &c.Cluster.KeyFile,
		"node-name": &c.Cluster.Name, "nats-listen": &c.Cluster.EmbedListen, "nats-cluster": &c.Cluster.EmbedCluster,
		"advertise-url": &c.Cluster.AdvertiseURL} {
		if f.set[name] {
			*dst = map[string]string{"nats-creds": f.natsCreds, "nats-nkey": f.natsNKey, "nats-ca": f.natsCA,
				"nats-cert": f.natsCert, "nats-key": f.natsKey, "node-name": f.nodeName,
				"nats-listen": f.natsListen, "nats-cluster": f.natsCluster, "advertise-url": f.advertise}[name]
		}
	}
	if f.set["nats-routes"] {
		c.Cluster.Routes = splitList(strings.Join(f.natsRoutes, ","))
	}
	if f.set["nats-embed"] {
		c.Cluster.Embed = f.natsEmbed
	}
	if f.set["nats-monitor"] {
		c.Cluster.Monitor = splitList(strings.Join(f.natsMonitor, ","))
	}
	if f.set["nats-unsafe-single-replica"] {
		c.Cluster.UnsafeSingleReplica = f.natsUnsafeR1
	}
	if f.set["history-indexer"] {
		c.Cluster.HistoryIndexer = f.histIndexer
	}
	extra = append(extra, f.apps...)
	for _, spec := range extra {
		a, err := parseApp(spec)
		if err != nil {
			return nil, err
		}
		a.Signatures = signatures
		c.putApp(a)
	}
	c.ConfigFile = path
	c.fillDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) readFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: config file: %v", ErrInvalid, err)
	}
	if err := decodeFile(b, c); err != nil {
		return fmt.Errorf("%w: config file %s: %v", ErrInvalid, path, err)
	}
	return nil
}

// from records that the setting under the config-file key was given by
// origin (an environment variable or a flag).
func (c *Config) from(key, origin string) {
	if c.src == nil {
		c.src = map[string]string{}
	}
	c.src[key] = origin
}

// where names, for an error message, what set the config-file key: the
// flag or environment variable, else the key in the config file.
func (c *Config) where(key string) string {
	if o, ok := c.src[key]; ok {
		return o
	}
	if c.ConfigFile != "" {
		return fmt.Sprintf("%q in %s", key, c.ConfigFile)
	}
	return key
}

// putApp adds a, replacing an app with the same id.
func (c *Config) putApp(a App) {
	for i := range c.Apps {
		if c.Apps[i].ID == a.ID {
			c.Apps[i] = a
			return
		}
	}
	c.Apps = append(c.Apps, a)
}

func (c *Config) fillDefaults() {
	if len(c.Listen) == 0 {
		c.Listen = []string{DefaultListen}
	}
	if c.Data == "" {
		c.Data = DefaultDataDir
	}
	if c.LogLevel == "" {
		c.LogLevel = DefaultLogLevel
	}
	if c.LogFormat == "" {
		c.LogFormat = DefaultLogFormat
	}
	if c.QUIC == "" {
		c.QUIC = DefaultQUIC
	}
}

// QUICEnabled reports whether QUIC/WebTransport should be served.
func (c *Config) QUICEnabled() bool { return c.QUIC != "off" }

func (c *Config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
	}
	for _, l := range c.Listen {
		if err := checkAddr(l); err != nil {
			return bad("%s: listen address %q: %v", c.where("listen"), l, err)
		}
	}
	for _, l := range c.ListenTLS {
		if err := checkAddr(l); err != nil {
			return bad("%s: TLS listen address %q: %v", c.where("listenTLS"), l, err)
		}
	}
	if cl := &c.Cluster; cl.Creds != "" && cl.NKeySeed != "" {
		return bad("cluster: creds and nkeySeed exclude each other")
	} else if (cl.CertFile == "") != (cl.KeyFile == "") {
		return bad("cluster: certFile and keyFile go together")
	} else if !cl.Embed && (cl.EmbedListen != "" || cl.EmbedCluster != "" || len(cl.Routes) > 0) {
		return bad("cluster: embedListen, embedCluster and routes need embed (--nats-embed)")
	} else if cl.Embed && len(cl.Routes) > 0 && cl.EmbedCluster == "" {
		return bad("cluster: routes need embedCluster (--nats-cluster HOST:PORT), the embedded server's route address")
	} else if len(cl.Monitor) > 0 && !cl.Enabled() {
		return bad("cluster: monitor (--nats-monitor) needs cluster mode (--nats or --nats-embed)")
	} else if cl.HistoryIndexer && !cl.Enabled() {
		return bad("cluster: historyIndexer (--history-indexer) needs cluster mode (--nats or --nats-embed)")
	} else if cl.AdvertiseURL != "" && !cl.Enabled() {
		return bad("cluster: advertiseURL (--advertise-url) needs cluster mode (--nats or --nats-embed)")
	}
	if c.QUICEnabled() {
		if err := checkAddr(c.QUIC); err != nil {
			return bad("%s: quic address %q: %v, or off", c.where("quic"), c.QUIC, err)
		}
	}
	if c.DebugAddr != "" {
		if err := checkAddr(c.DebugAddr); err != nil {
			return bad("%s: debug address %q: %v", c.where("debugAddr"), c.DebugAddr, err)
		}
	}
	if c.AdminAddr != "" {
		if err := checkAddr(c.AdminAddr); err != nil {
			return bad("%s: admin address %q: %v", c.where("adminAddr"), c.AdminAddr, err)
		}
	}
	if a := c.Flash.PolicyAddr; a != "" {
		if err := checkAddr(a); err != nil {
			return bad("%s: Flash policy address %q: %v", c.where("flash.policyAddr"), a, err)
		}
	}
	if a := c.Flash.LegacyTLSAddr; a != "" {
		if err := checkAddr(a); err != nil {
			return bad("%s: Flash legacy TLS address %q: %v", c.where("flash.legacyTLSAddr"), a, err)
		}
	}
	if q := c.QUICLimits; q.IdleTimeout < 0 || q.MaxIncomingStreams < 0 {
		return bad("quicLimits must not be negative")
	}
	if m := c.Storage.MemTableMB; m < 0 || m > 4096 {
		return bad("storage.memTableMB %d: want 1 to 4096 (0: the default, 64)", m)
	}
	if d := c.Storage.SyncInterval.Std(); d > 100*time.Millisecond {
		return bad("storage.syncInterval %v: want at most 100ms", d)
	}
	if d := c.Storage.InboxDelay.Std(); d > time.Minute {
		return bad("storage.inboxDelay %v: want at most 1m", d)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return bad("tlsCert and tlsKey go together")
	}
	if c.Flash.LegacyTLSAddr != "" && (c.Flash.CertFile == "" || c.Flash.KeyFile == "") {
		return bad("flash.legacyTLSAddr needs flash.certFile and flash.keyFile (an RSA certificate)")
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return bad("%s: log level %q: want debug, info, warn or error", c.where("logLevel"), c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return bad("%s: log format %q: want text or json", c.where("logFormat"), c.LogFormat)
	}
	seen := map[string]bool{}
	for _, a := range c.Apps {
		switch {
		case a.ID == "":
			return bad("an app has no id")
		case seen[a.ID]:
			return bad("app %q is defined twice", a.ID)
		case a.Signatures && a.MasterKey == "":
			return bad("app %q requires signatures but has no masterKey", a.ID)
		}
		seen[a.ID] = true
	}
	l := c.Limits
	if l.MaxFrameBytes < 0 || l.QueueBytes < 0 || l.MaxPeersPerConn < 0 || l.MaxWatch < 0 || l.MaxWatchPerConn < 0 || l.MaxWatchPerApp < 0 || l.MaxGroupMembers < 0 || l.SignatureWindow < 0 || l.NonceCache < 0 || l.DedupeEntries < 0 || l.InboxSize < 0 || l.InboxTTL < 0 || l.LoginTimeout < 0 || l.ReadTimeout < 0 || l.ConnectionsPerIP < 0 {
		return bad("limits must not be negative")
	}
	return nil
}

// checkAddr checks a HOST:PORT listen address: the port is a number from
// 0 (any free port) to 65535. The host may be empty (every interface).
func checkAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return errors.New("want HOST:PORT, e.g. 127.0.0.1:8080")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q: want a number from 0 to 65535", port)
	}
	return nil
}

// parseApp reads ID:KEY:MASTERKEY (KEY and MASTERKEY may be empty, the
// colons may not be left out).
func parseApp(spec string) (App, error) {
	parts := strings.Split(spec, ":")
	if len(parts) != 3 || parts[0] == "" {
		return App{}, fmt.Errorf("%w: app %q: want ID:KEY:MASTERKEY", ErrInvalid, spec)
	}
	return App{ID: parts[0], Key: parts[1], MasterKey: parts[2]}, nil
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

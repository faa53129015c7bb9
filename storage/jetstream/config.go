package jetstream

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/rtgate/rtgate/storage"
)

// Errors of Open.
var (
	// ErrConfig is returned for a Config Open cannot use.
	ErrConfig = errors.New("jetstream: invalid config")
	// ErrAssetMismatch is returned when a stream or bucket exists with a
	// configuration other than the one this store needs; the message says
	// what differs. The asset is left as it is.
	ErrAssetMismatch = errors.New("jetstream: existing asset has another configuration")
	// ErrServerVersion is returned for a nats-server older than
	// MinServerVersion.
	ErrServerVersion = errors.New("jetstream: nats-server too old")
)

// MinServerVersion is the oldest nats-server the store accepts: 2.15 is
// the first whose replicated streams group-commit with sync_interval
// always (docs/cluster.md).
const MinServerVersion = "2.15.0"

// Config configures a Store. The zero value is the production setup:
// namespace "rt", three replicas, the default inbox limits.
type Config struct {
	// Namespace prefixes every asset: streams <NS>_INBOX and <NS>_HIST,
	// bucket <NS>_GROUPS, subjects <ns>.inbox... Lowercase letters and
	// digits, at most 16. "" means "rt". Two clusters sharing NATS servers
	// need different namespaces.
	Namespace string
	// Replicas is how many servers keep each asset. 0 means 3. Fewer than
	// 3 needs UnsafeSingleReplica.
	Replicas int
	// UnsafeSingleReplica allows one replica: a single server's disk then
	// holds everything, and its loss loses acknowledged messages. For
	// trials and tests on one nats-server only. With Replicas 0 it means 1.
	UnsafeSingleReplica bool
	// Limits are the inbox limits (zero: 50 messages, 7 days).
	Limits storage.Limits
	// HistoryMaxAge is how long RT_HIST keeps messages. 0 means forever.
	HistoryMaxAge time.Duration
	// PublishTimeout bounds one publish attempt (waiting for its PubAck).
	// 0 means 5 s.
	PublishTimeout time.Duration
	// PersistTimeout bounds a whole Persist, its retries included (a
	// stream leader's crash stalls writes until a new leader is elected).
	// 0 means 9 s, inside the v1 client's 10 s ack window.
	PersistTimeout time.Duration
	// RequestTimeout bounds one request (one message read through the
	// stream leader, one delete), its retries while a leader is elected
	// included, when the caller's context has no earlier deadline. 0
	// means 5 s.
	RequestTimeout time.Duration
	// InboxDelay is how long the inbox entry of a recipient not named
	// offline (PersistOffline) stays in this store's memory before it is
	// published to RT_INBOX, if it is still unacknowledged then (lazy.go).
	// Other nodes see such an entry only once it is published. 0 means
	// 400 ms; negative publishes every entry with its message.
	InboxDelay time.Duration
	// WriterHeartbeat is how often the store writes its key in
	// <NS>_WRITERS (recover.go). 0 means 1 s.
	WriterHeartbeat time.Duration
	// WriterStale is how long another store's key may stay unchanged
	// before this store takes it for dead and publishes its held entries.
	// 0 means 5 s; it must exceed WriterHeartbeat.
	WriterStale time.Duration
	// Now is the store's clock (inbox age is now - Message.Time). nil
	// means time.Now.
	Now func() time.Time
	// Logger receives what the store reports. nil means slog.Default().
	Logger *slog.Logger
}

var namespaceRE = regexp.MustCompile(`^[a-z0-9]{1,16}$`)

// withDefaults returns c with the zero fields filled and checks it.
func (c Config) withDefaults() (Config, error) {
	if c.Namespace == "" {
		c.Namespace = "rt"
	}
	if !namespaceRE.MatchString(c.Namespace) {
		return c, fmt.Errorf("%w: namespace %q: want 1-16 lowercase letters and digits", ErrConfig, c.Namespace)
	}
	switch {
	case c.Replicas == 0 && c.UnsafeSingleReplica:
		c.Replicas = 1
	case c.Replicas == 0:
		c.Replicas = 3
	case c.Replicas < 0 || c.Replicas > 5:
		return c, fmt.Errorf("%w: %d replicas: want 1 to 5", ErrConfig, c.Replicas)
	case c.Replicas < 3 && !c.UnsafeSingleReplica:
		return c, fmt.Errorf("%w: %d replicas: fewer than 3 loses acknowledged messages with one server; set UnsafeSingleReplica to allow it", ErrConfig, c.Replicas)
	}
	c.Limits = c.Limits.WithDefaults()
	if c.HistoryMaxAge < 0 {
		return c, fmt.Errorf("%w: negative HistoryMaxAge", ErrConfig)
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = 5 * time.Second
	}
	if c.PersistTimeout <= 0 {
		c.PersistTimeout = 9 * time.Second
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.InboxDelay == 0 {
		c.InboxDelay = 400 * time.Millisecond
	}
	if c.WriterHeartbeat <= 0 {
		c.WriterHeartbeat = time.Second
	}
	if c.WriterStale <= 0 {
		c.WriterStale = 5 * time.Second
	}
	if c.WriterStale <= c.WriterHeartbeat {
		return c, fmt.Errorf("%w: WriterStale %v must exceed WriterHeartbeat %v", ErrConfig, c.WriterStale, c.WriterHeartbeat)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// names are the asset names and subject prefixes of one namespace.
type names struct {
	inbox, hist, groups string // stream, stream, bucket
	sends, writers      string // buckets
	inboxSubj, histSubj string // "<ns>.inbox", "<ns>.hist"
	ns                  string
}

func namesOf(ns string) names {
	up := strings.ToUpper(ns)
	return names{
		inbox: up + "_INBOX", hist: up + "_HIST", groups: up + "_GROUPS", sends: up + "_SENDS",
		writers: up + "_WRITERS", inboxSubj: ns + ".inbox", histSubj: ns + ".hist", ns: ns,
	}
}

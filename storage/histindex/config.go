package histindex

import (
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/nats-io/nats.go"
)

// Config configures an Indexer. Conn, Dir and Name are required; every
// other field has a usable zero value.
type Config struct {
	// Conn is the NATS connection (not owned).
	Conn *nats.Conn
	// Dir is the indexer's own Badger directory, never a node's data
	// directory. Empty or missing: the index is rebuilt from the stream.
	Dir string
	// Name names the indexer's durable consumer, hist-idx-<Name>: letters,
	// digits, '-' and '_', at most 32. Usually the node's name.
	Name string
	// Namespace is the cluster store's namespace (storage/jetstream); ""
	// means "rt".
	Namespace string
	// WaitTimeout bounds how long a request waits for the indexer to apply
	// the stream as far as it needs; 0 means 3 s.
	WaitTimeout time.Duration
	// Batch is how many stream messages are fetched and applied at a
	// time; 0 means 256.
	Batch int
	// Workers is how many requests are answered at once; 0 means 8. Up
	// to 8 times as many wait in the queue; more are answered ErrBusy.
	Workers int
	// MemTableSize is Badger's memtable size in bytes; 0 means Badger's
	// store default (64 MiB). Small values suit tests.
	MemTableSize int64
	// Logger receives what the indexer reports; nil means slog.Default().
	Logger *slog.Logger
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

func (c Config) withDefaults() (Config, error) {
	if c.Conn == nil {
		return c, fmt.Errorf("%w: no NATS connection", ErrConfig)
	}
	if c.Dir == "" {
		return c, fmt.Errorf("%w: no directory", ErrConfig)
	}
	if !nameRE.MatchString(c.Name) {
		return c, fmt.Errorf("%w: name %q: want 1-32 letters, digits, '-' or '_'", ErrConfig, c.Name)
	}
	if c.WaitTimeout <= 0 {
		c.WaitTimeout = 3 * time.Second
	}
	if c.Batch <= 0 {
		c.Batch = 256
	}
	if c.Workers <= 0 {
		c.Workers = 8
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// Subject returns the subject indexers answer on for namespace ns (""
// means "rt"); Queue is their queue group.
func Subject(ns string) string {
	if ns == "" {
		ns = "rt"
	}
	return ns + ".svc.hist"
}

// Queue is the queue group of the indexers.
const Queue = "hist"

// ConsumerName returns the durable consumer name of the indexer name.
func ConsumerName(name string) string { return "hist-idx-" + name }

// Header of the delete records an indexer appends to RT_HIST.
const (
	opHeader      = "Rt-Op"
	opHeaderValue = "delete"
)

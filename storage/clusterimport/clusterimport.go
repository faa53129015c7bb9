package clusterimport

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/badger"
	jsstore "github.com/rtgate/rtgate/storage/jetstream"
)

// ErrAlreadyImported is returned by Run when the same content was
// imported before; nothing was written.
var ErrAlreadyImported = errors.New("clusterimport: this data was imported already")

// Config configures Run. Source, Dest and Conn are required.
type Config struct {
	Source *badger.Store  // the single node's store (opened, so not live)
	Dest   *jsstore.Store // the cluster store
	Conn   *nats.Conn     // for the import record bucket (not owned)
	// Namespace is the cluster store's namespace; "" means "rt".
	Namespace string
	// Replicas of the import record bucket; 0 means 3.
	Replicas int
	// SendWindow is how far back client sends get a send claim (the
	// cluster keeps claims 15 minutes); 0 means 15 minutes.
	SendWindow time.Duration
	// Parallel is how many messages are written at once; 0 means 32.
	Parallel int
	// Progress, if set, is called now and then with the counts so far,
	// and once at the end.
	Progress func(Counts)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Counts are what an import wrote.
type Counts struct {
	Apps          int `json:"apps"`
	Groups        int `json:"groups"`        // created
	GroupsExisted int `json:"groupsExisted"` // already in the cluster, left as they were
	Members       int `json:"members"`       // members of the groups created
	Messages      int `json:"messages"`      // history messages
	MessagesTotal int `json:"messagesTotal"` // of this many
	Inboxes       int `json:"inboxes"`       // peers with pending messages
	InboxEntries  int `json:"inboxEntries"`  // pending (message, peer) pairs
	SendClaims    int `json:"sendClaims"`    // recent client sends claimed
}

// String is the summary line.
func (c Counts) String() string {
	return fmt.Sprintf("%d apps, %d groups created (%d members; %d existed already), %d/%d history messages, %d inboxes with %d pending messages, %d send claims",
		c.Apps, c.Groups, c.Members, c.GroupsExisted, c.Messages, c.MessagesTotal, c.Inboxes, c.InboxEntries, c.SendClaims)
}

// record is the value of a fingerprint's key in the import bucket.
type record struct {
	State  string    `json:"state"` // "running" or "done"
	Counts Counts    `json:"counts"`
	At     time.Time `json:"at"`
}

// msgKey names a message in an app.
type msgKey struct {
	app, id string
	t       int64
}

// Run imports everything cfg.Source holds into cfg.Dest and returns the
// counts; ErrAlreadyImported if this content was imported before.
func Run(ctx context.Context, cfg Config) (Counts, error) {
	var c Counts
	if cfg.Source == nil || cfg.Dest == nil || cfg.Conn == nil {
		return c, fmt.Errorf("%w: clusterimport: Source, Dest and Conn are required", storage.ErrInvalid)
	}
	if cfg.SendWindow <= 0 {
		cfg.SendWindow = 15 * time.Minute
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 32
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 3
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Progress == nil {
		cfg.Progress = func(Counts) {}
	}
	src := cfg.Source
	apps, err := src.Apps(ctx)
	if err != nil {
		return c, err
	}
	c.Apps = len(apps)

	// The fingerprint of the content, and the groups and pending entries.
	h := sha256.New()
	groups := map[string][]*storage.Group{}
	pending := map[msgKey][]string{}
	for _, app := range apps {
		fmt.Fprintf(h, "a%d:%s", len(app), app)
		if groups[app], err = allGroups(ctx, src, app); err != nil {
			return c, err
		}
		for _, g := range groups[app] {
			fmt.Fprintf(h, "g%d:%s", len(g.ID), g.ID)
		}
		if err := src.Messages(ctx, app, func(m *storage.Message) error {
			c.MessagesTotal++
			fmt.Fprintf(h, "m%d:%s", len(m.ID), m.ID)
			return binary.Write(h, binary.BigEndian, m.Time)
		}); err != nil {
			return c, err
		}
		peers, err := src.InboxPeers(ctx, app)
		if err != nil {
			return c, err
		}
		for _, peer := range peers {
			ms, err := src.Pending(ctx, app, peer)
			if err != nil {
				return c, err
			}
			if len(ms) > 0 {
				c.Inboxes++
			}
			for _, m := range ms {
				k := msgKey{app, m.ID, m.Time}
				pending[k] = append(pending[k], peer)
			}
		}
	}
	fp := hex.EncodeToString(h.Sum(nil))[:32]

	kv, err := importBucket(ctx, cfg)
	if err != nil {
		return c, err
	}
	if e, err := kv.Get(ctx, fp); err == nil {
		var r record
		if json.Unmarshal(e.Value(), &r) == nil && r.State == "done" {
			return r.Counts, fmt.Errorf("%w (%s, fingerprint %s: %v)", ErrAlreadyImported, r.At.Format(time.RFC3339), fp, r.Counts)
		}
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return c, fmt.Errorf("clusterimport: import record: %w", err)
	}
	if err := putRecord(ctx, kv, fp, record{State: "running", At: cfg.Now()}); err != nil {
		return c, err
	}

	dst := cfg.Dest
	for _, app := range apps {
		for _, g := range groups[app] {
			err := dst.CreateGroup(ctx, g)
			switch {
			case errors.Is(err, storage.ErrExists):
				c.GroupsExisted++
			case err != nil:
				return c, fmt.Errorf("clusterimport: group %s/%s: %w", app, g.ID, err)
			default:
				c.Groups++
				c.Members += len(g.Members)
			}
		}
	}
	cfg.Progress(c)

	since := cfg.Now().Add(-cfg.SendWindow).UnixMilli()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		sends    []*storage.Message
	)
	sem := make(chan struct{}, cfg.Parallel)
	last := time.Now()
	for _, app := range apps {
		err := src.Messages(ctx, app, func(m *storage.Message) error {
			mu.Lock()
			err := firstErr
			mu.Unlock()
			if err != nil {
				return err
			}
			inbox := pending[msgKey{app, m.ID, m.Time}]
			if m.ClientID != "" && m.Time >= since {
				sends = append(sends, m)
			}
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				// Every recipient counts as offline: the entries are
				// written with the message, not held in this process.
				err := dst.PersistOffline(ctx, m, inbox, inbox)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if firstErr == nil {
						firstErr = fmt.Errorf("clusterimport: message %s/%s: %w", app, m.ID, err)
					}
					return
				}
				c.Messages++
				c.InboxEntries += len(inbox)
				if time.Since(last) >= time.Second {
					last = time.Now()
					cfg.Progress(c)
				}
			}()
			return nil
		})
		wg.Wait()
		if err == nil {
			err = firstErr
		}
		if err != nil {
			return c, err
		}
	}
	for _, m := range sends {
		k := storage.SendKey{App: m.App, From: m.From, ClientID: m.ClientID}
		_, owned, err := dst.ClaimSend(ctx, k, m.ClientSum)
		if err != nil {
			return c, fmt.Errorf("clusterimport: send claim: %w", err)
		}
		if !owned {
			continue // claimed in the cluster already
		}
		if err := dst.FinishSend(ctx, k, m.ClientSum, m.ID, m.Time, true); err != nil {
			return c, fmt.Errorf("clusterimport: send claim: %w", err)
		}
		c.SendClaims++
	}
	if err := putRecord(ctx, kv, fp, record{State: "done", Counts: c, At: cfg.Now()}); err != nil {
		return c, err
	}
	cfg.Progress(c)
	return c, nil
}

// allGroups returns every group of app, a page of 1000 at a time.
func allGroups(ctx context.Context, src *badger.Store, app string) ([]*storage.Group, error) {
	var out []*storage.Group
	for {
		gs, err := src.QueryGroups(ctx, storage.GroupQuery{App: app, Limit: storage.MaxHistoryLimit, Skip: len(out)})
		if err != nil {
			return nil, err
		}
		out = append(out, gs...)
		if len(gs) < storage.MaxHistoryLimit {
			return out, nil
		}
	}
}

// importBucket opens (or creates) the import record bucket.
func importBucket(ctx context.Context, cfg Config) (jetstream.KeyValue, error) {
	js, err := jetstream.New(cfg.Conn)
	if err != nil {
		return nil, err
	}
	ns := cfg.Namespace
	if ns == "" {
		ns = "rt"
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: strings.ToUpper(ns) + "_IMPORT", Description: "rtgate cluster import records",
		Replicas: cfg.Replicas, History: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("clusterimport: import record bucket: %w", err)
	}
	return kv, nil
}

func putRecord(ctx context.Context, kv jetstream.KeyValue, fp string, r record) error {
	b, _ := json.Marshal(r) // strings, ints and a time always encode
	if _, err := kv.Put(ctx, fp, b); err != nil {
		return fmt.Errorf("clusterimport: import record: %w", err)
	}
	return nil
}

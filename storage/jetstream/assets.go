package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// dupWindow is the Nats-Msg-Id window of every asset: a Persist retried
// inside it is stored once. JetStream wants it no longer than MaxAge.
const dupWindow = 2 * time.Minute

func dupWindowFor(maxAge time.Duration) time.Duration {
	if maxAge > 0 && maxAge < dupWindow {
		return maxAge
	}
	return dupWindow
}

// inboxConfig, histConfig and groupsConfig are the configurations Open
// creates, or requires of existing assets.
func (c Config) inboxConfig(n names) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name: n.inbox, Subjects: []string{n.inboxSubj + ".*.*"},
		Retention: jetstream.LimitsPolicy, Storage: jetstream.FileStorage, Replicas: c.Replicas,
		MaxMsgsPerSubject: int64(c.Limits.InboxSize), MaxAge: c.Limits.InboxTTL,
		MaxMsgs: -1, MaxBytes: -1, Discard: jetstream.DiscardOld,
		Duplicates: dupWindowFor(c.Limits.InboxTTL), AllowDirect: true,
		// Not used yet: set now so that group fan-out by atomic batch
		// (scaleout.md 3.1) will not need existing streams changed.
		AllowAtomicPublish: true,
	}
}

func (c Config) histConfig(n names) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name: n.hist, Subjects: []string{n.histSubj + ".*.*.*"},
		Retention: jetstream.LimitsPolicy, Storage: jetstream.FileStorage, Replicas: c.Replicas,
		MaxMsgsPerSubject: -1, MaxAge: c.HistoryMaxAge,
		MaxMsgs: -1, MaxBytes: -1, Discard: jetstream.DiscardOld,
		Duplicates: dupWindowFor(c.HistoryMaxAge), AllowDirect: true,
	}
}

// groupsConfig is the stream nats.go makes for a KV bucket with History 1
// (its name and subjects are the KV convention, so KV clients can read
// it), with this store's replicas.
func (c Config) groupsConfig(n names) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name: "KV_" + n.groups, Subjects: []string{"$KV." + n.groups + ".>"},
		Retention: jetstream.LimitsPolicy, Storage: jetstream.FileStorage, Replicas: c.Replicas,
		MaxMsgsPerSubject: 1, MaxAge: 0,
		MaxMsgs: -1, MaxBytes: -1, Discard: jetstream.DiscardNew,
		Duplicates: dupWindow, AllowDirect: true, AllowRollup: true, DenyDelete: true,
	}
}

// sendsConfig is the KV bucket of send claims: one value per send, kept
// sendsTTL.
func (c Config) sendsConfig(n names) jetstream.StreamConfig {
	cfg := c.groupsConfig(n)
	cfg.Name, cfg.Subjects = "KV_"+n.sends, []string{"$KV." + n.sends + ".>"}
	cfg.MaxAge, cfg.Duplicates = sendsTTL, dupWindow
	return cfg
}

// writersConfig is the KV bucket of the stores' recovery points
// (recover.go).
func (c Config) writersConfig(n names) jetstream.StreamConfig {
	cfg := c.groupsConfig(n)
	cfg.Name, cfg.Subjects = "KV_"+n.writers, []string{"$KV." + n.writers + ".>"}
	return cfg
}

// configDiff lists how have differs from want in the fields this store
// depends on ("" if it does not).
func configDiff(have, want jetstream.StreamConfig) string {
	var d []string
	add := func(field string, h, w any) {
		d = append(d, fmt.Sprintf("%s is %v, want %v", field, h, w))
	}
	if !slices.Equal(have.Subjects, want.Subjects) {
		add("subjects", have.Subjects, want.Subjects)
	}
	if have.Retention != want.Retention {
		add("retention", have.Retention, want.Retention)
	}
	if have.Storage != want.Storage {
		add("storage", have.Storage, want.Storage)
	}
	if have.Replicas != want.Replicas {
		add("replicas", have.Replicas, want.Replicas)
	}
	if have.MaxMsgsPerSubject != want.MaxMsgsPerSubject {
		add("max_msgs_per_subject", have.MaxMsgsPerSubject, want.MaxMsgsPerSubject)
	}
	if have.MaxAge != want.MaxAge {
		add("max_age", have.MaxAge, want.MaxAge)
	}
	if have.MaxMsgs != want.MaxMsgs {
		add("max_msgs", have.MaxMsgs, want.MaxMsgs)
	}
	if have.MaxBytes != want.MaxBytes {
		add("max_bytes", have.MaxBytes, want.MaxBytes)
	}
	if have.Discard != want.Discard {
		add("discard", have.Discard, want.Discard)
	}
	if have.Duplicates != want.Duplicates {
		add("duplicate_window", have.Duplicates, want.Duplicates)
	}
	if have.AllowDirect != want.AllowDirect {
		add("allow_direct", have.AllowDirect, want.AllowDirect)
	}
	if have.AllowRollup != want.AllowRollup {
		add("allow_rollup_hdrs", have.AllowRollup, want.AllowRollup)
	}
	if have.AllowAtomicPublish != want.AllowAtomicPublish {
		add("allow_atomic", have.AllowAtomicPublish, want.AllowAtomicPublish)
	}
	if have.DenyDelete != want.DenyDelete {
		add("deny_delete", have.DenyDelete, want.DenyDelete)
	}
	if have.Sealed || have.DenyPurge {
		add("sealed/deny_purge", have.Sealed || have.DenyPurge, false)
	}
	return strings.Join(d, "; ")
}

// ensureStream creates the stream want, or checks the existing one; it
// never changes or deletes an existing stream. While JetStream cannot
// answer yet (no meta leader, or fewer servers than replicas: the other
// nodes of an embedded cluster are still starting) it asks again every
// 250 ms until ctx ends.
func ensureStream(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig, log *slog.Logger) (jetstream.Stream, error) {
	for attempt := 0; ; attempt++ {
		st, err := createOrGet(ctx, js, want)
		if err == nil {
			if d := configDiff(st.CachedInfo().Config, want); d != "" {
				return nil, fmt.Errorf("%w: stream %s: %s (left as it is; delete or edit it yourself, or change this node's settings)", ErrAssetMismatch, want.Name, d)
			}
			return st, nil
		}
		if !transient(err) || ctx.Err() != nil {
			return nil, fmt.Errorf("jetstream: stream %s: %w", want.Name, err)
		}
		if attempt%20 == 0 {
			log.Info("jetstream: waiting for JetStream to create or read a stream", "stream", want.Name, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("jetstream: stream %s: %w (last: %v)", want.Name, ctx.Err(), err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func createOrGet(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig) (jetstream.Stream, error) {
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := js.Stream(actx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		st, err = js.CreateStream(actx, want)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			// Another node created it meanwhile, maybe with another
			// configuration: check what is there.
			st, err = js.Stream(actx, want.Name)
		}
	}
	return st, err
}

// transient reports whether err may go away by itself: a timeout, no
// JetStream answer yet, or a cluster without enough servers up yet. A
// request JetStream refuses (400, 404; replicas on a single server) is
// not.
func transient(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case errCodeInsufficientResources, errCodeNoPeers:
			return true
		case errCodeReplicasNotClustered:
			return false
		}
		return apiErr.Code >= 500
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrJetStreamNotEnabled) ||
		errors.Is(err, nats.ErrConnectionReconnecting)
}

// JetStream error codes transient tells apart.
const (
	errCodeInsufficientResources = 10023 // fewer servers than replicas, for now
	errCodeNoPeers               = 10005 // no suitable peers for placement: peers offline
	errCodeReplicasNotClustered  = 10074 // replicas > 1 on a single server: never
)

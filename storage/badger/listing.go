package badger

import (
	"context"
	"encoding/binary"
	"slices"

	bdg "github.com/dgraph-io/badger/v4"

	"github.com/rtgate/rtgate/storage"
)

// Listing what a store holds, for moving it elsewhere (rtgate cluster
// import): the apps, the peers whose inboxes may hold messages, and the
// history. The inboxes' and groups' contents are then read with Pending
// and QueryGroups.

// readString reads the length-prefixed string at the start of b and
// returns it and the bytes after it.
func readString(b []byte) (string, []byte, bool) {
	n, w := uvarint(b)
	if w == 0 || w+n > len(b) {
		return "", nil, false
	}
	return string(b[w : w+n]), b[w+n:], true
}

// Apps returns the ids of the apps with a message or a group, sorted.
func (s *Store) Apps(ctx context.Context) ([]string, error) {
	seen := map[string]bool{}
	err := s.read(ctx, func(tx *bdg.Txn) error {
		for _, table := range []byte{tMessage, tGroup} {
			if err := firstStrings(tx, []byte{table}, func(app string) { seen[app] = true }); err != nil {
				return err
			}
		}
		return nil
	})
	apps := make([]string, 0, len(seen))
	for a := range seen {
		apps = append(apps, a)
	}
	slices.Sort(apps)
	return apps, err
}

// firstStrings calls fn with each distinct first string of the keys under
// prefix, seeking past the rest of its keys where it can.
func firstStrings(tx *bdg.Txn, prefix []byte, fn func(string)) error {
	it := tx.NewIterator(bdg.IteratorOptions{Prefix: prefix})
	defer it.Close()
	last, seen := "", false
	for it.Seek(prefix); it.Valid(); {
		str, _, ok := readString(it.Item().Key()[len(prefix):])
		if !ok || seen && str == last {
			it.Next() // a key past the seek target, or a malformed one
			continue
		}
		fn(str)
		last, seen = str, true
		sub := binary.AppendUvarint(slices.Clone(prefix), uint64(len(str)))
		it.Seek(afterPrefix(append(sub, str...)))
	}
	return nil
}

// InboxPeers returns the peers of app whose inboxes may hold messages
// (written inbox entries, and entries still in memory only), sorted.
func (s *Store) InboxPeers(ctx context.Context, app string) ([]string, error) {
	seen := map[string]bool{}
	prefix := key(tInbox, app)
	err := s.read(ctx, func(tx *bdg.Txn) error {
		return firstStrings(tx, prefix, func(peer string) { seen[peer] = true })
	})
	if err != nil {
		return nil, err
	}
	s.inbox.mu.Lock()
	for p, ents := range s.inbox.lazy {
		if len(ents) == 0 || len(p) <= len(prefix) || p[:len(prefix)] != string(prefix) {
			continue
		}
		if peer, rest, ok := readString([]byte(p[len(prefix):])); ok && len(rest) == 0 {
			seen[peer] = true
		}
	}
	s.inbox.mu.Unlock()
	peers := make([]string, 0, len(seen))
	for p := range seen {
		peers = append(peers, p)
	}
	slices.Sort(peers)
	return peers, nil
}

// Messages calls fn with every history message of app, oldest first (by
// time, then id); an error from fn stops it and is returned. It reads one
// snapshot of the store.
func (s *Store) Messages(ctx context.Context, app string, fn func(*storage.Message) error) error {
	prefix := key(tMessage, app)
	return s.read(ctx, func(tx *bdg.Txn) error {
		it := tx.NewIterator(bdg.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for it.Seek(prefix); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			item := it.Item()
			_, id, err := splitTimeID(item.Key(), len(prefix))
			if err != nil {
				return err
			}
			var m *storage.Message
			if err := item.Value(func(v []byte) (err error) {
				m, err = decodeMessage(app, id, v)
				return err
			}); err != nil {
				return err
			}
			if err := fn(m); err != nil {
				return err
			}
		}
		return nil
	})
}

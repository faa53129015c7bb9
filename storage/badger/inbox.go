package badger

import (
	"container/list"
	"slices"
	"strings"

	bdg "github.com/dgraph-io/badger/v4"
)

// defaultInboxCache is the default Config.InboxCache.
const defaultInboxCache = 100_000

// inboxEntry is one inbox key (prefix + time + id) without its prefix.
type inboxEntry struct {
	ts int64
	id string
}

func compareEntries(a, b inboxEntry) int {
	switch {
	case a.ts < b.ts:
		return -1
	case a.ts > b.ts:
		return 1
	}
	return strings.Compare(a.id, b.id)
}

// inboxIndex is the key set of one inbox, sorted as the keys are.
type inboxIndex struct {
	ents []inboxEntry
}

// insert adds e unless it is there already.
func (x *inboxIndex) insert(e inboxEntry) {
	i, found := slices.BinarySearchFunc(x.ents, e, compareEntries)
	if !found {
		x.ents = slices.Insert(x.ents, i, e)
	}
}

// inboxCache keeps the key sets of recently used inboxes, so that Persist
// and Remove need no iterator: an LRU of at most max inboxes, by inbox
// prefix. It is used by the committer goroutine only, which is the only
// writer of inbox keys, so a cached set is exactly what is committed
// (badger's TTL sweep aside: an entry it dropped may linger here, which
// only costs a delete of a missing key).
type inboxCache struct {
	max int
	ll  *list.List // of *cacheItem, most recent first
	m   map[string]*list.Element
}

type cacheItem struct {
	prefix string
	ents   []inboxEntry
}

func newInboxCache(max int) *inboxCache {
	return &inboxCache{max: max, ll: list.New(), m: map[string]*list.Element{}}
}

// get returns the cached key set of the inbox under prefix; the caller
// must not modify it.
func (c *inboxCache) get(prefix string) ([]inboxEntry, bool) {
	el, ok := c.m[prefix]
	if !ok {
		return nil, false
	}
	c.ll.MoveToFront(el)
	return el.Value.(*cacheItem).ents, true
}

// put caches ents as the key set of the inbox under prefix.
func (c *inboxCache) put(prefix string, ents []inboxEntry) {
	if c.max <= 0 {
		return
	}
	if el, ok := c.m[prefix]; ok {
		el.Value.(*cacheItem).ents = ents
		c.ll.MoveToFront(el)
		return
	}
	c.m[prefix] = c.ll.PushFront(&cacheItem{prefix: prefix, ents: ents})
	for c.ll.Len() > c.max {
		el := c.ll.Back()
		c.ll.Remove(el)
		delete(c.m, el.Value.(*cacheItem).prefix)
	}
}

// drop forgets the inbox under prefix.
func (c *inboxCache) drop(prefix string) {
	if el, ok := c.m[prefix]; ok {
		c.ll.Remove(el)
		delete(c.m, prefix)
	}
}

// loadInbox lists the inbox under prefix from tx.
func loadInbox(tx *bdg.Txn, prefix []byte) ([]inboxEntry, error) {
	var ents []inboxEntry
	it := tx.NewIterator(bdg.IteratorOptions{Prefix: prefix})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		ts, id, err := splitTimeID(it.Item().Key(), len(prefix))
		if err != nil {
			return nil, err
		}
		ents = append(ents, inboxEntry{ts, id})
	}
	return ents, nil
}

// listKeys returns the keys under prefix in tx, sorted.
func listKeys(tx *bdg.Txn, prefix []byte) [][]byte {
	var keys [][]byte
	it := tx.NewIterator(bdg.IteratorOptions{Prefix: prefix})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		keys = append(keys, it.Item().KeyCopy(nil))
	}
	return keys
}

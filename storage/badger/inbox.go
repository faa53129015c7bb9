package badger

import (
	"container/list"
	"slices"
	"strings"

	bdg "github.com/dgraph-io/badger/v4"

	"github.com/rtgate/rtgate/storage"
)

// defaultInboxCache is the default Config.InboxCache.
const defaultInboxCache = 100_000

// inboxEntry is one inbox key (prefix + time + id) without its prefix.
type inboxEntry struct {
	ts   int64
	id   string
	lazy bool // in memory only so far (see lazy.go)
	// msg is the message of a lazy entry (the store's own copy, shared by
	// its inbox entries), so that Remove need not read it back; nil once
	// the entry is written or the message deleted.
	msg *storage.Message
	// flushing marks, in Store.lazy only, a lazy entry the committer is
	// writing out (flushRefs): removeLazy must leave it alone.
	flushing bool
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
	prefix string // the inbox's key prefix
	ents   []inboxEntry
}

// insert adds e unless it is there already.
func (x *inboxIndex) insert(e inboxEntry) {
	i, found := slices.BinarySearchFunc(x.ents, e, compareEntries)
	if !found {
		x.ents = slices.Insert(x.ents, i, e)
	}
}

// find returns the index of the entry ts/id.
func (x *inboxIndex) find(ts int64, id string) (int, bool) {
	return slices.BinarySearchFunc(x.ents, inboxEntry{ts: ts, id: id}, compareEntries)
}

// lazyOf returns the lazy entries of ents (nil if none).
func lazyOf(ents []inboxEntry) []inboxEntry {
	var out []inboxEntry
	for _, e := range ents {
		if e.lazy {
			out = append(out, e)
		}
	}
	return out
}

// inboxCache keeps the key sets of recently used inboxes, so that Persist
// and Remove need no iterator: an LRU of at most max inboxes, by inbox
// prefix. It is used by the committer goroutine only, which is the only
// writer of inbox keys, so a cached set is exactly what is committed
// (badger's TTL sweep aside: an entry it dropped may linger here, which
// only costs a delete of a missing key), plus the lazy entries, which are
// nowhere else: an inbox that holds one is never evicted.
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
	for el := c.ll.Back(); c.ll.Len() > c.max && el != nil; {
		prev := el.Prev()
		if it := el.Value.(*cacheItem); !hasLazy(it.ents) {
			c.ll.Remove(el)
			delete(c.m, it.prefix)
		}
		el = prev
	}
}

func hasLazy(ents []inboxEntry) bool {
	return slices.ContainsFunc(ents, func(e inboxEntry) bool { return e.lazy })
}

// drop forgets the inbox under prefix, unless it holds lazy entries.
func (c *inboxCache) drop(prefix string) {
	if el, ok := c.m[prefix]; ok && !hasLazy(el.Value.(*cacheItem).ents) {
		c.ll.Remove(el)
		delete(c.m, prefix)
	}
}

// loadInbox lists the inbox under prefix from tx, merged with the
// entries extra (sorted, without duplicates).
func loadInbox(tx *bdg.Txn, prefix []byte, extra []inboxEntry) ([]inboxEntry, error) {
	it := tx.NewIterator(bdg.IteratorOptions{Prefix: prefix})
	defer it.Close()
	return scanInbox(it, prefix, extra)
}

// scanInbox is loadInbox with an iterator, which it seeks to prefix: one
// iterator can serve many inboxes (creating one costs more than a seek).
func scanInbox(it *bdg.Iterator, prefix []byte, extra []inboxEntry) ([]inboxEntry, error) {
	x := &inboxIndex{ents: extra}
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		ts, id, err := splitTimeID(it.Item().Key(), len(prefix))
		if err != nil {
			return nil, err
		}
		if extra == nil {
			x.ents = append(x.ents, inboxEntry{ts: ts, id: id}) // keys come sorted
		} else {
			x.insert(inboxEntry{ts: ts, id: id})
		}
	}
	return x.ents, nil
}

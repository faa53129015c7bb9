package badger

import "github.com/rtgate/rtgate/storage"

// defaultMessageCache is the default Config.MessageCache.
const defaultMessageCache = 4096

// msgCache keeps copies of the most recently persisted message records, so
// that Remove (an acknowledgement, usually moments after the Persist)
// returns them without reading and decoding them back from badger. It
// evicts the oldest first (a ring), and is used by the committer goroutine
// only, like inboxCache. An entry is put when its Persist runs in a
// transaction, before the commit: if that commit fails, the entry names a
// record that is not in the database, which is harmless because Remove
// only looks a record up for an inbox entry, and inbox entries come from
// committed transactions. Delete drops the entry.
type msgCache struct {
	m    map[msgKey]*storage.Message
	ring []msgKey // the keys put, in a circle; ring[next] is the oldest
	next int
}

type msgKey struct{ app, id string }

// newMsgCache returns a cache of max messages; nil (no caching) for max <= 0.
func newMsgCache(max int) *msgCache {
	if max <= 0 {
		return nil
	}
	return &msgCache{m: make(map[msgKey]*storage.Message, max), ring: make([]msgKey, max)}
}

// put keeps a copy of m, evicting the oldest message. (Until the ring is
// full the oldest slot holds the zero key, which no message has: Persist
// needs App and ID.)
func (c *msgCache) put(m *storage.Message) {
	if c == nil {
		return
	}
	k := msgKey{m.App, m.ID}
	if _, ok := c.m[k]; !ok {
		delete(c.m, c.ring[c.next])
		c.ring[c.next] = k
		c.next = (c.next + 1) % len(c.ring)
	}
	c.m[k] = m.Clone()
}

// get returns a copy of the cached message, or nil.
func (c *msgCache) get(app, id string) *storage.Message {
	if c == nil {
		return nil
	}
	if m := c.m[msgKey{app, id}]; m != nil {
		return m.Clone()
	}
	return nil
}

// drop forgets the message (its ring slot is reused when it comes round).
func (c *msgCache) drop(app, id string) {
	if c != nil {
		delete(c.m, msgKey{app, id})
	}
}

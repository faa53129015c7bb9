package jetstream

import (
	"slices"
	"sync"

	"github.com/rtgate/rtgate/storage"
)

// maxCachedBytes bounds the messages a seqCache holds (about 32 MiB:
// some 6,000 messages of the largest size, many more of usual ones); past
// it the cache starts over empty, and Remove reads the inbox instead
// until it has learned again.
const maxCachedBytes = 32 << 20

// size approximates the memory m holds.
func size(m *storage.Message) int {
	n := 128 + len(m.App) + len(m.ID) + len(m.From) + len(m.Room) + len(m.Text) + len(m.FromIP) + len(m.ConvID) + len(m.ClientID)
	for _, p := range m.To {
		n += 16 + len(p)
	}
	return n
}

// seqCache remembers which stream sequences hold which inbox messages, as
// learned from Persist's PubAcks and from reads, so that Remove can delete
// by sequence without reading the inbox first. A sequence is never reused,
// so what the cache says stays true as long as the message exists;
// deleting a sequence already gone is harmless and tells Remove the
// message was no longer pending. Safe for concurrent use.
type seqCache struct {
	mu    sync.Mutex
	m     map[string]map[string]*entry // inbox subject -> message id -> entry; guarded by mu
	bytes int                          // size of the messages in m; guarded by mu
}

// subjectLocked returns subj's entries, made if missing; past
// maxCachedBytes the cache starts over empty first. c.mu must be held.
func (c *seqCache) subjectLocked(subj string) map[string]*entry {
	if c.m == nil || c.bytes >= maxCachedBytes {
		c.m, c.bytes = map[string]map[string]*entry{}, 0
	}
	byID := c.m[subj]
	if byID == nil {
		byID = map[string]*entry{}
		c.m[subj] = byID
	}
	return byID
}

// note records that seq on subj holds m.
func (c *seqCache) note(subj string, m *storage.Message, seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	byID := c.subjectLocked(subj)
	e := byID[m.ID]
	if e == nil {
		byID[m.ID] = &entry{m: m, seqs: []uint64{seq}}
		c.bytes += size(m)
		return
	}
	if e.writer != "" { // published since another store said it held it
		e.writer, e.seqs, e.m = "", []uint64{seq}, m
		return
	}
	if !slices.Contains(e.seqs, seq) {
		e.seqs = append(e.seqs, seq)
		if seq == slices.Max(e.seqs) {
			e.m = m
		}
	}
}

// noteHeld records that the store writer holds m on subj in memory.
func (c *seqCache) noteHeld(subj string, m *storage.Message, writer string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	byID := c.subjectLocked(subj)
	if byID[m.ID] == nil {
		byID[m.ID] = &entry{m: m, writer: writer}
		c.bytes += size(m)
	}
}

// lookupSome returns the entries (copies) of those ids on subj the cache
// knows.
func (c *seqCache) lookupSome(subj string, ids []string) []*entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	byID := c.m[subj]
	var out []*entry
	for _, id := range ids {
		if e := byID[id]; e != nil && !slices.ContainsFunc(out, func(o *entry) bool { return o.m.ID == id }) {
			out = append(out, &entry{m: e.m, seqs: slices.Clone(e.seqs), writer: e.writer})
		}
	}
	return out
}

// lookup returns the entries of ids on subj (copies), and whether the
// cache knew every one of them.
func (c *seqCache) lookup(subj string, ids []string) ([]*entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	byID := c.m[subj]
	var out []*entry
	for _, id := range ids {
		e := byID[id]
		if e == nil {
			return nil, false
		}
		if !slices.ContainsFunc(out, func(o *entry) bool { return o.m.ID == id }) {
			out = append(out, &entry{m: e.m, seqs: slices.Clone(e.seqs), writer: e.writer})
		}
	}
	return out, true
}

// forget drops ids of subj.
func (c *seqCache) forget(subj string, ids []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	byID := c.m[subj]
	for _, id := range ids {
		if e, ok := byID[id]; ok {
			delete(byID, id)
			c.bytes -= size(e.m)
		}
	}
	if len(byID) == 0 {
		delete(c.m, subj)
	}
}

// only returns the single sequence holding id on subj, and the message it
// holds; false when the cache does not know id, or knows more than one
// copy of it (a ref to one copy would leave the others behind).
func (c *seqCache) only(subj, id string) (uint64, *storage.Message, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[subj][id]
	if e == nil || len(e.seqs) != 1 {
		return 0, nil, false
	}
	return e.seqs[0], e.m, true
}

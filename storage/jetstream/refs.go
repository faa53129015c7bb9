package jetstream

import (
	"encoding/binary"

	"github.com/rtgate/rtgate/storage"
)

var _ storage.InboxRefs = (*Store)(nil)

// refReceipt is the flag bit of a ref saying the message asked for a
// delivery receipt.
const refReceipt = 1

// InboxRef implements storage.InboxRefs: the RT_INBOX sequence holding
// id in peer's inbox (uvarint) and a flags byte (refReceipt), when this
// store knows it from Persist's PubAck or from a read; nil otherwise.
//
// For an entry this store holds in memory (lazy.go) the ref is a zero
// sequence, the flags byte and this store's writer id: an ack on another
// node is then forwarded here.
func (s *Store) InboxRef(app, peer, id string) []byte {
	subj := s.n.inboxSubject(app, peer)
	if m, ok := s.lazy.holds(subj, id); ok {
		ref := append(make([]byte, 0, 2+len(s.writer)), 0, refFlags(m))
		return append(ref, s.writer...)
	}
	seq, m, ok := s.seqs.only(subj, id)
	if !ok {
		return nil
	}
	ref := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+1), seq)
	return append(ref, refFlags(m))
}

func refFlags(m *storage.Message) byte {
	var flags byte
	if m.Receipt {
		flags |= refReceipt
	}
	return flags
}

// LearnInboxRef implements storage.InboxRefs: Remove then deletes m by
// the ref's sequence, without reading the inbox.
func (s *Store) LearnInboxRef(peer string, m *storage.Message, ref []byte) {
	if m == nil || m.App == "" || m.ID == "" {
		return
	}
	seq, k := binary.Uvarint(ref)
	if k == 1 && seq == 0 && len(ref) > 2 { // held by another store
		m.Receipt = ref[1]&refReceipt != 0
		s.seqs.noteHeld(s.n.inboxSubject(m.App, peer), m, string(ref[2:]))
		return
	}
	if k <= 0 || seq == 0 || len(ref) != k+1 {
		return
	}
	m.Receipt = ref[k]&refReceipt != 0
	s.seqs.note(s.n.inboxSubject(m.App, peer), m, seq)
}

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
func (s *Store) InboxRef(app, peer, id string) []byte {
	seq, m, ok := s.seqs.only(s.n.inboxSubject(app, peer), id)
	if !ok {
		return nil
	}
	ref := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+1), seq)
	var flags byte
	if m.Receipt {
		flags |= refReceipt
	}
	return append(ref, flags)
}

// LearnInboxRef implements storage.InboxRefs: Remove then deletes m by
// the ref's sequence, without reading the inbox.
func (s *Store) LearnInboxRef(peer string, m *storage.Message, ref []byte) {
	seq, k := binary.Uvarint(ref)
	if k <= 0 || seq == 0 || len(ref) != k+1 || m == nil || m.App == "" || m.ID == "" {
		return
	}
	m.Receipt = ref[k]&refReceipt != 0
	s.seqs.note(s.n.inboxSubject(m.App, peer), m, seq)
}

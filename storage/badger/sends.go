package badger

import (
	"context"

	bdg "github.com/dgraph-io/badger/v4"

	"github.com/rtgate/rtgate/storage"
)

var _ storage.ClientSends = (*Store)(nil)

// hasClient reports whether the record v may carry a ClientID: a msgpack
// array of at least its 12 fields (see msgRecord), without decoding it.
func hasClient(v []byte) bool {
	return len(v) > 0 && (v[0] >= 0x90|12 && v[0] <= 0x9f || v[0] == 0xdc || v[0] == 0xdd)
}

// ClientSends implements storage.ClientSends: it reads the records of
// every app from since on and decodes those that carry a ClientID.
func (s *Store) ClientSends(ctx context.Context, since int64, fn func(*storage.Message) error) error {
	return s.read(ctx, func(tx *bdg.Txn) error {
		return recordsSince(tx, since, func(app, id string, v []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !hasClient(v) {
				return nil
			}
			m, err := decodeMessage(app, id, v)
			if err != nil || m.ClientID == "" {
				return err
			}
			return fn(m)
		})
	})
}

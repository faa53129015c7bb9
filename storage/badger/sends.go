package badger

import (
	"context"
	"fmt"

	bdg "github.com/dgraph-io/badger/v4"

	"github.com/rtgate/rtgate/storage"
)

var _ storage.ClientSends = (*Store)(nil)

// recordWithClient is the first byte of a record that carries a ClientID:
// a msgpack array of 12 fields (see msgRecord).
const recordWithClient = 0x90 | 12

// ClientSends implements storage.ClientSends: it reads the records of
// every app from since on, in time order, and decodes those that carry a
// ClientID.
func (s *Store) ClientSends(ctx context.Context, since int64, fn func(*storage.Message) error) error {
	return s.read(ctx, func(tx *bdg.Txn) error {
		it := tx.NewIterator(bdg.IteratorOptions{Prefix: []byte{tMessage}})
		defer it.Close()
		for it.Rewind(); it.Valid(); {
			k := it.Item().Key()
			n, w := uvarint(k[1:])
			if w == 0 {
				return fmt.Errorf("badger: bad message key %x", k)
			}
			app := string(k[1+w : 1+w+n])
			prefix := key(tMessage, app)
			for it.Seek(appendTime(prefix, since)); it.ValidForPrefix(prefix); it.Next() {
				if err := ctx.Err(); err != nil {
					return err
				}
				item := it.Item()
				var m *storage.Message
				err := item.Value(func(v []byte) error {
					if len(v) == 0 || v[0] != recordWithClient {
						return nil
					}
					_, id, err := splitTimeID(item.Key(), len(prefix))
					if err == nil {
						m, err = decodeMessage(app, id, v)
					}
					return err
				})
				if err != nil {
					return err
				}
				if m != nil && m.ClientID != "" {
					if err := fn(m); err != nil {
						return err
					}
				}
			}
			it.Seek(afterPrefix(prefix))
		}
		return nil
	})
}

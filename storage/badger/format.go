package badger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"

	bdg "github.com/dgraph-io/badger/v4"
)

// formatVersion is the key layout this package writes (see the package
// doc), stored under the key "v". Format 1 (rtgate before the key was
// introduced, so no "v" key) keyed message records by id alone and kept an
// app-wide history index, table 'a'; format 2 keys the records by time and
// id, and those records are the app-wide history; format 3 lets a history
// index key hold a group of entries in its value (index.go), so a format 2
// database is a format 3 one as it is, but format 2 code would miss the
// grouped entries.
const formatVersion = 3

var formatKey = []byte{tFormat}

// checkFormat brings the database in db to formatVersion: it records the
// version in an empty database, migrates a format 1 database and refuses
// one written by a newer rtgate.
func checkFormat(db *bdg.DB, log *slog.Logger) error {
	version, empty := 0, true
	err := db.View(func(tx *bdg.Txn) error {
		item, err := tx.Get(formatKey)
		if err == nil {
			return item.Value(func(v []byte) error {
				n, w := binary.Uvarint(v)
				if w <= 0 {
					return fmt.Errorf("badger: bad format version %x", v)
				}
				version = int(n)
				return nil
			})
		}
		if !errors.Is(err, bdg.ErrKeyNotFound) {
			return err
		}
		it := tx.NewIterator(bdg.IteratorOptions{})
		defer it.Close()
		it.Rewind()
		empty = !it.Valid()
		return nil
	})
	switch {
	case err != nil:
		return err
	case version == formatVersion:
		return nil
	case version > formatVersion:
		return fmt.Errorf("badger: the database has format %d, newer than this rtgate's %d", version, formatVersion)
	case version == 0 && !empty:
		n, err := migrateV1(db)
		if err != nil {
			return fmt.Errorf("badger: migrate format 1 to %d: %w", formatVersion, err)
		}
		log.Info("badger: migrated the database from format 1", "to", formatVersion, "messages", n)
	case version != 0:
		log.Info("badger: the database is now of format", "from", version, "to", formatVersion)
	}
	err = db.Update(func(tx *bdg.Txn) error {
		return tx.Set(formatKey, binary.AppendUvarint(nil, formatVersion))
	})
	if err == nil {
		err = db.Sync()
	}
	return err
}

// migrateV1 rekeys the message records of a format 1 database by time and
// deletes its app-wide index; it returns how many records it moved. It
// reads a snapshot, so it can run again after an interruption: records
// already moved no longer parse as format 1 keys (parseKeyV1) and stay.
func migrateV1(db *bdg.DB) (int, error) {
	wb := db.NewWriteBatch()
	defer wb.Cancel()
	n := 0
	err := db.View(func(tx *bdg.Txn) error {
		it := tx.NewIterator(bdg.IteratorOptions{Prefix: []byte{tMessage}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			app, id, ok := parseKeyV1(item.Key())
			if !ok {
				continue
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			m, err := decodeMessage(app, id, v)
			if err != nil {
				return err
			}
			if err := wb.Set(messageKey(app, m.Time, id), v); err != nil {
				return err
			}
			if err := wb.Delete(item.KeyCopy(nil)); err != nil {
				return err
			}
			n++
		}
		old := tx.NewIterator(bdg.IteratorOptions{Prefix: []byte{tAppV1}})
		defer old.Close()
		for old.Rewind(); old.Valid(); old.Next() {
			if err := wb.Delete(old.Item().KeyCopy(nil)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, wb.Flush()
}

// parseKeyV1 parses a format 1 message key, key(tMessage, app, id).
func parseKeyV1(k []byte) (app, id string, ok bool) {
	rest := k[1:]
	n, w := uvarint(rest)
	if w == 0 || len(rest) < w+n {
		return "", "", false
	}
	app, rest = string(rest[w:w+n]), rest[w+n:]
	n, w = uvarint(rest)
	if w == 0 || len(rest) != w+n {
		return "", "", false
	}
	return app, string(rest[w:]), true
}

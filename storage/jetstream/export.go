package jetstream

import "github.com/rtgate/rtgate/storage"

// The record format and the history stream's names, for the packages that
// read or write RT_HIST besides the Store (the history indexer, import).

// EncodeMessage returns m as RT_INBOX and RT_HIST store it (JSON).
func EncodeMessage(m *storage.Message) []byte { return encodeMessage(m) }

// DecodeMessage reads a message stored in RT_INBOX or RT_HIST.
func DecodeMessage(b []byte) (*storage.Message, error) { return decodeMessage(b) }

// HistStream returns the name of the history stream of namespace ns (""
// means "rt").
func HistStream(ns string) string { return namesOf(nsOrDefault(ns)).hist }

// HistSubject returns the subject a message of app in conversation conv
// sent by from is recorded under in namespace ns ("" means "rt").
func HistSubject(ns, app, conv, from string) string {
	return namesOf(nsOrDefault(ns)).histSubject(app, conv, from)
}

func nsOrDefault(ns string) string {
	if ns == "" {
		return "rt"
	}
	return ns
}

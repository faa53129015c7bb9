// Package protocol defines the rtgate command vocabulary: typed commands,
// limits and close codes, and the codecs that turn them into bytes and back.
//
// Every frame on every transport decodes into one *Command whose Kind names
// the v1 command (cmd + op) once, at the edge, so the core switches on types
// and never on strings. The JSON codec speaks the exact v1 field names
// (reference/protocol-v1.md); the msgpack codec carries the same names as
// msgpack maps for modern clients. Stream transports (QUIC, WebTransport)
// frame msgpack bodies with a QUIC varint length (frame.go). The long form,
// with the field table per kind and the golden vectors, is spec/protocol.md
// and spec/vectors/.
//
// Files: command.go (vocabulary), limits.go (limits, close codes),
// errors.go (sentinels), fields.go (what both codecs share: field names,
// order, omission and the t/r/n/ids quirks), json.go, msgpack.go, frame.go.
//
// Concurrency: codecs are stateless and safe for concurrent use; a Command is
// a plain value owned by whoever holds it.
//
// Imports: the standard library only; nothing of rtgate. Both codecs are
// hand-written; the tests use github.com/vmihailenco/msgpack/v5 as an
// independent reader and writer of msgpack.
package protocol

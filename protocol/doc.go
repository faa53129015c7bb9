// Package protocol defines the rtgate command vocabulary: typed commands,
// limits and close codes, and the codecs that turn them into bytes and back.
//
// Every frame on every transport decodes into one *Command whose Kind names
// the v1 command (cmd + op) once, at the edge, so the core switches on types
// and never on strings. The JSON codec speaks the exact v1 field names
// (reference/protocol-v1.md); the msgpack codec carries the same names as
// msgpack maps for modern clients.
//
// Concurrency: codecs are stateless and safe for concurrent use; a Command is
// a plain value owned by whoever holds it.
//
// Imports: the standard library and msgpack only; nothing of rtgate.
package protocol

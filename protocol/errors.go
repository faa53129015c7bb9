package protocol

import "errors"

// Sentinel errors of the codecs. Decoders wrap them with %w and the offset
// or field that failed, so callers test with errors.Is.
var (
	// ErrMalformed reports a frame that is not a well-formed command: bad
	// JSON or msgpack syntax, a top-level value that is not an object/map,
	// trailing bytes, or a known field whose value has the wrong type.
	// Legacy transports close with CloseInvalidPayload; modern dialects may
	// answer KindError with ErrCodeBadCommand.
	ErrMalformed = errors.New("protocol: malformed command")

	// ErrUnknownCommand reports a well-formed object whose (cmd, op) pair
	// names no Kind. The decoder still fills the Command (Kind =
	// KindUnknown) so a modern dialect can echo its I in an error reply.
	ErrUnknownCommand = errors.New("protocol: unknown command")

	// ErrFrameTooLarge reports a stream frame whose declared length exceeds
	// the reader's limit. It is detected from the length prefix alone,
	// before the body is buffered.
	ErrFrameTooLarge = errors.New("protocol: frame too large")

	// ErrBadPeerID reports a peer id that CheckPeerID refuses. Servers close
	// with CloseMalformedPeerID (REST: 400).
	ErrBadPeerID = errors.New("protocol: malformed peer id")
)

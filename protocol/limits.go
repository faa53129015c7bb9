package protocol

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Wire limits of the v1 protocol. Servers may lower or raise the frame limit
// by configuration; the message and peer id limits are part of the protocol.
const (
	// MaxMessageBytes bounds the UTF-8 length of a direct message's text
	// (`msg`). A longer text is refused with CloseTooLong.
	MaxMessageBytes = 5120
	// MaxPeerIDLen bounds a peer id, in bytes. A longer or empty id is
	// refused with CloseMalformedPeerID (see CheckPeerID).
	MaxPeerIDLen = 64
	// DefaultMaxFrameBytes is the default bound on one frame: room for a
	// 5120-byte message with its envelope and escaping, and for long watch
	// lists. A larger frame is refused with CloseTooLong before it is
	// buffered whole.
	DefaultMaxFrameBytes = 64 << 10
)

// CloseCode is a WebSocket close code (also used as the close reason on the
// other transports).
type CloseCode int

// Close codes. The 41xx/42xx values are the v1 table of
// reference/protocol-v1.md §1.4 plus reserved v2 values; 1xxx are RFC 6455.
const (
	CloseNormal          CloseCode = 1000 // orderly close
	CloseGoingAway       CloseCode = 1001 // server shutting down
	CloseUnsupportedData CloseCode = 1003 // a binary frame on a text-only dialect
	CloseInvalidPayload  CloseCode = 1007 // malformed JSON/msgpack, or an unknown or malformed command (legacy dialect)
	ClosePolicyViolation CloseCode = 1008 // flood: too many commands too fast

	CloseAppNotAvailable CloseCode = 4100 // unknown or disabled appId (v2 value)
	CloseMalformedPeerID CloseCode = 4103 // peer id empty, over the limit, not UTF-8, or with ':' (see CheckPeerID)
	CloseNoSession       CloseCode = 4105 // a command for a peer without an open session on this connection
	CloseReadTimeout     CloseCode = 4107 // nothing read from the client for too long
	CloseLoginTimeout    CloseCode = 4108 // no successful session open in time, or a refused open signature
	CloseTooLong         CloseCode = 4109 // message text or frame over its limit
	CloseTooManyWatches  CloseCode = 4110 // watch entries over the connection's or the app's bound (rtgate)
	CloseInternal        CloseCode = 4200 // internal server error (storage failure)
	CloseSlowConsumer    CloseCode = 4201 // the client does not read fast enough (v2 "send timeout")
)

// CloseError is returned by the core when a command must end the
// connection; transports close with Code and Reason.
type CloseError struct {
	Code   CloseCode
	Reason string
}

func (e *CloseError) Error() string { return fmt.Sprintf("close %d: %s", int(e.Code), e.Reason) }

// Is reports whether target is a *CloseError with the same code.
func (e *CloseError) Is(target error) bool {
	t, ok := target.(*CloseError)
	return ok && t.Code == e.Code
}

// Closef returns a *CloseError with a formatted reason.
func Closef(code CloseCode, format string, args ...any) *CloseError {
	return &CloseError{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// Error codes carried by KindError in modern dialects. They reuse the close
// code numbers where one exists, so a client can treat both alike.
const (
	ErrCodeBadCommand = 1007 // malformed or unknown command; the connection stays open
	ErrCodeTooLong    = 4109 // message text too long; not sent
	ErrCodeNoSession  = 4105 // no open session for that peer on this connection
	ErrCodeInternal   = 4200
	// ErrCodeKicked is the code of a `session closed` the server pushes
	// when it ended the session itself (the operator's session close);
	// the connection stays open. The v2 SDKs call it KICKED_BY_APP.
	ErrCodeKicked = 4115
)

// CheckPeerID returns nil when id is a valid peer id, else an error
// wrapping ErrBadPeerID that says why. A peer id is 1 to MaxPeerIDLen
// bytes of valid UTF-8 without ':'. Invalid UTF-8 is refused rather than
// repaired, so that two ids cannot become one; ':' is refused because the
// v1 signature strings and conversation ids join peer ids with ':', so an
// id holding one would make them ambiguous (spec/semantics.md).
func CheckPeerID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty", ErrBadPeerID)
	case len(id) > MaxPeerIDLen:
		return fmt.Errorf("%w: %d bytes, over the %d-byte limit", ErrBadPeerID, len(id), MaxPeerIDLen)
	case !utf8.ValidString(id):
		return fmt.Errorf("%w: %q is not valid UTF-8", ErrBadPeerID, id)
	case strings.IndexByte(id, ':') >= 0:
		return fmt.Errorf("%w: %q contains ':'", ErrBadPeerID, id)
	}
	return nil
}

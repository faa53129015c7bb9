package histindex

import "errors"

// Errors of the history service.
var (
	// ErrConfig is returned for a Config that cannot be used.
	ErrConfig = errors.New("histindex: invalid config")
	// ErrBehind is returned when the indexer had not applied the stream
	// as far as the request needs within Config.WaitTimeout.
	ErrBehind = errors.New("histindex: history indexer behind the stream")
	// ErrBusy is returned when an indexer's query queue is full.
	ErrBusy = errors.New("histindex: history indexer busy")
)

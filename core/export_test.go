package core

// SetAfterWatch installs a hook that runs in the reader's goroutine each
// time a peer is added to a session's watch set, for tests that need to
// act in the middle of an open.
func SetAfterWatch(h *Hub, f func(peer string)) { h.afterWatch = f }

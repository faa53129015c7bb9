package jetstream

// Tok is tok, for tests that look at subjects.
var Tok = tok

// CacheBytes returns the size of the messages s's sequence cache holds.
func (s *Store) CacheBytes() int {
	s.seqs.mu.Lock()
	defer s.seqs.mu.Unlock()
	return s.seqs.bytes
}

// MaxCachedBytes is maxCachedBytes.
const MaxCachedBytes = maxCachedBytes

// DeleteRequest is deleteRequest.
var DeleteRequest = deleteRequest

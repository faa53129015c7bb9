package jetstream

// Tok is tok, for tests that look at subjects.
var Tok = tok

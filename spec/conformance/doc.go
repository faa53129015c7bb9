// Package conformance is the rtgate protocol conformance suite: a list of
// scenarios, each a check of one rule of spec/semantics.md and
// spec/groups-signatures.md, run over every transport and dialect of a
// server under test (a Target: a name and a Dialer). It treats the server
// as a black box: it only opens client connections, so it runs against an
// in-process server (conformance_test.go, what CI runs) as well as against
// any running rtgate (go run ./cmd/rtconform --server URL).
//
// Against a cluster, SpreadTargets joins the nodes' targets: a scenario's
// connections then go to the nodes in turn, so that its peers talk across
// nodes (cmd/rtconform --server URL1,URL2,URL3).
//
// Every scenario uses fresh random peer ids, so scenarios may run in
// parallel and against a shared long-running server. Every wait is bounded
// (Config.Wait per expected frame). Where the dialects differ (the legacy
// dialect closes the connection, the modern ones answer `error`) the
// scenario checks what its Dialer's dialect must do; nothing is skipped
// for that. Only the signature scenarios skip, when no signed app is
// configured.
//
// Concurrency: Run starts a goroutine per running scenario (at most
// Config.Parallel) and waits for all of them; each scenario owns its
// connections, and each connection owns one goroutine that reads it,
// stopped by Client.Close (which the runner calls at the end of the
// scenario).
//
// Imports: protocol, client/wire (the Go SDK's dialer), and the transport
// libraries (gorilla/websocket, quic-go, webtransport-go) for the raw
// connections that write frames the codecs never produce. Never core,
// storage, transports or compat: the server is reached only over the wire.
package conformance

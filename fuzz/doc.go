// Package fuzz holds rtgate's cross-package fuzz targets: inputs that go
// through more than one package on their way in. Each target runs its
// seed corpus (f.Add seeds and testdata/fuzz/<Target>/) as a normal test
// under `go test`; `fuzz/run.sh DURATION` fuzzes every target of the
// repository, these and the per-package ones (protocol codecs, Badger
// decoders), for DURATION each.
//
//   - FuzzCore: bytes → JSON or msgpack codec → core.Client over in-memory
//     conns (core/coretest), two connections of one hub, legacy or modern
//     dialect. No panic, no hang, and every frame the server writes is a
//     protocol answer: a server-to-client kind that encodes and decodes in
//     its connection's dialect, never an `error` in the legacy dialect.
//   - FuzzLongPoll: the long-poll endpoints' request bodies and query
//     parameters (/lp/open, /lp/send, /lp/poll) on the handler over a hub.
//     Every answer is 2xx/4xx with a JSON body; polled frames decode.
//   - FuzzREST: any method, path, query, headers and body on the REST API
//     (/1.1/) over a memory store. Never a 5xx, always a JSON answer, and
//     errors have the documented {"code","error"} shape.
//
// Nothing here is imported: the package has only this file and tests.
// The targets use the memory store and in-memory conns; no network.
package fuzz

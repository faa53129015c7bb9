// Package spec holds rtgate's published specification: the prose pages and
// conformance vectors beside this file, the runner in spec/conformance,
// and the OpenAPI 3 document of the REST API (openapi.json), which this
// package embeds so that rtgate can serve it at GET /1.1/openapi.json.
//
// Concurrency: OpenAPI returns a fresh copy; the package has no state.
//
// Imports: the standard library only.
package spec

import (
	"bytes"
	_ "embed"
)

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3 document of /1.1/ (spec/openapi.json).
func OpenAPI() []byte { return bytes.Clone(openAPI) }

// Package rest serves the v1-era REST API under /1.1/ (protocol-v1.md §7):
// message history (GET/DELETE /1.1/rtm/messages/logs), server-side send
// (POST /1.1/rtm/messages), unread counts, open-group online counts and the
// AVOSRealtimeGroups storage class. spec/rest.md is the long form: every
// parameter, answer and error code.
//
// Authentication accepts both header families of the era
// (X-AVOSCloud-Application-Id with -Application-Key, -Master-Key or
// -Request-Sign; X-LC-Id with X-LC-Key or X-LC-Sign) and the JSON body
// envelope of the old AV JavaScript SDK (POST with _ApplicationId,
// _ApplicationKey or _MasterKey and _method). Errors are always JSON
// {"code":<int>,"error":"<text>"} with a 4xx/5xx status. Every answer carries
// CORS headers; OPTIONS preflights are answered without authentication.
//
// Concurrency: a Handler is immutable after New and safe for concurrent
// use; it keeps no state of its own besides its configuration.
//
// Imports: the standard library, core (Apps, Hub.SendAs, Sign, ConvID) and
// storage (the Store interfaces), internal/origin (CORS). Never a concrete
// store or a transport.
package rest

// Package quic is rtgate's raw QUIC transport (ALPN "rtgate/1") and the
// shared UDP listener that also carries HTTP/3 for WebTransport.
//
// A Server listens on one UDP socket and dispatches each connection by
// its negotiated ALPN: "rtgate/1" is served here, "h3" is handed to
// Config.H3 (a *webtransport.Handler), anything else is refused.
//
//	srv := quic.New(hub, quic.Config{H3: wt})
//	prometheus.MustRegister(srv.Collectors()...)
//	go srv.ListenAndServe(":4433", tlsConf)
//	...
//	hub.Shutdown(ctx)
//	srv.Close() // 1001 to every raw QUIC connection; waits for them
//
// Wire protocol: after the handshake the client opens one bidirectional
// stream; each direction carries frames of a QUIC varint length and one
// msgpack command (the modern dialect: `error` replies). Transient direct
// messages may arrive as datagrams when the client enabled them. The
// close code travels as the QUIC application error code, after every
// frame was read (see package framed, which runs the connection).
//
// Concurrency: Serve's goroutine accepts; each connection is served in its
// own goroutine (the reader of package framed) plus its writer. Server.wg
// counts them; Close waits for them. Config.Admit (the per-IP limit) is
// asked before a connection is served.
//
// Imports: core, protocol, transports/framed, quic-go, the prometheus
// client and the standard library.
package quic

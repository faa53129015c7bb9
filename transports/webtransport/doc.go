// Package webtransport is rtgate's WebTransport transport (HTTP/3, for
// modern browsers): a Handler that serves HTTP/3 connections handed over by
// the shared QUIC listener (quic.Config.H3) and connects each WebTransport
// session at Config.Path ("/wt") to a core.Hub.
//
//	wt := webtransport.New(hub, webtransport.Config{AllowedOrigins: origins})
//	srv := quic.New(hub, quic.Config{H3: wt}) // one UDP port, ALPN h3 + rtgate/1
//
// Wire protocol: the page opens a session at https://host:port/wt (add
// ?datagrams=1 to receive transient direct messages as datagrams), opens
// one bidirectional stream and sends frames on it; the server answers on
// the same stream. Frames, the modern dialect, datagrams and the orderly
// close are those of the raw QUIC transport (package quic), with the close
// code carried as the WebTransport session error code. Browsers may lose
// the session close code (webtransport-go #242): the FIN on the stream
// comes first, and a client that sees it without a code may treat it as
// 1000. In dev mode pages pin the server's certificate with
// serverCertificateHashes (internal/devcert, GET /certinfo).
//
// Datagrams are opt-in per session because every WebTransport peer
// supports them but a page may never read wt.datagrams.readable.
//
// Origins: any by default; Config.AllowedOrigins or Config.CheckOrigin
// restrict them (403).
//
// Connections: a QUIC connection may carry sessions one after another.
// Config.ConnLinger (2 s) after its last session ended, the server closes
// it with H3_NO_ERROR, so a client that keeps its connection alive does
// not hold the server's connection state until the idle timeout.
//
// Concurrency: the HTTP/3 request handler upgrades and returns; each
// session then lives in one goroutine of the Handler (the reader, see
// package framed) plus its writer. Handler.wg counts sessions; Close waits
// for them. WT streams may hang after WT_SESSION_GONE (webtransport-go
// #288), so every stream read and write has a deadline and the end of the
// session's context aborts both.
//
// Imports: core, protocol, transports/framed, internal/origin, quic-go (http3),
// webtransport-go, the prometheus client and the standard library.
package webtransport

// Package web holds rtgate's browser files: the JS SDK bundle (rtgate-js,
// built from src/ by `npm run build` into dist/, committed) and the demo
// chat page (demo/), embedded so the server can serve them:
//
//	sdk, _ := fs.Sub(web.Files, "dist")
//	demo, _ := fs.Sub(web.Files, "demo")
//	mux.Handle("/sdk/", http.StripPrefix("/sdk/", http.FileServerFS(sdk)))
//	mux.Handle("/demo/", http.StripPrefix("/demo/", http.FileServerFS(demo)))
//
// The demo loads the SDK from ../sdk/rtgate.min.js, so both must be
// mounted side by side. See README.md for the SDK itself.
package web

import "embed"

// Files holds dist/ (rtgate.min.js, rtgate.mjs) and demo/ (index.html,
// app.js, style.css).
//
//go:embed dist demo
var Files embed.FS

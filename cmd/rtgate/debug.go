package main

import (
	"net/http"
	"net/http/pprof"
	"runtime/debug"
)

// debugHandler serves the opt-in debug listener (--debug-addr): Go's pprof
// under /debug/pprof/ and POST /debug/gc, which collects garbage and
// returns freed memory to the OS (204), so memory readings such as
// rtbench's idle workload measure live data rather than garbage.
func debugHandler() http.Handler {
	mux := http.NewServeMux()
	addDebug(mux)
	return mux
}

// addDebug registers the debug endpoints on mux (the debug listener's and
// the admin listener's).
func addDebug(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("POST /debug/gc", func(w http.ResponseWriter, _ *http.Request) {
		debug.FreeOSMemory() // runs a full collection first
		w.WriteHeader(http.StatusNoContent)
	})
}

// Package benchenv reads the size knobs of the benchmarks from the
// environment (RTGATE_BENCH_*), so that one `go test -bench` command can
// be run at a bigger scale without editing the code.
//
// Concurrency: stateless; safe for concurrent use.
//
// Imports: the standard library only; test code only.
package benchenv

import (
	"os"
	"strconv"
)

// Int returns the environment variable name as a positive integer, or
// def when it is unset, not a number, or not positive.
func Int(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

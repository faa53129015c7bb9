// Command rtgate runs the rtgate realtime messaging server: Badger storage,
// the core hub, the WebSocket transport (at / and /ws), the v1 router
// (/v1/route), /healthz and Prometheus /metrics, on one HTTP listener.
//
// Configuration comes from flags, RTGATE_* environment variables and an
// optional JSON file (see internal/config and docs/configuration.md). Without any app
// configured it runs in dev mode: any appId, no signatures.
//
// SIGINT or SIGTERM shuts down gracefully: stop accepting, close every
// connection with 1001 and wait for commands in flight (a persistent message
// is acknowledged only once it is durable), then close the store. SIGHUP
// re-reads the production TLS certificate.
//
// Subcommands instead of the server: `rtgate sign session|room|history
// ...` prints a valid v1 signature for the given fields (see
// docs/signing.md); `rtgate version` prints the module version and VCS
// revision; `rtgate help` the flags and the subcommands.
//
// This is the only package that names concrete implementations and reads
// flags and the environment.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/rtgate/rtgate/internal/config"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "sign": // print a valid signature
			os.Exit(runSign(os.Args[2:], os.Stdout, os.Stderr, time.Now))
		case "cluster": // rtgate cluster import ...
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			code := runCluster(ctx, os.Args[2:], os.Stdout, os.Stderr, os.Getenv)
			stop()
			os.Exit(code)
		case "version":
			fmt.Println(versionLine(debug.ReadBuildInfo()))
			return
		case "help":
			os.Args[1] = "--help"
		}
	}
	if n := schedulerSlots(os.Getenv("GOMAXPROCS"), runtime.GOMAXPROCS(0)); n != runtime.GOMAXPROCS(0) {
		runtime.GOMAXPROCS(n)
	}
	meminfo, _ := os.ReadFile("/proc/meminfo")
	cgroupMax, _ := os.ReadFile("/sys/fs/cgroup/memory.max")
	percent, setPercent, limit, setLimit := gcPolicy(os.Getenv, meminfo, cgroupMax)
	if setPercent {
		debug.SetGCPercent(percent)
	}
	if setLimit {
		debug.SetMemoryLimit(limit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, config.ErrInvalid):
		fmt.Fprintln(os.Stderr, "rtgate:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "rtgate:", err)
		os.Exit(1)
	}
}

// schedulerSlots returns the GOMAXPROCS rtgate runs with, given the
// GOMAXPROCS environment variable and the runtime's choice. With one
// scheduler slot the whole server stalls while a thread blocks in the
// store's fsync (Go gives the slot to another thread only after a sysmon
// tick, which backs off to 10 ms): on one CPU (taskset, a one-CPU
// container) rtgate runs two, unless GOMAXPROCS was set explicitly.
// rtbench measured p99 77 ms -> 32 ms at 4 500 persistent msgs/s.
func schedulerSlots(env string, current int) int {
	if env == "" && current < 2 {
		return 2
	}
	return current
}

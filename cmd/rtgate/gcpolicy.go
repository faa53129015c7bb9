package main

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
)

// defaultGCPercent is the GOGC rtgate runs with unless the GOGC
// environment variable is set.
//
// Most of a single node's live heap is Badger's memtable arenas (83 MB
// each with the default 64 MiB memtable, no pointers), and each memtable
// rotation allocates a new one while Badger holds its write lock: every
// persistent write waits for that allocation. With Go's default of 100 the
// GC runs every 2-3 s at 15 000 persistent msgs/s and the runtime returns
// the freed arena of the last rotation to the OS in between, so the next
// allocation has to zero 83 MB of pages that fault in again one by one:
// 111 ms in memclrNoHeapPointers under the lock in an execution trace, and
// every persistent message of that moment late. With 400 the freed arena
// is mostly still mapped at the next rotation (zeroing it takes a few ms),
// and the GC runs about a quarter as often. The price is a heap of up to
// five times the live one, bounded by the default memory limit below.
// See docs/performance.md.
const defaultGCPercent = 400

// gcPolicy returns the GC percent and the soft memory limit (bytes) rtgate
// sets at start, and whether to set each: not if the environment sets it
// (GOGC, GOMEMLIMIT), and no limit when the machine's memory is unknown.
// The limit is half of the memory available to the process: the smaller of
// the machine's (MemTotal in meminfo, the text of /proc/meminfo) and the
// cgroup's (cgroupMax, the text of /sys/fs/cgroup/memory.max; "max" or
// empty means none). It bounds the heap that defaultGCPercent lets grow;
// the other half is left to the page cache, which Badger's tables are read
// through.
func gcPolicy(getenv func(string) string, meminfo, cgroupMax []byte) (percent int, setPercent bool, limit int64, setLimit bool) {
	if getenv("GOGC") == "" {
		percent, setPercent = defaultGCPercent, true
	}
	if getenv("GOMEMLIMIT") != "" {
		return percent, setPercent, 0, false
	}
	avail := memTotal(meminfo)
	if n, err := strconv.ParseInt(strings.TrimSpace(string(cgroupMax)), 10, 64); err == nil && n > 0 && (avail == 0 || n < avail) {
		avail = n
	}
	if avail <= 0 {
		return percent, setPercent, 0, false
	}
	return percent, setPercent, avail / 2, true
}

// memTotal returns MemTotal in bytes from the text of /proc/meminfo, 0 if
// it is not there.
func memTotal(meminfo []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "MemTotal:" && f[2] == "kB" {
			if n, err := strconv.ParseInt(f[1], 10, 64); err == nil && n > 0 {
				return n << 10
			}
		}
	}
	return 0
}

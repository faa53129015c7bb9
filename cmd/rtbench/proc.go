package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// errNotLoopback refuses targets off this machine: rtbench only loads
// loopback servers.
var errNotLoopback = errors.New("rtbench: only loopback targets are allowed")

// checkLoopback returns an error unless hostport names a loopback address
// ("localhost" or a 127.0.0.0/8 or ::1 literal). No DNS is consulted.
func checkLoopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("rtbench: address %q: %w", hostport, err)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: %q", errNotLoopback, hostport)
	}
	return nil
}

// procSample is one reading of a process from /proc.
type procSample struct {
	at       time.Time
	cpuTicks int64 // utime+stime, in clock ticks
	rssKB    int64 // VmRSS
}

// clockTicks is USER_HZ, 100 on every Linux we run on.
const clockTicks = 100

// readProc samples pid ("self" for this process).
func readProc(pid string) (procSample, error) {
	s := procSample{at: time.Now()}
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return s, err
	}
	// Fields after the ")" that ends the command name: state is field 3;
	// utime and stime are fields 14 and 15.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return s, fmt.Errorf("rtbench: /proc/%s/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return s, fmt.Errorf("rtbench: /proc/%s/stat: too few fields", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	s.cpuTicks = ut + st
	st2, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return s, err
	}
	for _, line := range strings.Split(string(st2), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
			s.rssKB, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return s, nil
}

// cpuPercent is the CPU used between a and b, in percent of one core.
func cpuPercent(a, b procSample) float64 {
	d := b.at.Sub(a.at).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(b.cpuTicks-a.cpuTicks) / clockTicks / d * 100
}

// metricsSample holds the server's Go runtime figures from /metrics.
type metricsSample struct {
	heapInuse  float64 // go_memstats_heap_inuse_bytes
	stackInuse float64 // go_memstats_stack_inuse_bytes
	goroutines float64 // go_goroutines
	rss        float64 // process_resident_memory_bytes (0 if absent)
}

// readMetrics scrapes the Prometheus text at url (loopback only).
func readMetrics(ctx context.Context, url string) (metricsSample, error) {
	var m metricsSample
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return m, err
	}
	if err := checkLoopback(req.URL.Host); err != nil {
		return m, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return m, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return m, fmt.Errorf("rtbench: GET %s: %s", url, resp.Status)
	}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 16<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_memstats_heap_inuse_bytes":
			m.heapInuse = v
		case "go_memstats_stack_inuse_bytes":
			m.stackInuse = v
		case "go_goroutines":
			m.goroutines = v
		case "process_resident_memory_bytes":
			m.rss = v
		}
	}
	return m, sc.Err()
}

// udpRcvbufErrors is the system-wide count of UDP datagrams dropped for a
// full receive buffer (/proc/net/snmp, Udp RcvbufErrors), or -1.
func udpRcvbufErrors() int64 {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return -1
	}
	var head []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if head == nil {
			head = f
			continue
		}
		for i, h := range head {
			if h == "RcvbufErrors" && i < len(f) {
				v, _ := strconv.ParseInt(f[i], 10, 64)
				return v
			}
		}
	}
	return -1
}

// collectGarbage asks a server with a /debug/gc endpoint (rtbench serve,
// rtbench relay, rtgate started with --debug-addr) to collect garbage and return memory to the OS; it
// reports whether the server did.
func collectGarbage(ctx context.Context, t *target) bool {
	addr := t.httpAddr
	if t.debugAddr != "" { // rtgate --debug-addr
		addr = t.debugAddr
	}
	if addr == "" || checkLoopback(addr) != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/debug/gc", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusNoContent
}

// fetchProfile writes the CPU profile of the next d of t's process, taken
// through its debug listener, to path; failures are reported on log.
func fetchProfile(ctx context.Context, t *target, d time.Duration, path string, log io.Writer) {
	if t.debugAddr == "" || checkLoopback(t.debugAddr) != nil {
		fmt.Fprintf(log, "rtbench: %s has no debug listener: no CPU profile\n", t.name)
		return
	}
	secs := max(1, int(d.Round(time.Second)/time.Second))
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", t.debugAddr, secs)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintf(log, "rtbench: profile: %v\n", err)
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(log, "rtbench: profile: %v\n", err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(log, "rtbench: profile: %s\n", resp.Status)
		return
	}
	f, err := os.Create(path)
	if err == nil {
		_, err = io.Copy(f, resp.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(log, "rtbench: profile: %v\n", err)
		return
	}
	fmt.Fprintf(log, "rtbench: CPU profile of %s (%ds) in %s\n", t.name, secs, path)
}

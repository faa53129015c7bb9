package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// ratios compares a (rtgate) with b (the relay): each figure of a divided
// by the same figure of b.
func ratios(a, b *Result) map[string]float64 {
	r := map[string]float64{}
	div := func(k string, x, y float64) {
		if y != 0 {
			r[k] = x / y
		}
	}
	switch {
	case a.Phase != nil && b.Phase != nil:
		div("delivered_per_sec", a.Phase.DeliveredPS, b.Phase.DeliveredPS)
		div("p50", float64(a.Phase.P50us), float64(b.Phase.P50us))
		div("p99", float64(a.Phase.P99us), float64(b.Phase.P99us))
		div("server_cpu_us_per_msg", a.Phase.ServerUsMsg, b.Phase.ServerUsMsg)
		div("server_rss", float64(a.Phase.ServerRSSKB), float64(b.Phase.ServerRSSKB))
	case a.Steps != nil && b.Steps != nil && !a.GenLimited && !b.GenLimited:
		div("find_max_rate", a.MaxRate, b.MaxRate)
	case a.Idle != nil && b.Idle != nil:
		div("rss_per_conn", a.Idle.RSSPerConn, b.Idle.RSSPerConn)
		div("heap_per_conn", a.Idle.HeapPerConn, b.Idle.HeapPerConn)
	}
	return r
}

func us(v int64) string {
	return (time.Duration(v) * time.Microsecond).Round(10 * time.Microsecond).String()
}

func printReport(w io.Writer, rep *Report) {
	m := rep.Machine
	fmt.Fprintf(w, "machine: %d CPUs, load average %s (start) / %s (end), %s, pinned=%v, server GOMAXPROCS=%d, rtbench GOMAXPROCS=%d\n",
		m.CPUs, m.LoadAvg, m.LoadAvgEnd, m.Go, m.Pinned, m.ServerProcs, m.ClientProcs)
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	var phases, idles, drains bool
	for _, r := range rep.Results {
		phases = phases || r.Phase != nil || r.Steps != nil
		idles = idles || r.Idle != nil
		drains = drains || r.Drain != nil
	}
	if phases {
		fmt.Fprintln(tw, "target\tnodes\tplace\ttransport\tworkload\tsize\tpers\tconns\toffered/s\tdeliv/s\tp50\tp99\tp999\tmax\tlost\terrors\tacks-missing\tsrv CPU%\tsrv µs/msg\tsrv RSS MB\tcli CPU%\tgen-limited\tlag p99\tlag max\tudp drops\tpass\t")
		for _, r := range rep.Results {
			rows := r.Steps
			if r.Phase != nil {
				rows = []PhaseResult{*r.Phase}
			}
			for _, p := range rows {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%v\t%d\t%.0f\t%.0f\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%.0f\t%.1f\t%d\t%.0f\t%v\t%s\t%s\t%d\t%v\t\n",
					r.Target, r.Nodes, place(r), r.Transport, r.Workload, r.Size, r.Persistent, r.Conns, p.Rate, p.DeliveredPS,
					us(p.P50us), us(p.P99us), us(p.P999us), us(p.MaxUs), p.Lost, p.Errors, p.AcksMissing,
					p.ServerCPU, p.ServerUsMsg, p.ServerRSSKB>>10, p.ClientCPU, p.GenLimited, us(p.LagP99us), us(p.MaxLagUs), p.UDPDrops, p.Pass)
			}
		}
		tw.Flush()
		for _, r := range rep.Results {
			switch {
			case r.Steps != nil && r.GenLimited:
				fmt.Fprintf(w, "%s %s: highest passing rate %.0f msgs/s, GENERATOR-LIMITED (rtbench was over --gen-limit at or above it): the server's maximum is at least this, not this\n", r.Target, r.Transport, r.MaxRate)
			case r.Steps != nil:
				fmt.Fprintf(w, "%s %s: highest passing rate %.0f msgs/s (p99 ≤ limit, no loss, no error; generator under its limit)\n", r.Target, r.Transport, r.MaxRate)
			}
		}
		printPlacementDiff(w, rep.Results)
	}
	if drains {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "target\tnodes\tplace\ttransport\tmsgs/round\trounds\tfailed\topen→last p50\tp99\tmax\tstore p50\tsrv CPU%\tcli CPU%\t")
		for _, r := range rep.Results {
			if d := r.Drain; d != nil {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%.0f\t%.0f\t\n", r.Target, r.Nodes, place(r), r.Transport,
					d.Msgs, d.Rounds, d.Failed, us(d.P50us), us(d.P99us), us(d.MaxUs), us(d.StoreP50), d.ServerCPU, d.ClientCPU)
			}
		}
		tw.Flush()
		for _, r := range rep.Results {
			if d := r.Drain; d != nil {
				fmt.Fprintf(w, "drain (%d nodes%s): %d-message inbox, open → last message p99 %s over %d rounds (%d failed)\n",
					r.Nodes, placeSuffix(r), d.Msgs, us(d.P99us), d.Rounds, d.Failed)
				if d.LastError != "" {
					fmt.Fprintf(w, "%s drain last error: %s\n", r.Target, d.LastError)
				}
			}
		}
	}
	if idles {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "target\ttransport\tconns\tRSS before MB\tRSS after MB\tRSS/conn KiB\theap/conn KiB\tstack/conn KiB\tgoroutines/conn\t")
		for _, r := range rep.Results {
			if i := r.Idle; i != nil {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.2f\t\n", r.Target, r.Transport, i.Conns,
					i.RSSBefore>>10, i.RSSAfter>>10, i.RSSPerConn/1024, i.HeapPerConn/1024, i.StackPerConn/1024, i.GoroutPerConn)
			}
		}
		tw.Flush()
	}
	for _, r := range rep.Results {
		if r.Phase != nil && r.Phase.LastError != "" {
			fmt.Fprintf(w, "%s last error: %s\n", r.Target, r.Phase.LastError)
		}
	}
	if len(rep.Ratios) > 0 {
		fmt.Fprint(w, "ratio rtgate/relay:")
		for _, k := range []string{"delivered_per_sec", "p50", "p99", "server_cpu_us_per_msg", "server_rss", "find_max_rate", "rss_per_conn", "heap_per_conn"} {
			if v, ok := rep.Ratios[k]; ok {
				fmt.Fprintf(w, " %s=%.2f", k, v)
			}
		}
		fmt.Fprintln(w)
	}
}

// place names a result's placement, "-" on one server.
func place(r *Result) string {
	if r.Placement == "" {
		return "-"
	}
	return r.Placement
}

func placeSuffix(r *Result) string {
	if r.Placement == "" {
		return ""
	}
	return ", " + r.Placement + "-node"
}

// printPlacementDiff prints cross-node minus same-node latency when a
// run measured both (--placement both) with one phase each.
func printPlacementDiff(w io.Writer, rs []*Result) {
	var same, cross *Result
	for _, r := range rs {
		switch {
		case r.Phase == nil:
		case r.Placement == placeSame:
			same = r
		case r.Placement == placeCross:
			cross = r
		}
	}
	if same == nil || cross == nil {
		return
	}
	s, c := same.Phase, cross.Phase
	gen := ""
	if s.GenLimited || c.GenLimited {
		gen = " (GENERATOR-LIMITED step: rtbench was over --gen-limit)"
	}
	fmt.Fprintf(w, "cross-node vs same-node at %.0f msgs/s: p99 %s vs %s (cross − same = %s), p50 %s vs %s; rtbench's own send lag p99 %s / %s, CPU %.0f%% / %.0f%%%s\n",
		c.Rate, us(c.P99us), us(s.P99us), signedUs(c.P99us-s.P99us), us(c.P50us), us(s.P50us),
		us(c.LagP99us), us(s.LagP99us), c.ClientCPU, s.ClientCPU, gen)
}

func signedUs(v int64) string {
	if v < 0 {
		return "-" + us(-v)
	}
	return "+" + us(v)
}

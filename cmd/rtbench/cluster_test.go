package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestNodeOf(t *testing.T) {
	for _, tc := range []struct {
		n         int
		role      byte
		i         int
		placement string
		want      int
	}{
		{1, 'r', 5, placeCross, 0},
		{3, 's', 0, placeCross, 0},
		{3, 'r', 0, placeCross, 1},
		{3, 's', 2, placeCross, 2},
		{3, 'r', 2, placeCross, 0},
		{3, 'r', 2, placeSame, 2},
		{3, 's', 4, placeSame, 1},
		{3, 'm', 4, placeCross, 1},
	} {
		if got := nodeOf(tc.n, tc.role, tc.i, tc.placement); got != tc.want {
			t.Errorf("nodeOf(%d, %c, %d, %s) = %d, want %d", tc.n, tc.role, tc.i, tc.placement, got, tc.want)
		}
	}
}

func TestGivenTargetList(t *testing.T) {
	c, err := parse([]string{"--addr", "127.0.0.1:1,127.0.0.1:2,[::1]:3", "--server-pid", "10,11,12", "--quiet"}, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := givenTarget(c)
	if err != nil {
		t.Fatal(err)
	}
	nodes := tg.nodes()
	if len(nodes) != 3 || nodes[2].httpAddr != "[::1]:3" || nodes[1].pid != 11 || nodes[0].metricsURL != "http://127.0.0.1:1/metrics" {
		t.Fatalf("nodes %+v %+v %+v", nodes[0], nodes[1], nodes[2])
	}
	c.serverPID = "10,11"
	if _, err := givenTarget(c); err == nil {
		t.Error("2 pids for 3 nodes accepted")
	}
	for _, args := range [][]string{
		{"--addr", "127.0.0.1:1,10.0.0.1:2"},
		{"--placement", "diagonal"},
		{"--workload", "drain", "--drain-msgs", "51"},
		{"--spawn-cluster", "3"},
		{"--spawn-cluster", "1", "--spawn-server", "/bin/true"},
		{"--spawn-cluster", "3", "--spawn-server", "/bin/true", "--compare"},
		{"--spawn-cluster", "3", "--spawn-server", "/bin/true", "--cluster-nats", "remote"},
	} {
		if _, err := parse(append(args, "--quiet"), &strings.Builder{}); err == nil {
			t.Errorf("parse(%q) accepted", args)
		}
	}
}

// TestCluster spawns three real rtgate nodes with embedded nats-servers
// and runs the placements and the drain over them: every message
// arrives, none twice, and the cross-node difference is printed.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds rtgate and spawns a 3-node cluster")
	}
	bin := filepath.Join(t.TempDir(), "rtgate")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/rtgate/rtgate/cmd/rtgate").CombinedOutput(); err != nil {
		t.Fatalf("go build rtgate: %v\n%s", err, out)
	}
	rep := smoke(t, "--spawn-server", bin, "--spawn-cluster", "3", "--placement", "both", "--pairs", "12", "--rate", "60", "--persistent")
	if len(rep.Results) != 2 || rep.Results[0].Placement != placeSame || rep.Results[1].Placement != placeCross {
		t.Fatalf("want same and cross results, got %+v", rep.Results)
	}
	for _, r := range rep.Results {
		if r.Nodes != 3 {
			t.Errorf("%s: %d nodes", r.Placement, r.Nodes)
		}
		checkPhase(t, r)
	}
	// The production topology: three nats-server processes, the nodes on --nats.
	rep = smoke(t, "--spawn-server", bin, "--spawn-cluster", "3", "--cluster-nats", "external", "--pairs", "9", "--rate", "45", "--persistent")
	if r := rep.Results[0]; r.Nodes != 3 || r.Placement != placeCross {
		t.Errorf("external: %d nodes, placement %q", r.Nodes, r.Placement)
	} else {
		checkPhase(t, r)
	}
	rep = smoke(t, "--spawn-server", bin, "--spawn-cluster", "3", "--workload", "drain", "--rounds", "4", "--drain-msgs", "20")
	d := rep.Results[0].Drain
	if d == nil || d.Rounds != 4 || d.Failed != 0 || d.Msgs != 20 || d.P50us <= 0 || d.P99us < d.P50us || d.Placement != placeCross {
		t.Fatalf("drain result %+v", d)
	}
}

func TestDrainSingle(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a server")
	}
	rep := smoke(t, "--spawn-server", "self", "--workload", "drain", "--rounds", "12", "--transport", "ws-msgpack")
	d := rep.Results[0].Drain
	if d == nil || d.Rounds != 12 || d.Failed != 0 || d.Msgs != 50 || d.P50us <= 0 || d.Placement != "" {
		t.Fatalf("drain result %+v", d)
	}
}

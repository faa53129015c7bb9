package cluster_test

import (
	"fmt"
	"testing"

	"github.com/rtgate/rtgate/cluster"
	"github.com/rtgate/rtgate/cluster/clustertest"
)

func TestLocalConformance(t *testing.T) {
	clustertest.Run(t, clustertest.Harness{
		Nodes: func(t *testing.T, n int) []clustertest.Node {
			l := cluster.NewLocal()
			nodes := make([]clustertest.Node, n)
			for i := range nodes {
				nodes[i] = l.Node(cluster.Node(fmt.Sprintf("n%d", i)))
			}
			return nodes
		},
		Crash: func(t *testing.T, nodes []clustertest.Node, i int) {
			nodes[i].(*cluster.LocalNode).Crash()
		},
	})
}

func TestToken(t *testing.T) {
	for _, id := range []string{"a", "peer.with >dots* and spaces", "", "日本"} {
		tok := cluster.Token(id)
		for _, r := range tok {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				t.Fatalf("Token(%q) = %q holds %q", id, tok, r)
			}
		}
		if back, err := cluster.FromToken(tok); err != nil || back != id {
			t.Fatalf("FromToken(Token(%q)) = %q, %v", id, back, err)
		}
	}
}

package natsbus

import (
	"slices"
	"testing"

	"github.com/rtgate/rtgate/cluster"
)

// TestPresenceMapNodes: a peer on several nodes stays online until its
// last node goes, whichever order they come and go in, and a retired
// node takes only the peers it alone held.
func TestPresenceMapNodes(t *testing.T) {
	var p presence
	p.init()
	a, b := peerKey{"app", "a"}, peerKey{"app", "b"}
	steps := []struct {
		name   string
		do     func() bool
		want   bool // came online / went off
		nodesA []cluster.Node
	}{
		{"a on n1", func() bool { return p.addLocked(a, "n1") }, true, []cluster.Node{"n1"}},
		{"a on n1 again", func() bool { return p.addLocked(a, "n1") }, false, []cluster.Node{"n1"}},
		{"a on n2", func() bool { return p.addLocked(a, "n2") }, false, []cluster.Node{"n1", "n2"}},
		{"a on n3", func() bool { return p.addLocked(a, "n3") }, false, []cluster.Node{"n1", "n2", "n3"}},
		{"a off n1", func() bool { return p.removeLocked(a, "n1") }, false, []cluster.Node{"n2", "n3"}},
		{"a off n1 again", func() bool { return p.removeLocked(a, "n1") }, false, []cluster.Node{"n2", "n3"}},
		{"a off n3", func() bool { return p.removeLocked(a, "n3") }, false, []cluster.Node{"n2"}},
		{"a off n2", func() bool { return p.removeLocked(a, "n2") }, true, nil},
		{"a off unknown", func() bool { return p.removeLocked(a, "n9") }, false, nil},
		{"a back on n2", func() bool { return p.addLocked(a, "n2") }, true, []cluster.Node{"n2"}},
		{"b on n2", func() bool { return p.addLocked(b, "n2") }, true, []cluster.Node{"n2"}},
		{"a on n1", func() bool { return p.addLocked(a, "n1") }, false, []cluster.Node{"n1", "n2"}},
	}
	for _, s := range steps {
		if got := s.do(); got != s.want {
			t.Fatalf("%s: transition %v, want %v", s.name, got, s.want)
		}
		got := p.online[a].appendTo(nil)
		slices.Sort(got)
		if !slices.Equal(got, s.nodesA) {
			t.Fatalf("%s: a on %v, want %v", s.name, got, s.nodesA)
		}
		if _, on := p.online[a]; on != (len(s.nodesA) > 0) {
			t.Fatalf("%s: a in the map = %v with nodes %v", s.name, on, s.nodesA)
		}
	}
	out := p.nodeGoneLocked("n2", nil)
	if len(out) != 1 || out[0].Peer != "b" || out[0].Online {
		t.Fatalf("n2 retired: transitions %+v, want b off only", out)
	}
	if got := p.online[a].appendTo(nil); !slices.Equal(got, []cluster.Node{"n1"}) {
		t.Fatalf("after n2 retired a is on %v", got)
	}
	if _, ok := p.byNode["n2"]; ok {
		t.Fatal("retired node still in byNode")
	}
}

// Package depcheck holds the test that enforces the dependency rule of
// DESIGN.md: protocol, storage and cluster import nothing of rtgate; core
// imports only their interfaces; transports import core and protocol;
// compat imports core and storage interfaces; only cmd wires concrete
// implementations.
package depcheck

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/rtgate/rtgate"

// forbidden lists, per package prefix (relative to the module), the
// rtgate package prefixes its non-test code must not depend on.
var forbidden = map[string][]string{
	"protocol": {""}, // nothing of rtgate but protocol itself
	"storage":  {"core", "protocol", "transports", "compat", "client", "cmd", "cluster", "web"},
	"cluster":  {"core", "storage", "transports", "compat", "client", "cmd", "web"},
	"core":     {"transports", "compat", "client", "cmd", "storage/badger", "storage/memory"},
	"transports": {
		"compat", "client", "cmd", "storage/badger",
	},
	"compat": {"transports", "client", "cmd", "storage/badger"},
	"client": {"core", "storage", "transports", "compat", "cmd"},
}

type pkg struct {
	ImportPath string
	Deps       []string
}

func TestDependencyRule(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Deps", mod+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		seen++
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, mod), "/")
		for prefix, bans := range forbidden {
			if rel != prefix && !strings.HasPrefix(rel, prefix+"/") {
				continue
			}
			for _, d := range p.Deps {
				if !strings.HasPrefix(d, mod+"/") {
					continue
				}
				drel := strings.TrimPrefix(d, mod+"/")
				for _, ban := range bans {
					if ban == "" && !strings.HasPrefix(drel, prefix) {
						t.Errorf("%s imports %s: %s may import nothing of rtgate", rel, drel, prefix)
					} else if ban != "" && (drel == ban || strings.HasPrefix(drel, ban+"/")) {
						t.Errorf("%s imports %s: forbidden by the dependency rule", rel, drel)
					}
				}
			}
		}
	}
	if seen < 5 {
		t.Fatalf("only %d packages listed", seen)
	}
}

package web

import (
	"io/fs"
	"testing"
)

// TestFiles checks that the committed bundle and the demo are embedded.
func TestFiles(t *testing.T) {
	for _, name := range []string{"dist/rtgate.min.js", "dist/rtgate.mjs", "demo/index.html", "demo/app.js", "demo/style.css"} {
		b, err := fs.ReadFile(Files, name)
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %v (%d bytes)", name, err, len(b))
		}
	}
}

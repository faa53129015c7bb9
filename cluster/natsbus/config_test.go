package natsbus

import "testing"

// The version guard of acceptance test 11: the in-process servers are all
// 2.15.3, so the comparison itself is tested here.
func TestVersionAtLeast(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want bool
	}{
		{"2.15.0", true}, {"2.15.3", true}, {"2.16.0", true}, {"3.0.0", true}, {"2.15.0-beta.1", true},
		{"2.14.9", false}, {"2.10.23", false}, {"1.99.99", false}, {"", false},
	} {
		if got := versionAtLeast(tc.v, MinServerVersion); got != tc.want {
			t.Errorf("versionAtLeast(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

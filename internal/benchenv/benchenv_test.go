package benchenv

import "testing"

func TestInt(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        int
	}{
		{"set", "250", 250},
		{"unset", "", 7},
		{"not a number", "lots", 7},
		{"zero", "0", 7},
		{"negative", "-3", 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("RTGATE_BENCH_TEST_INT", tc.value)
			if got := Int("RTGATE_BENCH_TEST_INT", 7); got != tc.want {
				t.Errorf("Int(%q) = %d, want %d", tc.value, got, tc.want)
			}
		})
	}
}

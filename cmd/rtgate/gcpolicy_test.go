package main

import "testing"

func TestGCPolicy(t *testing.T) {
	const meminfo = "MemTotal:       24683720 kB\nMemFree:        21000000 kB\n"
	ram := int64(24683720) << 10
	for _, tc := range []struct {
		name               string
		env                map[string]string
		meminfo, cgroupMax string
		percent            int
		setPercent         bool
		limit              int64
		setLimit           bool
	}{
		{"defaults: 400 and half the machine", nil, meminfo, "max\n", defaultGCPercent, true, ram / 2, true},
		{"a smaller cgroup limit wins", nil, meminfo, "4294967296\n", defaultGCPercent, true, 2 << 30, true},
		{"a larger cgroup limit does not", nil, meminfo, "99999999999999\n", defaultGCPercent, true, ram / 2, true},
		{"cgroup limit only", nil, "", "1073741824", defaultGCPercent, true, 512 << 20, true},
		{"memory unknown: no limit", nil, "garbage\n", "", defaultGCPercent, true, 0, false},
		{"GOGC set: kept", map[string]string{"GOGC": "100"}, meminfo, "", 0, false, ram / 2, true},
		{"GOMEMLIMIT set: kept", map[string]string{"GOMEMLIMIT": "1GiB"}, meminfo, "", defaultGCPercent, true, 0, false},
		{"both set", map[string]string{"GOGC": "off", "GOMEMLIMIT": "1GiB"}, meminfo, "", 0, false, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string { return tc.env[k] }
			p, sp, l, sl := gcPolicy(getenv, []byte(tc.meminfo), []byte(tc.cgroupMax))
			if p != tc.percent || sp != tc.setPercent || l != tc.limit || sl != tc.setLimit {
				t.Errorf("gcPolicy = %d %v %d %v, want %d %v %d %v", p, sp, l, sl, tc.percent, tc.setPercent, tc.limit, tc.setLimit)
			}
		})
	}
}

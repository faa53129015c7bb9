#!/usr/bin/env bash
# fuzz/run.sh DURATION [PATTERN]: fuzzes every FuzzXxx target of the
# repository (this package's and the per-package ones), one after the
# other, for DURATION each (a Go duration: 30s, 30m), and prints the
# executions and the outcome of each, then the totals.
#
# PATTERN, if given, keeps only the targets whose name matches it (grep -E).
# FUZZ_PARALLEL sets the fuzzing workers per target (default 1: the
# machine may be shared). FUZZ_JOBS runs that many targets at the same
# time (default 1, one after the other); each still gets DURATION of wall
# time, so compare their executions, not their durations. A failing input is saved by `go test` under the
# package's testdata/fuzz/<Target>/ and printed; commit it with the fix so
# that `go test` replays it. Exit status: 1 if any target failed.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: fuzz/run.sh DURATION [PATTERN]   e.g. fuzz/run.sh 30m" >&2
  exit 2
fi
duration=$1
pattern=${2:-.}
parallel=${FUZZ_PARALLEL:-1}
jobs=${FUZZ_JOBS:-1}

# Every "func FuzzXxx(" in a _test.go file, as "package-dir target".
targets=$(grep -rE --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*\(' . \
  | grep -v '/node_modules/' \
  | sed -E 's#^\./(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(#\1 \2#' \
  | grep -E " ($pattern)" | sort)
if [ -z "$targets" ]; then
  echo "fuzz/run.sh: no target matches $pattern" >&2
  exit 2
fi

total=0
failed=0
results=()
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# fuzz_one DIR NAME: one target, its output in $logs/DIR.NAME.log, its exit
# status in $logs/DIR.NAME.rc.
fuzz_one() {
  go test -run '^$' -fuzz "^${2}\$" -fuzztime "$duration" -parallel "$parallel" "./$1" >"$logs/${1//\//_}.$2.log" 2>&1
  echo $? >"$logs/${1//\//_}.$2.rc"
}

running=0
while read -r dir name; do
  printf '== %s %s (%s)\n' "$dir" "$name" "$duration"
  fuzz_one "$dir" "$name" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
done <<<"$targets"
wait

while read -r dir name; do
  rc=$(cat "$logs/${dir//\//_}.$name.rc")
  execs=$(grep -oE 'execs: [0-9]+' "$logs/${dir//\//_}.$name.log" | tail -n 1 | grep -oE '[0-9]+')
  execs=${execs:-0}
  total=$((total + execs))
  if [ "$rc" = 0 ]; then
    results+=("ok    $dir $name: $execs execs")
  else
    failed=$((failed + 1))
    results+=("FAIL  $dir $name: $execs execs")
    printf '\n-- %s %s failed:\n' "$dir" "$name"
    tail -n 30 "$logs/${dir//\//_}.$name.log"
  fi
done <<<"$targets"

printf '\n'
printf '%s\n' "${results[@]}"
printf 'total: %d targets, %d execs, %d failed\n' "$(wc -l <<<"$targets")" "$total" "$failed"
[ "$failed" = 0 ]

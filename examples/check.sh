#!/usr/bin/env bash
# Runs every documented example against a live rtgate: each ```sh block
# whose first line is "# example: ..." in README.md, examples/README.md and
# docs/*.md. The block runs from the repository root in bash -euo pipefail,
# with http://127.0.0.1:8080 replaced by the live server's address; its
# "# prints:" line, when it has one, must match the output (each part
# between "..." must appear, in order).
#
#   examples/check.sh            # builds ./cmd/rtgate, or uses $RTGATE_BIN
#
# Exit status: 0 when every example passed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

WORK=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
BIN=${RTGATE_BIN:-}
if [ -z "$BIN" ]; then
  BIN=$WORK/rtgate
  go build -o "$BIN" ./cmd/rtgate || exit 1
fi
"$BIN" --listen 127.0.0.1:0 --quic off --data "$WORK/data" >"$WORK/rtgate.log" 2>&1 &
PID=$!
ADDR=""
for _ in $(seq 1 100); do
  ADDR=$(sed -n 's/.*rtgate listening on http:\/\/\([^ ]*\).*/\1/p' "$WORK/rtgate.log" | head -n 1)
  [ -n "$ADDR" ] && break
  sleep 0.1
done
if [ -z "$ADDR" ]; then
  echo "check.sh: rtgate did not start:" >&2
  cat "$WORK/rtgate.log" >&2
  exit 1
fi

# extract FILE: writes each example block of FILE to $WORK/ex-N.sh.
n=0
extract() {
  awk -v dir="$WORK" -v file="$1" -v start="$n" '
    /^```sh[[:space:]]*$/ { inblock = 1; first = 1; next }
    /^```/ && inblock { if (out != "") close(out); inblock = 0; out = ""; next }
    inblock && first { first = 0; if ($0 ~ /^# example:/) { start++; out = dir "/ex-" start ".sh"; print "# " file > out } }
    inblock && out != "" { print > out }
    END { print start > (dir "/count") }
  ' "$1"
  n=$(cat "$WORK/count")
}
for f in README.md examples/README.md docs/*.md; do
  [ -f "$f" ] && extract "$f"
done

passed=0
failed=0
for i in $(seq 1 "$n"); do
  ex=$WORK/ex-$i.sh
  name=$(sed -n '2s/^# example: //p' "$ex")
  sed -i "s#http://127.0.0.1:8080#http://$ADDR#g; s#ws://127.0.0.1:8080#ws://$ADDR#g" "$ex"
  want=$(sed -n 's/^# prints: //p' "$ex")
  out=$(cd "$ROOT" && timeout 120 bash -euo pipefail "$ex" 2>&1)
  code=$?
  ok=1
  [ "$code" = 0 ] || ok=0
  if [ "$ok" = 1 ] && [ -n "$want" ]; then
    # Each part of want between "..." must appear in out, in that order.
    rest=$out
    while IFS= read -r part; do
      [ -z "$part" ] && continue
      case "$rest" in
        *"$part"*) rest=${rest#*"$part"} ;;
        *) ok=0; break ;;
      esac
    done < <(printf '%s\n' "$want" | sed 's/\.\.\./\n/g')
  fi
  if [ "$ok" = 1 ]; then
    printf 'ok   %s\n' "$name"
    passed=$((passed + 1))
  else
    printf 'FAIL %s (%s, exit %s)\n--- output:\n%s\n--- want: %s\n' "$name" "$(sed -n 1p "$ex")" "$code" "$out" "$want"
    failed=$((failed + 1))
  fi
done
[ "$n" -gt 0 ] || { echo "check.sh: no examples found"; failed=1; }
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

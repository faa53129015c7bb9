#!/usr/bin/env bash
# Runs every documented example against a live rtgate: each ```sh block
# whose first line is "# example: ..." in README.md, examples/README.md and
# docs/*.md. The block runs from the repository root in bash -euo pipefail,
# with http://127.0.0.1:8080 replaced by the live server's address (and
# RTGATE_URL set to it, for examples/lean-cloud-chat.js); its
# "# prints:" line, when it has one, must match the output (each part
# between "..." must appear, in order). Every ```json block of those files
# must parse as JSON (a config schema with comments belongs in prose).
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

# Every ```json block must be JSON.
fi=0
for f in README.md examples/README.md docs/*.md; do
  [ -f "$f" ] || continue
  fi=$((fi + 1))
  awk -v dir="$WORK" -v file="$f" -v fi="$fi" '
    /^```json[[:space:]]*$/ { k++; out = dir "/json-" fi "-" k; print file > (out ".name"); inblock = 1; next }
    /^```/ && inblock { inblock = 0; close(out); next }
    inblock { print > out }
  ' "$f"
done
for j in "$WORK"/json-*; do
  case "$j" in *.name) continue ;; esac
  [ -f "$j" ] || continue
  if node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$j" 2>"$WORK/json.err"; then
    passed=$((passed + 1))
  else
    printf 'FAIL a ```json block of %s is not JSON: %s\n' "$(cat "$j.name")" "$(head -n 3 "$WORK/json.err" | tr '\n' ' ')"
    failed=$((failed + 1))
  fi
done

for i in $(seq 1 "$n"); do
  ex=$WORK/ex-$i.sh
  name=$(sed -n '2s/^# example: //p' "$ex")
  sed -i "s#http://127.0.0.1:8080#http://$ADDR#g; s#ws://127.0.0.1:8080#ws://$ADDR#g" "$ex"
  want=$(sed -n 's/^# prints: //p' "$ex")
  # RTGATE_URL: what examples/lean-cloud-chat.js reads (its default is
  # http://127.0.0.1:8080, the address the blocks are written for).
  out=$(cd "$ROOT" && RTGATE_URL="http://$ADDR" timeout 120 bash -euo pipefail "$ex" 2>&1)
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

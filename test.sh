#!/usr/bin/env bash
# Runs every rtgate test: Go (vet, gofmt, `go test -race ./...`), the Node
# compatibility suite in test/js (node --test against the real binary), the
# browser SDK's tests in web/, the headless Chromium tests in test/browser
# and the Java SDK's JUnit tests in java/ (Maven, against the real binary).
#
# On a fresh Debian machine it installs what the tests need first (as root:
# apt-get, including Debian's chromium, maven and a JDK; always: npm ci in test/js,
# test/browser and web). Set RTGATE_SKIP_INSTALL=1 to skip the
# installs. Exit status: non-zero if any part failed.
set -uo pipefail
cd "$(dirname "$0")"
ROOT=$PWD

log() { printf '\n== %s\n' "$*"; }
die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }

apt_install() { # apt_install PKG... (root only; runs apt-get update once)
  if [ "$(id -u)" != 0 ]; then
    die "missing $*; install it (apt-get install -y $*) or run as root"
  fi
  if [ -z "${APT_UPDATED:-}" ]; then
    apt-get update -qq || die "apt-get update failed"
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" || die "apt-get install $* failed"
}

install_deps() {
  log "dependencies"
  command -v go >/dev/null || die "go is not installed (need the version in go.mod)"
  # The race detector links with cgo.
  command -v gcc >/dev/null || apt_install gcc libc6-dev
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    apt_install nodejs npm
  fi
  # --- HOOK: browser tests -------------------------------------------------
  # test/browser drives headless Debian Chromium (WebTransport/WebSocket from a
  # real page) through npm playwright-core, which never downloads a browser.
  [ -x /usr/bin/chromium ] || apt_install chromium
  (cd test/browser && npm ci --ignore-scripts --no-audit --no-fund) || die "npm ci in test/browser failed"
  # ---------------------------------------------------------------------------
  (cd test/js && npm ci --ignore-scripts --no-audit --no-fund) || die "npm ci in test/js failed"
  # The Java SDK (java/) builds with Maven and a JDK (release 8 bytecode).
  if ! command -v mvn >/dev/null || ! command -v javac >/dev/null; then
    apt_install maven default-jdk-headless
  fi
  # esbuild's postinstall only re-checks its platform binary, which npm
  # installs as an optional dependency; skipping it keeps npm quiet.
  (cd web && npm ci --ignore-scripts --no-audit --no-fund) || die "npm ci in web failed"
  (cd examples && npm ci --ignore-scripts --no-audit --no-fund) || die "npm ci in examples failed"
}

printf 'test.sh: a first run on a fresh machine takes roughly 15 minutes or more (apt, npm, Maven and Go downloads, a cold build cache);\n'
printf '         later runs about 13 minutes on 2 cores (measured with the installs present: 13).\n'
printf '         Each part prints a "== ..." heading as it starts.\n'

[ -n "${RTGATE_SKIP_INSTALL:-}" ] || install_deps

status=0
fail() { printf 'FAILED: %s\n' "$*" >&2; status=1; }

log "go vet ./..."
go vet ./... || fail "go vet"

log "gofmt -l"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './test/js/node_modules/*'))
if [ -n "$unformatted" ]; then
  printf '%s\n' "$unformatted"
  fail "gofmt: the files above need gofmt -w"
fi

# One binary for the suites that run the server as a child process.
BIN_DIR=$(mktemp -d)
trap 'rm -rf "$BIN_DIR"' EXIT
log "go build ./cmd/rtgate"
if go build -o "$BIN_DIR/rtgate" ./cmd/rtgate; then
  export RTGATE_BIN="$BIN_DIR/rtgate"
else
  fail "go build ./cmd/rtgate"
fi

log "go test -race ./..."
go test -race -count=1 ./... || fail "go test"

log "crash campaign: go run ./cmd/rtcrash (10 SIGKILLs under persistent traffic, every transport)"
if [ -n "${RTGATE_BIN:-}" ]; then
  go run ./cmd/rtcrash --kills 10 || fail "crash campaign (cmd/rtcrash; see docs/attack.md)"
else
  fail "crash campaign skipped: no binary"
fi

log "resource limits: go run ./cmd/rtsoak --short (idle conns, watch, slow REST, churn, long-poll exhaustion)"
if [ -n "${RTGATE_BIN:-}" ]; then
  go run ./cmd/rtsoak --short || fail "soak (cmd/rtsoak; see docs/attack.md)"
else
  fail "soak skipped: no binary"
fi

log "node --test (test/js)"
if [ -n "${RTGATE_BIN:-}" ]; then
  (cd test/js && node --test) || fail "node compat suite"
else
  fail "node compat suite skipped: no binary"
fi

log "node --test (test/js against a 3-node cluster: RTGATE_CLUSTER=3, about 1.5 minutes)"
# The same lean-cloud-chat suite once more, each file against three rtgate
# nodes with embedded NATS (nothing to install: nats-server is in the
# binary); node 0's router hands the clients out to the nodes in turn.
if [ -n "${RTGATE_BIN:-}" ]; then
  (cd test/js && RTGATE_CLUSTER=3 node --test --test-concurrency=3) || fail "node compat suite on a cluster"
else
  fail "node compat suite on a cluster skipped: no binary"
fi

log "node --test (test/browser: headless Chromium)"
if [ -z "${RTGATE_BIN:-}" ]; then
  fail "browser suite skipped: no binary"
elif [ ! -x /usr/bin/chromium ] || [ ! -d test/browser/node_modules/playwright-core ]; then
  fail "browser suite: needs /usr/bin/chromium and test/browser/node_modules (run ./test.sh without RTGATE_SKIP_INSTALL, as root)"
else
  (cd test/browser && node --test --test-concurrency=1) || fail "browser suite"
fi

log "java: mvn test (java/: the Java SDK's JUnit tests against the binary)"
if [ -z "${RTGATE_BIN:-}" ]; then
  fail "java suite skipped: no binary"
elif ! command -v mvn >/dev/null; then
  fail "java suite: mvn is missing (run ./test.sh without RTGATE_SKIP_INSTALL, as root)"
else
  mvn -B -ntp -Dstyle.color=never -f java/pom.xml test || fail "java SDK tests"
fi

log "web: JS SDK build is current, unit tests, live tests against the binary"
(cd web && npm run build) || fail "web build"
git diff --quiet -- web/dist 2>/dev/null || fail "web/dist differs from a fresh build of web/src: run (cd web && npm run build) and commit"
if [ -n "${RTGATE_BIN:-}" ]; then
  WEB_DATA=$(mktemp -d)
  WEB_LOG="$WEB_DATA/rtgate.log"
  "$RTGATE_BIN" --listen 127.0.0.1:0 --quic off --data "$WEB_DATA/data" >"$WEB_LOG" 2>&1 &
  WEB_PID=$!
  WEB_ADDR=""
  for _ in $(seq 1 100); do
    WEB_ADDR=$(sed -n 's/.*rtgate listening on http:\/\/\([^ ]*\).*/\1/p' "$WEB_LOG" | head -n 1)
    [ -n "$WEB_ADDR" ] && break
    sleep 0.1
  done
  if [ -n "$WEB_ADDR" ]; then
    (cd web && RTGATE_URL="http://$WEB_ADDR" node --experimental-websocket --test test/) || fail "web SDK tests"
  else
    fail "web SDK tests: the server did not start"; cat "$WEB_LOG" >&2
  fi
  kill "$WEB_PID" 2>/dev/null; wait "$WEB_PID" 2>/dev/null
  rm -rf "$WEB_DATA"
fi

log "examples (every documented example against a live server)"
if [ -n "${RTGATE_BIN:-}" ]; then
  examples/check.sh || fail "documented examples"
else
  fail "documented examples skipped: no binary"
fi

if [ "$status" = 0 ]; then
  log "all tests passed"
else
  log "some tests FAILED"
fi
exit "$status"

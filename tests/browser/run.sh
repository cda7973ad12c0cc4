#!/usr/bin/env bash
# Browser end-to-end tests of the capture page, the API reference page and the reviewer dashboard: starts a
# throwaway idv server with a sandbox key, a live key and one org user per role, and runs every
# tests/browser/*.spec.mjs against it in headless Chromium. Builds nothing.
#   IDV_BIN       the idv binary (default target/debug/idv)
#   CHROMIUM_BIN  the browser (default /usr/bin/chromium)
#   KEEP_DATA=1   keep the temporary data folder (and server.log) for inspection
# Exit code: the test's (or 2 when a prerequisite is missing).
set -uo pipefail

cd "$(dirname "$0")/../.."
IDV_BIN="${IDV_BIN:-target/debug/idv}"
CHROMIUM_BIN="${CHROMIUM_BIN:-/usr/bin/chromium}"
export CHROMIUM_BIN

die() { echo "run.sh: $*" >&2; exit 2; }
[ -x "$IDV_BIN" ] || die "no idv binary at $IDV_BIN (cargo build --bin idv, or set IDV_BIN)"
command -v node >/dev/null || die "node not found"
[ -x "$CHROMIUM_BIN" ] || die "no browser at $CHROMIUM_BIN (apt-get install -y chromium)"
if [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund --loglevel=error || die "npm ci failed (playwright-core is needed)"
fi

DIR="$(mktemp -d "${TMPDIR:-/tmp}/idv-browser.XXXXXX")"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  if [ "${KEEP_DATA:-}" = 1 ]; then echo "run.sh: data kept in $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

KEYS_OUT="$("$IDV_BIN" keys create --data-dir "$DIR" --environment sandbox --label browser 2>&1)" \
  || die "idv keys create failed: $KEYS_OUT"
IDV_KEY="$(printf '%s\n' "$KEYS_OUT" | grep -o 'vk_sandbox_[A-Za-z0-9_-]*' | head -n 1)"
[ -n "$IDV_KEY" ] || die "no vk_sandbox_ key in: $KEYS_OUT"

LIVE_OUT="$("$IDV_BIN" keys create --data-dir "$DIR" --environment live --label browser-live 2>&1)" \
  || die "idv keys create (live) failed: $LIVE_OUT"
IDV_LIVE_KEY="$(printf '%s\n' "$LIVE_OUT" | grep -o 'vk_live_[A-Za-z0-9_-]*' | head -n 1)"
[ -n "$IDV_LIVE_KEY" ] || die "no vk_live_ key in: $LIVE_OUT"

# Org users for the dashboard tests, one per role, with known passwords (IDV_USERS: email:role,...; one password, IDV_PASSWORD).
IDV_PASSWORD="browser-pass-$(date +%s%N)"
IDV_USERS=""
for spec in "ada.reviewer@example.test:reviewer" "grace.senior@example.test:senior_reviewer" \
            "alan.admin@example.test:admin"; do
  email="${spec%%:*}"; role="${spec##*:}"
  printf '%s\n' "$IDV_PASSWORD" | "$IDV_BIN" users create --data-dir "$DIR" --email "$email" \
    --name "${email%%@*}" --role "$role" --password-stdin >/dev/null 2>&1 || die "idv users create $email failed"
  IDV_USERS="${IDV_USERS:+$IDV_USERS,}$email:$role"
done

PORT="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
IDV_BASE="http://127.0.0.1:$PORT"

IDV_LOG=warn "$IDV_BIN" serve --data-dir "$DIR" --bind "127.0.0.1:$PORT" >"$DIR/server.log" 2>&1 &
SERVER_PID=$!

ready=""
for _ in $(seq 1 150); do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
  if curl -fsS -o /dev/null "$IDV_BASE/healthz" 2>/dev/null; then ready=1; break; fi
  sleep 0.1
done
if [ -z "$ready" ]; then
  echo "run.sh: the server did not become healthy at $IDV_BASE; its log:" >&2
  cat "$DIR/server.log" >&2
  exit 2
fi

IDV_BASE="$IDV_BASE" IDV_KEY="$IDV_KEY" IDV_LIVE_KEY="$IDV_LIVE_KEY" IDV_USERS="$IDV_USERS" IDV_PASSWORD="$IDV_PASSWORD" \
  node --test --test-concurrency=1 tests/browser/*.spec.mjs
rc=$?
if [ "$rc" -ne 0 ]; then
  echo "run.sh: test failed (exit $rc); server log tail:" >&2
  tail -n 40 "$DIR/server.log" >&2
fi
exit "$rc"

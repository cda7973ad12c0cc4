#!/usr/bin/env bash
# Contract fuzzing: starts a throwaway idv server with a sandbox key holding every scope and runs
# schemathesis (settings in tests/contract/schemathesis.toml) over every operation of
# /api/v1/openapi.json: examples, coverage, fuzzing and stateful phases; then the same over the VerifyHQ
# dialect's /v1/openapi.json with a vhq_test_ key and the admin secret (tests/contract/verifyhq.toml).
# Builds nothing.
#   IDV_BIN            the idv binary (default target/debug/idv)
#   ST_BIN             the schemathesis CLI (default target/contract-venv/bin/st, from `make test-deps`)
#   CONTRACT_REPORT    also write schemathesis' JUnit XML report to this file
#   KEEP_DATA=1        keep the temporary data folder (server.log, report.json) for inspection
# Exit code: schemathesis' (non-zero on any failure), or 2 when a prerequisite is missing.
set -euo pipefail

cd "$(dirname "$0")/../.."
IDV_BIN="${IDV_BIN:-target/debug/idv}"
ST_BIN="${ST_BIN:-target/contract-venv/bin/st}"
# Whole-run guard; a normal run takes about five minutes.
TIME_LIMIT_SECS="${TIME_LIMIT_SECS:-900}"

die() { echo "run.sh: $*" >&2; exit 2; }
[ -x "$IDV_BIN" ] || die "no idv binary at $IDV_BIN (cargo build --bin idv, or set IDV_BIN)"
[ -x "$ST_BIN" ] || die "no schemathesis at $ST_BIN (make test-deps, or set ST_BIN)"
ST_PYTHON="$(dirname "$ST_BIN")/python3"
[ -x "$ST_PYTHON" ] || ST_PYTHON=python3

DIR="$(mktemp -d "${TMPDIR:-/tmp}/idv-contract.XXXXXX")"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "${KEEP_DATA:-}" = 1 ]; then echo "run.sh: data kept in $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Two keys: the run authenticates with the first; hooks.py points PATCHes of that key at the second.
new_key() {
  local out
  out="$("$IDV_BIN" keys create --data-dir "$DIR" --environment sandbox --label "$1" 2>&1)" \
    || die "idv keys create failed: $out"
  printf '%s\n' "$out" | head -n 1
}
MAIN_KEY="$(new_key contract)"
SPARE_KEY="$(new_key contract-spare)"
IDV_CONTRACT_KEY="$(printf '%s' "$MAIN_KEY" | grep -o 'vk_sandbox_[A-Za-z0-9_-]*' || true)"
IDV_CONTRACT_KEY_ID="$(printf '%s' "$MAIN_KEY" | grep -o 'key_[A-Za-z0-9]*' || true)"
IDV_CONTRACT_SPARE_KEY_ID="$(printf '%s' "$SPARE_KEY" | grep -o 'key_[A-Za-z0-9]*' || true)"
[ -n "$IDV_CONTRACT_KEY" ] && [ -n "$IDV_CONTRACT_KEY_ID" ] && [ -n "$IDV_CONTRACT_SPARE_KEY_ID" ] \
  || die "could not read the keys from: $MAIN_KEY / $SPARE_KEY"
export IDV_CONTRACT_KEY IDV_CONTRACT_KEY_ID IDV_CONTRACT_SPARE_KEY_ID
VHQ_OUT="$("$IDV_BIN" keys create --verifyhq --data-dir "$DIR" --environment sandbox --label contract 2>&1)" \
  || die "idv keys create --verifyhq failed: $VHQ_OUT"
IDV_CONTRACT_VERIFYHQ_KEY="$(printf '%s' "$VHQ_OUT" | grep -o 'vhq_test_[A-Za-z0-9_-]*' | head -n 1 || true)"
[ -n "$IDV_CONTRACT_VERIFYHQ_KEY" ] || die "could not read the VerifyHQ key from: $VHQ_OUT"
IDV_CONTRACT_ADMIN_SECRET="contract-admin-$RANDOM$RANDOM"
export IDV_CONTRACT_VERIFYHQ_KEY IDV_CONTRACT_ADMIN_SECRET

PORT="$("$ST_PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"

# The rate limit is far above what two workers can send, so no request is answered 429. Webhook
# endpoints the fuzzer creates may only be delivered to on loopback.
IDV_LOG=warn IDV_ADMIN_SECRET="$IDV_CONTRACT_ADMIN_SECRET" "$IDV_BIN" serve --data-dir "$DIR" --bind "127.0.0.1:$PORT" \
  --rate-limit-rpm 1000000 --webhook-allow 127.0.0.0/8,::1 >"$DIR/server.log" 2>&1 &
SERVER_PID=$!

ready=""
for _ in $(seq 1 150); do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
  if curl -fsS -o /dev/null "$BASE/healthz" 2>/dev/null; then ready=1; break; fi
  sleep 0.1
done
if [ -z "$ready" ]; then
  echo "run.sh: the server did not become healthy at $BASE; its log:" >&2
  cat "$DIR/server.log" >&2
  exit 2
fi

report_args=(--report json --report-json-path "$DIR/report.json")
if [ -n "${CONTRACT_REPORT:-}" ]; then
  report_args=(--report json,junit --report-json-path "$DIR/report.json" --report-junit-path "$CONTRACT_REPORT")
fi

# Loaded from a file, not the URL: schemathesis leaves out the operation that serves the schema it
# was loaded from, and GET /api/v1/openapi.json is an operation like the others. --origin keeps the
# document's own server path.
curl -fsS -o "$DIR/openapi.json" "$BASE/api/v1/openapi.json" || die "cannot fetch $BASE/api/v1/openapi.json"

# Hypothesis keeps a cache folder; keep it out of the work tree.
export HYPOTHESIS_STORAGE_DIRECTORY="$DIR/hypothesis"
rc=0
timeout --kill-after=10 "$TIME_LIMIT_SECS" \
  "$ST_BIN" --config-file tests/contract/schemathesis.toml run --no-color "${report_args[@]}" \
  --origin "$BASE" "$DIR/openapi.json" || rc=$?
[ "$rc" -eq 124 ] && echo "run.sh: schemathesis did not finish within ${TIME_LIMIT_SECS}s" >&2

# The VerifyHQ dialect, on the same server.
curl -fsS -o "$DIR/verifyhq.json" "$BASE/v1/openapi.json" || die "cannot fetch $BASE/v1/openapi.json"
vhq_rc=0
timeout --kill-after=10 "$TIME_LIMIT_SECS" \
  "$ST_BIN" --config-file tests/contract/verifyhq.toml run --no-color \
  --report json --report-json-path "$DIR/report-verifyhq.json" \
  --origin "$BASE" "$DIR/verifyhq.json" || vhq_rc=$?
[ "$rc" -ne 0 ] || rc=$vhq_rc

if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  echo "run.sh: the server died during the run; its log tail:" >&2
  tail -n 40 "$DIR/server.log" >&2
  [ "$rc" -ne 0 ] || rc=1
elif ! curl -fsS -o /dev/null -H "X-API-Key: $IDV_CONTRACT_KEY" "$BASE/api/v1/api-keys/$IDV_CONTRACT_KEY_ID"; then
  # 401/403 count as acceptable answers to valid data, so a key that lost its rights mid-run would
  # hide failures instead of causing them.
  echo "run.sh: the run's own API key no longer works; the results above are not trustworthy" >&2
  [ "$rc" -ne 0 ] || rc=1
fi

# One summary: the failures per check, then operations passed/failed.
for report in "$DIR/report.json" "$DIR/report-verifyhq.json"; do
  [ -f "$report" ] || continue
  "$ST_PYTHON" - "$report" <<'EOF' || true
import json, sys

CHECKS = {  # schemathesis failure codes of the checks this run enables
    "ST101": "not_a_server_error", "ST102": "not_a_server_error", "ST103": "status_code_conformance",
    "ST104": "content_type_conformance", "ST105": "content_type_conformance",
    "ST106": "content_type_conformance", "ST108": "response_schema_conformance",
    "ST202": "positive_data_acceptance",
}
r = json.load(open(sys.argv[1]))
ops = r["operations"]
failed_ops = {op for f in r["failures"] for op in f["operations"] if op != "Stateful tests"}
by_check = ", ".join(f"{CHECKS.get(f['code'], f['code'])} ({f['code']}) {f['count']}" for f in r["failures"])
print(f"contract: {ops['tested']}/{ops['total']} operations, {r['test_cases']['generated']} test cases, "
      f"{len(r['errors'])} errors, {r['running_time']:.0f}s; failures: {by_check or 'none'}")
print(f"contract: {ops['tested'] - len(failed_ops)} passed, {len(failed_ops)} failed")
EOF
done
exit "$rc"

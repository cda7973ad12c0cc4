#!/usr/bin/env bash
# Instructions per API-only verification or identity creation, counted by valgrind's callgrind
# (`make bench-instructions` runs both): a server on a throwaway data folder, a few sequential operations to
# warm it up, its counters zeroed (callgrind_control), N more (tests/bench/instructions.py), then the whole
# process's instructions and the inclusive instructions of the writer and of the work around it, divided by
# N. Start-up (routes, the OpenAPI document, the MRZ glyphs), first-use costs and shutdown are left out. Wall-clock runs on a shared machine drift by ten per cent; these counts repeat to a fraction
# of one, so two builds of the write path can be compared.
#   IDV_BIN   the idv binary (default target/release/idv)
#   WORKLOAD  verifications (default), creations or reads
#   N         operations (default 30 verifications, about a minute under callgrind, 300 creations,
#             about fifteen seconds, or 2,000 reads of the identities the warm-up created)
#   WARMUP    operations before the counters are zeroed (default 3 verifications, 30 creations, or 100
#             creations and as many reads)
#   PREFILL   verifications or creations made first by the same binary outside valgrind, four clients
#             at once, on the same data folder (default none): what one costs on a database that already
#             holds thousands of sessions and enrolled selfies, or of identities
set -euo pipefail
cd "$(dirname "$0")/../.."
IDV_BIN="${IDV_BIN:-target/release/idv}"
WORKLOAD="${WORKLOAD:-verifications}"
case "$WORKLOAD" in
  verifications) N="${N:-30}"; WARMUP="${WARMUP:-3}"; DRIVE=drive ;;
  creations) N="${N:-300}"; WARMUP="${WARMUP:-30}"; DRIVE=drive-creations ;;
  reads) N="${N:-2000}"; WARMUP="${WARMUP:-100}"; DRIVE=drive-reads ;;
  *) echo "instructions.sh: WORKLOAD is verifications, creations or reads, not $WORKLOAD" >&2; exit 2 ;;
esac
if [ -n "${PREFILL:-}" ] && [ "$WORKLOAD" = reads ]; then
  echo "instructions.sh: PREFILL is for verifications and creations (the reads' warm-up makes their identities)" >&2; exit 2
fi
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is not installed" >&2; exit 2; }
command -v callgrind_control >/dev/null || { echo "instructions.sh: callgrind_control is not installed" >&2; exit 2; }
DIR="$(mktemp -d "${TMPDIR:-/tmp}/idv-instructions.XXXXXX")"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$DIR"
}
trap cleanup EXIT
export IDV_INSTRUCTIONS_IDS="$DIR/identity-ids"
KEY="$("$IDV_BIN" keys create --data-dir "$DIR" --environment live --label instructions 2>&1 | grep -o 'vk_live_[A-Za-z0-9_-]*' | head -n 1)"
[ -n "$KEY" ] || { echo "instructions.sh: could not create a key" >&2; exit 2; }
PORT=$((20000 + RANDOM % 20000))
if [ -n "${PREFILL:-}" ]; then
  "$IDV_BIN" serve --data-dir "$DIR" --bind "127.0.0.1:$PORT" --rate-limit-rpm 100000000 > "$DIR/prefill.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
  CLIENTS=()
  for client in 1 2 3 4; do
    python3 tests/bench/instructions.py "$DRIVE" "http://127.0.0.1:$PORT" "$KEY" $((PREFILL / 4)) $((client * 1000000)) &
    CLIENTS+=($!)
  done
  for client in "${CLIENTS[@]}"; do wait "$client"; done
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
  PORT=$((PORT + 1))
fi
IDV_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$DIR/callgrind.out" \
  "$IDV_BIN" serve --data-dir "$DIR" --bind "127.0.0.1:$PORT" --rate-limit-rpm 100000000 > "$DIR/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null || { echo "instructions.sh: the server did not start:" >&2; tail -n 20 "$DIR/server.log" >&2; exit 2; }
python3 tests/bench/instructions.py "$DRIVE" "http://127.0.0.1:$PORT" "$KEY" "$WARMUP" 0
callgrind_control --zero "$SERVER_PID" >/dev/null 2>&1 || { echo "instructions.sh: could not zero the counters" >&2; exit 2; }
python3 tests/bench/instructions.py "$DRIVE" "http://127.0.0.1:$PORT" "$KEY" "$N" "$WARMUP"
# The counts are written out (callgrind.out.1) before the server is stopped, so its shutdown (closing the
# database connections, freeing their caches) is not counted in; valgrind takes the command at the
# server's next instruction, which the health check provides.
callgrind_control --dump=measured "$SERVER_PID" >/dev/null 2>&1 || { echo "instructions.sh: could not dump the counters" >&2; exit 2; }
for _ in $(seq 1 100); do
  [ -s "$DIR/callgrind.out.1" ] && break
  curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null || true
  sleep 0.1
done
[ -s "$DIR/callgrind.out.1" ] || { echo "instructions.sh: the counters were not written" >&2; exit 2; }
sleep 0.5
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
python3 tests/bench/instructions.py report "$WORKLOAD" "$DIR/callgrind.out.1" "$N"

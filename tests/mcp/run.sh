#!/usr/bin/env bash
# The MCP server against the official Python MCP SDK: starts a throwaway idv server with a sandbox key and
# runs tests/mcp/client_test.py against it. Builds nothing.
#   IDV_BIN       the idv binary (default target/debug/idv)
#   MCP_PYTHON    the Python with tests/mcp/requirements.txt installed (default target/mcp-venv/bin/python3)
#   KEEP_DATA=1   keep the temporary data folder (and server.log) for inspection
# Exit code: the test's (or 2 when a prerequisite is missing).
set -uo pipefail

cd "$(dirname "$0")/../.."
IDV_BIN="${IDV_BIN:-target/debug/idv}"
MCP_PYTHON="${MCP_PYTHON:-target/mcp-venv/bin/python3}"

die() { echo "run.sh: $*" >&2; exit 2; }
[ -x "$IDV_BIN" ] || die "no idv binary at $IDV_BIN (cargo build --bin idv, or set IDV_BIN)"
[ -x "$MCP_PYTHON" ] || die "no Python at $MCP_PYTHON (make test-deps installs tests/mcp/requirements.txt)"
"$MCP_PYTHON" -c "import mcp" 2>/dev/null || die "the mcp package is not installed for $MCP_PYTHON"

DIR="$(mktemp -d "${TMPDIR:-/tmp}/idv-mcp.XXXXXX")"
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

KEYS_OUT="$("$IDV_BIN" keys create --data-dir "$DIR" --environment sandbox --label mcp 2>&1)" \
  || die "idv keys create failed: $KEYS_OUT"
IDV_KEY="$(printf '%s\n' "$KEYS_OUT" | grep -o 'vk_sandbox_[A-Za-z0-9_-]*' | head -n 1)"
[ -n "$IDV_KEY" ] || die "no vk_sandbox_ key in: $KEYS_OUT"

PORT="$("$MCP_PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
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

IDV_BASE="$IDV_BASE" IDV_KEY="$IDV_KEY" "$MCP_PYTHON" tests/mcp/client_test.py
rc=$?
if [ "$rc" -ne 0 ]; then
  echo "run.sh: test failed (exit $rc); server log tail:" >&2
  tail -n 40 "$DIR/server.log" >&2
fi
exit "$rc"

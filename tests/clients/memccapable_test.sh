#!/usr/bin/env bash
# memccapable_test.sh [-b|-a]
# Runs libmemcached's memccapable conformance suite against the server on
# 127.0.0.1:$PORT (run it under with_server.sh): -b (default) all binary-protocol
# checks, -a all ASCII (text protocol) checks. Passes only if memccapable exits 0
# AND prints "All tests passed".
set -euo pipefail
: "${PORT:?PORT is not set; run this under with_server.sh}"
mode="${1:--b}"
case "$mode" in
  -a | -b) ;;
  *) echo "memccapable_test: usage: memccapable_test.sh [-b|-a]" >&2; exit 2 ;;
esac
bin="${MEMCCAPABLE_BIN:-memccapable}"
command -v "$bin" >/dev/null 2>&1 || { echo "memccapable_test: $bin not found (apt-get install libmemcached-tools)" >&2; exit 2; }

out="$(mktemp "${TMPDIR:-/tmp}/memccapable.XXXXXX")"
trap 'rm -f "$out"' EXIT

rc=0
timeout -k 5 120 "$bin" -h 127.0.0.1 -p "$PORT" "$mode" -t 10 </dev/null >"$out" 2>&1 || rc=$?
cat "$out"

if [ "$rc" -eq 124 ]; then
  echo "memccapable_test: FAIL: memccapable timed out after 120 s" >&2
  exit 1
fi
if [ "$rc" -ne 0 ]; then
  echo "memccapable_test: FAIL: memccapable exited with status $rc" >&2
  grep -E '\[FAIL\]' "$out" | sed 's/^/memccapable_test: failed: /' >&2 || true
  exit 1
fi
if ! grep -qx 'All tests passed' "$out"; then
  echo "memccapable_test: FAIL: memccapable exited 0 but did not print 'All tests passed'" >&2
  exit 1
fi
echo "memccapable_test: PASS"

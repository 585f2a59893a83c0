#!/usr/bin/env bash
# Smoke load: memcaslap (libmemcached's memaslap) in binary-protocol mode
# against the server on 127.0.0.1:$PORT (run it under with_server.sh):
#
#   memcaslap -s 127.0.0.1:$PORT -B -t 5s -c 16 -T 2 -w 1k -v 0.1
#
# -v 0.1: memcaslap verifies the value of 10% of its gets.
# -w 1k: each connection has a window of 1000 slots, but with the default -o 0
#   a slot stored again gets a brand-new key and the old one stays on the
#   server: stored data grows by ~1.2 KB per SET (90-140 MB in 5 s). The server
#   therefore runs with -m 1024 (CMakeLists.txt), so nothing is evicted. That
#   matters: a binary get miss carries the body "Not found", which memcaslap
#   then "verifies" as the value and counts under verify_failed, not
#   get_misses (at -m 64 both memcached and memkv evict and show such
#   failures). With no evictions, any miss or verify failure is a server bug.
# memcaslap exits 0 even when the server misbehaves (it prints one line per
# error response, and a server that closes every connection yields a tiny
# positive TPS), so the output is checked line by line:
#   - exit status 0, within the timeout;
#   - every line is a known report line; anything else (e.g. "Unknown
#     command", "Invalid arguments", "Not stored.", "Invalid magic",
#     "verification failed", and "Not found", printed for a get miss that has
#     no body) fails;
#   - cmd_get, cmd_set, read_bytes > 0 and TPS >= MEMCASLAP_MIN_TPS (default 1000);
#   - get_misses, verify_misses, verify_failed, expired_get, unexpired_unget == 0.
set -euo pipefail
: "${PORT:?PORT is not set; run this under with_server.sh}"
bin="${MEMCASLAP_BIN:-memcaslap}"
min_tps="${MEMCASLAP_MIN_TPS:-1000}"
command -v "$bin" >/dev/null 2>&1 || { echo "memcaslap_test: $bin not found (apt-get install libmemcached-tools)" >&2; exit 2; }

out="$(mktemp "${TMPDIR:-/tmp}/memcaslap.XXXXXX")"
trap 'rm -f "$out"' EXIT

rc=0
timeout -k 5 60 "$bin" -s "127.0.0.1:$PORT" -B -t 5s -c 16 -T 2 -w 1k -v 0.1 </dev/null >"$out" 2>&1 || rc=$?

# Show the report, collapsing repeated error lines (there can be thousands).
awk '{ n[$0]++; if (n[$0] == 1) order[++k] = $0 }
     END { for (i = 1; i <= k; i++) print order[i] (n[order[i]] > 1 ? "   [x" n[order[i]] "]" : "") }' "$out"

if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  echo "memcaslap_test: FAIL: memcaslap did not finish within 60 s" >&2
  exit 1
fi
if [ "$rc" -ne 0 ]; then
  echo "memcaslap_test: FAIL: memcaslap exited with status $rc" >&2
  exit 1
fi

awk -v min_tps="$min_tps" '
  function fail(msg) { print "memcaslap_test: FAIL: " msg > "/dev/stderr"; bad = 1 }
  /^(servers|threads count|concurrency|run time|windows size|set proportion|get proportion):/ { next }
  /^(cmd_get|cmd_set|get_misses|verify_misses|verify_failed|expired_get|unexpired_unget|written_bytes|read_bytes|object_bytes|packet_disorder|packet_drop|udp_timeout): [0-9]+$/ {
    key = $1; sub(/:$/, "", key); v[key] = $2 + 0; seen[key] = 1; next
  }
  /^Run time: .* Ops: [0-9]+ TPS: [0-9]+ / {
    for (i = 1; i < NF; i++) { if ($i == "TPS:") tps = $(i + 1) + 0; if ($i == "Ops:") ops = $(i + 1) + 0 }
    have_tps = 1; next
  }
  /^[ \t]*$/ { next }
  { unexpected[$0]++; n_unexpected++ }
  END {
    for (l in unexpected) fail("unexpected output (" unexpected[l] "x): " l)
    if (!have_tps) fail("no \"Run time: ... TPS:\" summary line")
    else if (tps < min_tps) fail("TPS " tps " is below the minimum " min_tps " (ops " ops ")")
    if (!seen["cmd_get"] || v["cmd_get"] <= 0) fail("cmd_get is not positive")
    if (!seen["cmd_set"] || v["cmd_set"] <= 0) fail("cmd_set is not positive")
    if (!seen["read_bytes"] || v["read_bytes"] <= 0) fail("read_bytes is not positive")
    if (!seen["verify_failed"]) fail("no verify_failed counter (verification did not run)")
    split("get_misses verify_misses verify_failed expired_get unexpired_unget", zero, " ")
    for (i in zero) if (v[zero[i]] > 0) fail(zero[i] " = " v[zero[i]] " (must be 0: the working set fits in memory)")
    exit bad
  }' "$out" || { echo "memcaslap_test: FAIL" >&2; exit 1; }
echo "memcaslap_test: PASS"

#!/usr/bin/env bash
# stunnel_memcslap_test.sh: libmemcached's memcslap (set, get and mget, binary
# and ASCII, 4 threads, 1000 keys each) against the server on 127.0.0.1:$PORT;
# run it under tests/tls/stunnel_client.sh, so every connection is TLS.
# memcslap verifies nothing itself, so afterwards memcstat (through the same
# tunnel) must show every GET a hit and the expected counts:
#   - each memcslap run exits 0 within 60 s;
#   - get_misses == 0, get_hits == cmd_get >= 4 x 4 x 1000 (the get and mget
#     runs of both protocols), cmd_set >= 6 x 1000.
set -euo pipefail
: "${PORT:?PORT is not set; run this under tests/tls/stunnel_client.sh}"
for b in memcslap memcstat; do
  command -v "$b" >/dev/null 2>&1 || { echo "memcslap_test: $b not found (apt-get install libmemcached-tools)" >&2; exit 2; }
done

keys=1000
for test in set get mget; do
  for proto in -b ""; do
    rc=0
    # shellcheck disable=SC2086  # $proto is empty for ASCII
    timeout -k 5 60 memcslap -s "127.0.0.1:$PORT" $proto -c 4 -e "$keys" -t "$test" </dev/null || rc=$?
    if [ "$rc" -ne 0 ]; then
      echo "memcslap_test: FAIL: memcslap -t $test ${proto:-(ascii)} exited with status $rc" >&2
      exit 1
    fi
  done
done

stats="$(timeout -k 5 30 memcstat --servers="127.0.0.1:$PORT")"
stat() { awk -v k="$1" '$1 == k ":" { print $2 }' <<<"$stats"; }
cmd_get="$(stat cmd_get)" cmd_set="$(stat cmd_set)" hits="$(stat get_hits)" misses="$(stat get_misses)"
echo "memcslap_test: cmd_get=$cmd_get get_hits=$hits get_misses=$misses cmd_set=$cmd_set"
fail=0
[ -n "$cmd_get" ] && [ -n "$cmd_set" ] && [ -n "$hits" ] && [ -n "$misses" ] || {
  echo "memcslap_test: FAIL: memcstat did not report cmd_get, cmd_set, get_hits and get_misses" >&2
  exit 1
}
((misses == 0)) || { echo "memcslap_test: FAIL: $misses GETs missed (every key was stored)" >&2; fail=1; }
((hits == cmd_get)) || { echo "memcslap_test: FAIL: get_hits $hits != cmd_get $cmd_get" >&2; fail=1; }
((cmd_get >= 16 * keys)) || { echo "memcslap_test: FAIL: cmd_get $cmd_get < $((16 * keys))" >&2; fail=1; }
((cmd_set >= 6 * keys)) || { echo "memcslap_test: FAIL: cmd_set $cmd_set < $((6 * keys))" >&2; fail=1; }
[ "$fail" -eq 0 ] || exit 1
echo "memcslap_test: PASS"

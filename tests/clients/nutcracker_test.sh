#!/usr/bin/env bash
# nutcracker_test.sh: Debian's nutcracker (twemproxy 0.5.0, ASCII only) in front
# of TWO servers, with pymemcache (nutcracker_client.py) as the client behind it.
#
# Run it under with_server.sh, which starts the first server; this script then
# re-runs itself under a second, nested with_server.sh for the second server
# (each stops its own server on every exit path). nutcracker listens on a free
# port with a generated config (ketama distribution over the two servers) and
# its stats port on another free port. Every expectation was verified against
# memcached 1.6.18:
#   MEMKV_TEST_TARGET=memcached bash tests/clients/with_server.sh \
#       bash tests/clients/nutcracker_test.sh
set -euo pipefail
: "${PORT:?PORT is not set; run this under with_server.sh}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log() { echo "nutcracker_test: $*" >&2; }

if [ -z "${NUTCRACKER_BACKEND_A:-}" ]; then
  export NUTCRACKER_BACKEND_A="$PORT"
  exec bash "$here/with_server.sh" bash "${BASH_SOURCE[0]}" "$@"
fi
export NUTCRACKER_BACKEND_B="$PORT"
source "$here/nutcracker_lib.sh"
nutcracker_setup nutcracker-test
pool_options="  timeout: 10000
  preconnect: true
  auto_eject_hosts: false"
pool_servers="    - 127.0.0.1:$NUTCRACKER_BACKEND_A:1 backend_a
    - 127.0.0.1:$NUTCRACKER_BACKEND_B:1 backend_b"
nutcracker_start "$pool_options" "$pool_servers"
log "nutcracker (pid $proxy_pid) on 127.0.0.1:$proxy_port -> backends $NUTCRACKER_BACKEND_A, $NUTCRACKER_BACKEND_B"
nutcracker_client 60 "$here/nutcracker_client.py"

#!/usr/bin/env bash
# nutcracker_eject_test.sh: Debian's nutcracker (twemproxy 0.5.0) in front of
# THREE servers with ketama and host ejection, pymemcache through it
# (nutcracker_eject_client.py): 3,000 keys spread over the three, then server C
# is killed and the proxy must eject it and serve every key from A and B.
#
# Run under three_servers.sh (SHARD_PORTS, SHARD_VICTIM_PID). Ejection settings:
# auto_eject_hosts with server_failure_limit 1, so the first failed connection
# to C ejects it; server_retry_timeout 600 s, so the proxy does not try C again
# while the test runs (the test stays deterministic). Every expectation was
# verified against memcached 1.6.18:
#   MEMKV_TEST_TARGET=memcached bash tests/clients/with_server.sh bash \
#       tests/clients/three_servers.sh bash tests/clients/nutcracker_eject_test.sh
set -euo pipefail
: "${SHARD_PORTS:?SHARD_PORTS is not set; run this under three_servers.sh}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log() { echo "nutcracker_eject_test: $*" >&2; }
IFS=, read -r port_a port_b port_c <<<"$SHARD_PORTS"
source "$here/nutcracker_lib.sh"
nutcracker_setup nutcracker-eject
pool_options="  timeout: 2000
  preconnect: true
  auto_eject_hosts: true
  server_failure_limit: 1
  server_retry_timeout: 600000"
pool_servers="    - 127.0.0.1:$port_a:1 node_a
    - 127.0.0.1:$port_b:1 node_b
    - 127.0.0.1:$port_c:1 node_c"
nutcracker_start "$pool_options" "$pool_servers"
log "nutcracker (pid $proxy_pid) on 127.0.0.1:$proxy_port -> $SHARD_PORTS"
nutcracker_client 50 "$here/nutcracker_eject_client.py"

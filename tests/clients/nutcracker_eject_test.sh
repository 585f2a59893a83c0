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
bin="${NUTCRACKER_BIN:-nutcracker}"
command -v "$bin" >/dev/null 2>&1 || { log "$bin not found (apt-get install nutcracker)"; exit 2; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/nutcracker-eject.XXXXXX")"
proxy_pid=""
# shellcheck disable=SC2317  # invoked via trap
cleanup() {
  local rc=$?
  if [ -n "$proxy_pid" ] && kill -0 "$proxy_pid" 2>/dev/null; then
    kill -TERM "$proxy_pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do kill -0 "$proxy_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$proxy_pid" 2>/dev/null || true
    wait "$proxy_pid" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && [ -s "$tmp/nutcracker.log" ]; then
    log "---- nutcracker log (last 30 lines) ----"
    tail -n 30 "$tmp/nutcracker.log" >&2 || true
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# nutcracker cannot report an ephemeral port: pick free ports, retry if taken.
started=0
for ((attempt = 1; attempt <= 5 && started == 0; attempt++)); do
  proxy_port="$(free_port)"
  stats_port="$(free_port)"
  cat >"$tmp/nutcracker.yml" <<YAML
pool:
  listen: 127.0.0.1:$proxy_port
  hash: fnv1a_64
  distribution: ketama
  timeout: 2000
  preconnect: true
  auto_eject_hosts: true
  server_failure_limit: 1
  server_retry_timeout: 600000
  servers:
    - 127.0.0.1:$port_a:1 node_a
    - 127.0.0.1:$port_b:1 node_b
    - 127.0.0.1:$port_c:1 node_c
YAML
  "$bin" -t -c "$tmp/nutcracker.yml" >"$tmp/conf-check.log" 2>&1 ||
    { cat "$tmp/conf-check.log" >&2; log "generated config rejected"; exit 1; }
  "$bin" -c "$tmp/nutcracker.yml" -s "$stats_port" -a 127.0.0.1 -o "$tmp/nutcracker.log" \
    -p "$tmp/nutcracker.pid" </dev/null >/dev/null 2>&1 &
  proxy_pid=$!
  for ((i = 0; i < 100; i++)); do
    kill -0 "$proxy_pid" 2>/dev/null || break
    if (exec 3<>"/dev/tcp/127.0.0.1/$proxy_port") 2>/dev/null; then started=1; break; fi
    sleep 0.05
  done
  if [ "$started" -eq 0 ]; then
    log "nutcracker did not listen on $proxy_port (attempt $attempt)"
    kill -KILL "$proxy_pid" 2>/dev/null || true
    wait "$proxy_pid" 2>/dev/null || true
    proxy_pid=""
  fi
done
[ "$started" -eq 1 ] || { log "could not start nutcracker"; exit 1; }
log "nutcracker (pid $proxy_pid) on 127.0.0.1:$proxy_port -> $SHARD_PORTS"

export NUTCRACKER_PORT="$proxy_port"
rc=0
timeout -k 5 50 /usr/bin/python3 "$here/nutcracker_eject_client.py" </dev/null || rc=$?
if ! kill -0 "$proxy_pid" 2>/dev/null; then
  log "FAIL: nutcracker exited while the client ran"
  rc=1
fi
exit "$rc"

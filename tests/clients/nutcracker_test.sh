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
bin="${NUTCRACKER_BIN:-nutcracker}"
command -v "$bin" >/dev/null 2>&1 || { log "$bin not found (apt-get install nutcracker)"; exit 2; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/nutcracker-test.XXXXXX")"
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
  timeout: 10000
  preconnect: true
  auto_eject_hosts: false
  servers:
    - 127.0.0.1:$NUTCRACKER_BACKEND_A:1 backend_a
    - 127.0.0.1:$NUTCRACKER_BACKEND_B:1 backend_b
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
log "nutcracker (pid $proxy_pid) on 127.0.0.1:$proxy_port -> backends $NUTCRACKER_BACKEND_A, $NUTCRACKER_BACKEND_B"

export NUTCRACKER_PORT="$proxy_port"
rc=0
timeout -k 5 60 /usr/bin/python3 "$here/nutcracker_client.py" </dev/null || rc=$?
if ! kill -0 "$proxy_pid" 2>/dev/null; then
  log "FAIL: nutcracker exited while the client ran"
  rc=1
fi
exit "$rc"

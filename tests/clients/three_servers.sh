#!/usr/bin/env bash
# three_servers.sh COMMAND [ARGS...]: three independent servers for the classic
# sharding tests (a ketama client or nutcracker spreads the keys over them; the
# servers know nothing of each other and need no cluster map).
#
# Run it under with_server.sh, which starts server A; this script re-runs itself
# under a second, nested with_server.sh for server B, then starts server C, the
# VICTIM, itself: the test kills C with SIGKILL, which with_server.sh would
# rightly report as a crash. A and B stay under with_server.sh, so they must
# still shut down cleanly. C is killed (if still alive) and reaped on every exit
# path. Exports SHARD_PORTS="A,B,C" (127.0.0.1) and SHARD_VICTIM_PID.
#
# MEMKV_TEST_TARGET=memcached runs the same test against three memcached:
#   MEMKV_TEST_TARGET=memcached bash tests/clients/with_server.sh \
#       bash tests/clients/three_servers.sh bash tests/clients/nutcracker_eject_test.sh
set -euo pipefail
: "${PORT:?PORT is not set; run this under with_server.sh}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log() { echo "three_servers: $*" >&2; }

if [ -z "${SHARD_PORT_A:-}" ]; then
  export SHARD_PORT_A="$PORT"
  exec bash "$here/with_server.sh" bash "${BASH_SOURCE[0]}" "$@"
fi
port_b="$PORT"
target="${MEMKV_TEST_TARGET:-memkv}"
read -r -a extra_args <<<"${MEMKV_EXTRA_ARGS:-}"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/three-servers.XXXXXX")"
victim_pid=""
cmd_pid=""
# shellcheck disable=SC2317  # invoked via trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [ -n "$cmd_pid" ] && kill -0 "$cmd_pid" 2>/dev/null; then
    kill -TERM "$cmd_pid" 2>/dev/null || true
    wait "$cmd_pid" 2>/dev/null || true
  fi
  if [ -n "$victim_pid" ]; then
    kill -KILL "$victim_pid" 2>/dev/null || true
    wait "$victim_pid" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && [ -s "$tmp/victim.log" ]; then
    log "---- server C log (last 30 lines) ----"
    tail -n 30 "$tmp/victim.log" >&2 || true
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

now_ms() { local t="${EPOCHREALTIME/[.,]/}"; echo $((t / 1000)); }

# listening PORT SECONDS: true once 127.0.0.1:PORT accepts a connection while C lives.
listening() {
  local deadline=$(($(now_ms) + $2 * 1000))
  while (($(now_ms) < deadline)); do
    kill -0 "$victim_pid" 2>/dev/null || return 1
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}

port_c=""
case "$target" in
  memkv)
    : "${MEMKV_BIN:?MEMKV_BIN is not set}"
    "$MEMKV_BIN" -p 0 --port-file "$tmp/port" -l 127.0.0.1 -t 2 "${extra_args[@]}" \
      >"$tmp/victim.log" 2>&1 </dev/null &
    victim_pid=$!
    for ((i = 0; i < 200; i++)); do
      [ -s "$tmp/port" ] && break
      kill -0 "$victim_pid" 2>/dev/null || break
      sleep 0.05
    done
    [ -s "$tmp/port" ] || { log "server C did not write its port file"; exit 1; }
    port_c="$(cat "$tmp/port")"
    listening "$port_c" 10 || { log "server C does not accept connections on $port_c"; exit 1; }
    ;;
  memcached)
    # memcached cannot report an ephemeral port: pick a free one, retry if taken.
    for ((attempt = 1; attempt <= 5; attempt++)); do
      port_c="$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
      "${MEMCACHED_BIN:-/usr/bin/memcached}" -u root -U 0 -l 127.0.0.1 -p "$port_c" "${extra_args[@]}" \
        >"$tmp/victim.log" 2>&1 </dev/null &
      victim_pid=$!
      listening "$port_c" 10 && break
      kill -KILL "$victim_pid" 2>/dev/null || true
      wait "$victim_pid" 2>/dev/null || true
      victim_pid=""
    done
    [ -n "$victim_pid" ] || { log "could not start memcached as server C"; exit 1; }
    ;;
  *) log "MEMKV_TEST_TARGET must be memkv or memcached, not '$target'"; exit 2 ;;
esac

export SHARD_PORTS="$SHARD_PORT_A,$port_b,$port_c" SHARD_VICTIM_PID="$victim_pid"
log "$target servers on 127.0.0.1 ports $SHARD_PORTS (C, pid $victim_pid, is the one to kill)"
# In the background, so a signal to this script is handled at once.
rc=0
"$@" &
cmd_pid=$!
wait "$cmd_pid" || rc=$?
cmd_pid=""
exit "$rc"

#!/usr/bin/env bash
# with_server.sh COMMAND [ARGS...]
#
# Starts a fresh server on an ephemeral 127.0.0.1 port, exports PORT (and
# HOST=127.0.0.1), runs COMMAND, stops the server and exits with COMMAND's exit
# code. The server is stopped with SIGTERM (SIGKILL after a grace period) on
# every exit path, including when this script is itself interrupted.
#
# Environment:
#   MEMKV_TEST_TARGET  memkv (default) or memcached.
#   MEMKV_BIN          memkv binary (required for the memkv target; CTest sets it).
#   MEMKV_EXTRA_ARGS   extra server arguments, whitespace-separated (optional).
#   MEMCACHED_BIN      reference server for the memcached target (default /usr/bin/memcached).
#   STARTUP_TIMEOUT    seconds to wait for the server to listen (default 10).
#   SHUTDOWN_TIMEOUT   seconds the server gets to exit after SIGTERM (default 20).
#
# memkv is started as: $MEMKV_BIN -p 0 --port-file FILE -l 127.0.0.1 -t 2, and
# writes its bound port into FILE once it listens. memcached cannot report an
# ephemeral port, so for it a free port is picked and the start is retried if
# another process takes it first.
#
# The run fails, even when COMMAND passed, unless the server was still running
# when COMMAND ended and then exited with status 0 on SIGTERM within
# SHUTDOWN_TIMEOUT (so a crash, a sanitizer or leak report at exit, or a hang at
# shutdown fails the test).
set -euo pipefail

log() { echo "with_server.sh: $*" >&2; }

if [ "$#" -eq 0 ]; then
  log "usage: with_server.sh COMMAND [ARGS...]"
  exit 2
fi

target="${MEMKV_TEST_TARGET:-memkv}"
startup_timeout="${STARTUP_TIMEOUT:-10}"
# memkv finishes responses for up to --shutdown-grace-ms (5 s) after SIGTERM;
# sanitizer builds are slower still.
shutdown_timeout="${SHUTDOWN_TIMEOUT:-20}"
read -r -a extra_args <<<"${MEMKV_EXTRA_ARGS:-}"

workdir="$(mktemp -d "${TMPDIR:-/tmp}/memkv-client-test.XXXXXX")"
server_log="$workdir/server.log"
server_pid=""
cmd_pid=""

dump_server_log() {
  if [ -s "$server_log" ]; then
    log "---- server log (last 50 lines) ----"
    tail -n 50 "$server_log" >&2 || true
    log "---- end of server log ----"
  fi
}

# stop_server: SIGTERM, wait up to $shutdown_timeout s, then SIGKILL. Sets
# server_status to the server's exit status (0 is a clean shutdown), "killed"
# when SIGTERM was not enough, or "dead:N" when it had exited (status N) before
# it was asked to stop. A sanitizer report or a leak found at exit makes the
# status non-zero, so it fails the test like any other failure.
server_status=""
stop_server() {
  [ -n "$server_pid" ] || return 0
  local pid="$server_pid" st=0
  server_pid=""
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null || st=$?
    server_status="dead:$st"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < shutdown_timeout * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "server (pid $pid) ignored SIGTERM for ${shutdown_timeout} s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    server_status="killed"
    return 0
  fi
  wait "$pid" 2>/dev/null || st=$?
  server_status="$st"
  return 0
}

# shellcheck disable=SC2317  # invoked via trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [ -n "$cmd_pid" ] && kill -0 "$cmd_pid" 2>/dev/null; then
    kill -TERM "$cmd_pid" 2>/dev/null || true
    wait "$cmd_pid" 2>/dev/null || true
  fi
  stop_server || true
  rm -rf "$workdir"
  exit "$rc"
}
# shellcheck disable=SC2317  # invoked via trap
on_signal() {
  log "interrupted by SIG$1; stopping"
  exit $((128 + $2))
}
trap cleanup EXIT
trap 'on_signal INT 2' INT
trap 'on_signal TERM 15' TERM
trap 'on_signal HUP 1' HUP

# Milliseconds on the wall clock ($SECONDS has whole-second granularity).
now_ms() { local t="${EPOCHREALTIME/[.,]/}"; echo $((t / 1000)); }

# wait_for_tcp PORT SECONDS: true once 127.0.0.1:PORT accepts a connection.
wait_for_tcp() {
  local port="$1" deadline=$(($(now_ms) + $2 * 1000))
  while (($(now_ms) < deadline)); do
    if ! kill -0 "$server_pid" 2>/dev/null; then return 1; fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}

start_memkv() {
  local bin="${MEMKV_BIN:-}"
  if [ -z "$bin" ]; then
    log "MEMKV_BIN is not set (CTest sets it; or use MEMKV_TEST_TARGET=memcached)"
    exit 2
  fi
  if [ ! -x "$bin" ]; then
    log "MEMKV_BIN=$bin is not an executable file"
    exit 2
  fi
  local port_file="$workdir/port"
  "$bin" -p 0 --port-file "$port_file" -l 127.0.0.1 -t 2 "${extra_args[@]}" \
    >"$server_log" 2>&1 </dev/null &
  server_pid=$!

  local deadline=$(($(now_ms) + startup_timeout * 1000)) content=""
  while (($(now_ms) < deadline)); do
    if [ -s "$port_file" ]; then
      content="$(cat "$port_file")"
      break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      local st=0
      wait "$server_pid" || st=$?
      server_pid=""
      log "memkv exited (status $st) before writing its port file"
      dump_server_log
      exit 1
    fi
    sleep 0.05
  done
  if [ -z "$content" ]; then
    log "memkv did not write $port_file within ${startup_timeout}s"
    dump_server_log
    exit 1
  fi
  if ! [[ "$content" =~ ^[0-9]+$ ]] || ((content < 1 || content > 65535)); then
    log "port file holds '$content', expected a decimal port followed by a newline"
    exit 1
  fi
  PORT="$content"
  # The port file promises the server listens; confirm it accepts connections.
  if ! wait_for_tcp "$PORT" "$startup_timeout"; then
    log "memkv wrote port $PORT but 127.0.0.1:$PORT does not accept connections"
    dump_server_log
    exit 1
  fi
}

pick_free_port() {
  node -e '
    const s = require("net").createServer();
    s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });
  '
}

start_memcached() {
  local bin="${MEMCACHED_BIN:-/usr/bin/memcached}" attempt port
  if [ ! -x "$bin" ]; then
    log "$bin not found (install the memcached package)"
    exit 2
  fi
  for ((attempt = 1; attempt <= 5; attempt++)); do
    port="$(pick_free_port)"
    "$bin" -u root -U 0 -l 127.0.0.1 -p "$port" "${extra_args[@]}" \
      >"$server_log" 2>&1 </dev/null &
    server_pid=$!
    if wait_for_tcp "$port" "$startup_timeout"; then
      PORT="$port"
      return 0
    fi
    log "memcached did not come up on port $port (attempt $attempt)"
    dump_server_log
    stop_server || true
  done
  log "could not start memcached"
  exit 1
}

case "$target" in
  memkv) start_memkv ;;
  memcached) start_memcached ;;
  *)
    log "MEMKV_TEST_TARGET must be memkv or memcached, not '$target'"
    exit 2
    ;;
esac

export PORT HOST=127.0.0.1 MEMKV_TEST_TARGET="$target"
log "$target (pid $server_pid) listening on 127.0.0.1:$PORT; running: $*"

# Run the command in the background and wait for it, so a signal to this
# script is handled at once (bash defers traps while a foreground child runs).
rc=0
"$@" &
cmd_pid=$!
wait "$cmd_pid" || rc=$?
cmd_pid=""

stop_server
case "$server_status" in
  0) server_ok=1 ;;
  dead:*) log "FAIL: the server died while the test ran (exit status ${server_status#dead:})" ;;
  killed) log "FAIL: the server did not exit within ${shutdown_timeout} s of SIGTERM" ;;
  *) log "FAIL: the server exited with status $server_status on SIGTERM (0 expected)" ;;
esac
if [ "${server_ok:-0}" -ne 1 ]; then
  dump_server_log
  [ "$rc" -ne 0 ] || rc=1
elif [ "$rc" -ne 0 ]; then
  dump_server_log
fi
exit "$rc"

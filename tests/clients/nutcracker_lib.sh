# nutcracker_lib.sh: what the nutcracker tests share, sourced by them (after
# they define log()). nutcracker_setup checks the binary and makes a work
# directory removed on exit (the proxy stopped first, its log shown on a
# failure); nutcracker_start writes a ketama pool config with the options and
# servers given and starts the proxy on free ports (it cannot report an
# ephemeral one, so taken ports are retried); nutcracker_client runs a python
# client against it under a time bound and fails if the proxy died meanwhile.
# shellcheck shell=bash

nutcracker_setup() {
  bin="${NUTCRACKER_BIN:-nutcracker}"
  command -v "$bin" >/dev/null 2>&1 || { log "$bin not found (apt-get install nutcracker)"; exit 2; }
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")"
  proxy_pid=""
  trap nutcracker_cleanup EXIT
}

# shellcheck disable=SC2317  # invoked via trap
nutcracker_cleanup() {
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

nutcracker_free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# nutcracker_start POOL_OPTIONS SERVERS: both YAML fragments, indented for the
# pool (options such as "  timeout: 2000", servers as "    - HOST:PORT:1 name").
# Sets proxy_port and proxy_pid.
nutcracker_start() {
  local options="$1" servers="$2" started=0 attempt i stats_port
  for ((attempt = 1; attempt <= 5 && started == 0; attempt++)); do
    proxy_port="$(nutcracker_free_port)"
    stats_port="$(nutcracker_free_port)"
    cat >"$tmp/nutcracker.yml" <<YAML
pool:
  listen: 127.0.0.1:$proxy_port
  hash: fnv1a_64
  distribution: ketama
$options
  servers:
$servers
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
}

# nutcracker_client SECONDS SCRIPT: runs the python client with NUTCRACKER_PORT
# set; exits with its status, or 1 if nutcracker exited while it ran.
nutcracker_client() {
  local rc=0
  export NUTCRACKER_PORT="$proxy_port"
  timeout -k 5 "$1" /usr/bin/python3 "$2" </dev/null || rc=$?
  if ! kill -0 "$proxy_pid" 2>/dev/null; then
    log "FAIL: nutcracker exited while the client ran"
    rc=1
  fi
  exit "$rc"
}

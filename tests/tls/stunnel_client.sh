#!/usr/bin/env bash
# stunnel_client.sh COMMAND [ARGS...]
#
# Puts stunnel (client mode) in front of a TLS server so that plaintext-only
# memcached clients can talk to it: stunnel listens on a free 127.0.0.1 port,
# wraps every connection in TLS (verifying the server against the test CA and
# its SAN IP:127.0.0.1) and connects to 127.0.0.1:$PORT. COMMAND then runs with
# PORT set to stunnel's port, so the client test scripts of tests/clients run
# unchanged. Run it under tests/clients/with_server.sh, with the server
# started with -Z (MEMKV_EXTRA_ARGS="-Z -o ssl_chain_cert=...,ssl_key=...").
#
# Environment:
#   PORT       the server's TLS port (with_server.sh sets it).
#   CERT_DIR   the certificates of tests/tls/make_certs.sh (ca.pem is used).
#   STUNNEL    the stunnel binary (default: stunnel4, else stunnel).
#
# Exits with COMMAND's status, or 2 when stunnel is missing or does not start.
# stunnel is stopped on every exit path; its log is shown when COMMAND fails.
set -euo pipefail

log() { echo "stunnel_client.sh: $*" >&2; }

: "${PORT:?PORT is not set; run this under tests/clients/with_server.sh}"
: "${CERT_DIR:?CERT_DIR is not set (the directory of tests/tls/make_certs.sh)}"
[ "$#" -gt 0 ] || { log "usage: stunnel_client.sh COMMAND [ARGS...]"; exit 2; }

bin="${STUNNEL:-}"
if [ -z "$bin" ]; then
  bin="$(command -v stunnel4 || command -v stunnel || true)"
fi
if [ -z "$bin" ]; then
  log "stunnel not found (apt-get install stunnel4; scripts/install-deps.sh does)"
  exit 2
fi
[ -f "$CERT_DIR/ca.pem" ] || { log "$CERT_DIR/ca.pem is missing (run tests/tls/make_certs.sh)"; exit 2; }

server_port="$PORT"
workdir="$(mktemp -d "${TMPDIR:-/tmp}/memkv-stunnel.XXXXXX")"
stunnel_pid=""
cmd_pid=""

# shellcheck disable=SC2317  # invoked via trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [ -n "$cmd_pid" ] && kill -0 "$cmd_pid" 2>/dev/null; then
    kill -TERM "$cmd_pid" 2>/dev/null || true
    wait "$cmd_pid" 2>/dev/null || true
  fi
  if [ -n "$stunnel_pid" ]; then
    kill -TERM "$stunnel_pid" 2>/dev/null || true
    wait "$stunnel_pid" 2>/dev/null || true
  fi
  rm -rf "$workdir"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

dump_log() {
  if [ -s "$workdir/stunnel.log" ]; then
    log "---- stunnel log (last 30 lines) ----"
    tail -n 30 "$workdir/stunnel.log" >&2 || true
  fi
}

pick_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

now_ms() { local t="${EPOCHREALTIME/[.,]/}"; echo $((t / 1000)); }

# True once 127.0.0.1:$1 accepts connections (within 5 s) while stunnel runs.
wait_listening() {
  local deadline=$(($(now_ms) + 5000))
  while (($(now_ms) < deadline)); do
    kill -0 "$stunnel_pid" 2>/dev/null || return 1
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}

local_port=""
for attempt in 1 2 3 4 5; do
  port="$(pick_free_port)"
  cat >"$workdir/stunnel.conf" <<EOF
foreground = yes
pid =
output = $workdir/stunnel.log
debug = notice
[memcached]
client = yes
accept = 127.0.0.1:$port
connect = 127.0.0.1:$server_port
CAfile = $CERT_DIR/ca.pem
verifyChain = yes
checkIP = 127.0.0.1
EOF
  "$bin" "$workdir/stunnel.conf" </dev/null >/dev/null 2>&1 &
  stunnel_pid=$!
  if wait_listening "$port"; then
    local_port="$port"
    break
  fi
  log "stunnel did not listen on 127.0.0.1:$port (attempt $attempt)"
  dump_log
  kill -TERM "$stunnel_pid" 2>/dev/null || true
  wait "$stunnel_pid" 2>/dev/null || true
  stunnel_pid=""
done
[ -n "$local_port" ] || { log "could not start stunnel"; exit 2; }

log "stunnel (pid $stunnel_pid): 127.0.0.1:$local_port -> TLS 127.0.0.1:$server_port; running: $*"
export PORT="$local_port" TLS_SERVER_PORT="$server_port"
rc=0
"$@" &
cmd_pid=$!
wait "$cmd_pid" || rc=$?
cmd_pid=""
if [ "$rc" -ne 0 ]; then dump_log; fi
# Every client connection went through TLS: stunnel logs each handshake's
# verified peer. None means the client never reached the server through it.
if ! grep -q "Certificate accepted" "$workdir/stunnel.log" 2>/dev/null; then
  log "FAIL: stunnel verified no server certificate (no TLS connection was made)"
  dump_log
  [ "$rc" -ne 0 ] || rc=1
fi
exit "$rc"

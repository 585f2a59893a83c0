#!/usr/bin/env bash
# couchbase_env.sh COMMAND [ARGS...]
#
# Runs COMMAND under with_server.sh against a memkv that requires
# authentication: writes a users file with memkv-admin, starts the server with
# --users-file, and exports the test users' names and passwords. Used by the
# SDK and SASL client tests (couchbase_test.js, memjs_sasl_test.js).
#
# Users (the password of each is exported as shown):
#   app    read[default],write[default]             MEMKV_TEST_APP_USER / _PASSWORD
#   admin  admin                                     MEMKV_TEST_ADMIN_USER / _PASSWORD
#   other  read[otherbucket],write[otherbucket]      MEMKV_TEST_OTHER_USER / _PASSWORD
#
# Environment:
#   MEMKV_BIN        memkv binary (required; CTest sets it).
#   MEMKV_ADMIN_BIN  memkv-admin binary (default: memkv-admin next to MEMKV_BIN).
#   MEMKV_EXTRA_ARGS further server arguments, kept after --users-file (e.g. -vv).
#   SCRAM_ITERATIONS PBKDF2 iteration count for the stored SCRAM secrets (default:
#                    memkv-admin's own default).
set -euo pipefail

log() { echo "couchbase_env.sh: $*" >&2; }

if [ "$#" -eq 0 ]; then
  log "usage: couchbase_env.sh COMMAND [ARGS...]"
  exit 2
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [ -z "${MEMKV_BIN:-}" ]; then
  log "MEMKV_BIN is not set (CTest sets it)"
  exit 2
fi
admin_bin="${MEMKV_ADMIN_BIN:-$(dirname "$MEMKV_BIN")/memkv-admin}"
if [ ! -x "$admin_bin" ]; then
  log "memkv-admin not found at $admin_bin (set MEMKV_ADMIN_BIN)"
  exit 2
fi

# The passwords contain a space, a comma and '=' on purpose: they must survive
# the users file, SASL PLAIN ("\0user\0password") and SCRAM unchanged.
export MEMKV_TEST_APP_USER=app
export MEMKV_TEST_APP_PASSWORD='app p@ss,word=1'
export MEMKV_TEST_ADMIN_USER=admin
export MEMKV_TEST_ADMIN_PASSWORD='admin-secret-2'
export MEMKV_TEST_OTHER_USER=other
export MEMKV_TEST_OTHER_PASSWORD='other-secret-3'

workdir="$(mktemp -d "${TMPDIR:-/tmp}/memkv-users.XXXXXX")"
users_file="$workdir/users.json"
child=""

# shellcheck disable=SC2317  # invoked via trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
    kill -TERM "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  rm -rf "$workdir"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

add_user() {
  local name="$1" roles="$2" password="$3"
  local -a iter=()
  [ -z "${SCRAM_ITERATIONS:-}" ] || iter=(--iterations "$SCRAM_ITERATIONS")
  if ! printf '%s\n' "$password" |
      "$admin_bin" add-user --users-file "$users_file" --name "$name" --roles "$roles" "${iter[@]}"; then
    log "memkv-admin add-user --name $name --roles $roles failed"
    exit 1
  fi
}

add_user "$MEMKV_TEST_APP_USER" 'read[default],write[default]' "$MEMKV_TEST_APP_PASSWORD"
add_user "$MEMKV_TEST_ADMIN_USER" admin "$MEMKV_TEST_ADMIN_PASSWORD"
add_user "$MEMKV_TEST_OTHER_USER" 'read[otherbucket],write[otherbucket]' "$MEMKV_TEST_OTHER_PASSWORD"

export MEMKV_EXTRA_ARGS="--users-file $users_file${MEMKV_EXTRA_ARGS:+ $MEMKV_EXTRA_ARGS}"

# Not exec: the users file is removed once the run ends. with_server.sh runs in
# the background so a signal to this script is handled at once.
rc=0
bash "$here/with_server.sh" "$@" &
child=$!
wait "$child" || rc=$?
child=""
exit "$rc"

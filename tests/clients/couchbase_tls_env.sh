#!/usr/bin/env bash
# couchbase_tls_env.sh COMMAND [ARGS...]
#
# couchbase_env.sh (users file, test users) plus a TLS listener: makes test
# certificates with tests/tls/make_certs.sh and starts memkv with
#   --tls-port 0 --tls-port-file FILE -o ssl_chain_cert=server.pem,ssl_key=server.key
# beside its plain port. COMMAND runs once the plain port listens (PORT, as
# with_server.sh exports it); it reads the TLS port from FILE (memkv writes it
# once the TLS listener is bound).
#
# Exported to COMMAND, besides what couchbase_env.sh exports:
#   MEMKV_TEST_TLS_PORT_FILE  the file memkv writes its TLS port into
#   MEMKV_TEST_TLS_CA         the CA that signed server.pem (SAN IP:127.0.0.1, DNS:localhost)
#   MEMKV_TEST_TLS_ROGUE_CA   another CA, which did not sign the server's certificate
#   MEMKV_TEST_TLS_CERT_DIR_USED  the certificates' directory (client-app.pem, ...)
#
# Environment:
#   MEMKV_TEST_TLS_CERT_DIR  use (and fill, if empty) this certificate directory
#                            instead of a temporary one (e.g. a CTest fixture's).
#   Everything couchbase_env.sh and with_server.sh read (MEMKV_BIN, ...).
set -euo pipefail

log() { echo "couchbase_tls_env.sh: $*" >&2; }

if [ "$#" -eq 0 ]; then
  log "usage: couchbase_tls_env.sh COMMAND [ARGS...]"
  exit 2
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
make_certs="$here/../tls/make_certs.sh"

workdir="$(mktemp -d "${TMPDIR:-/tmp}/memkv-tls.XXXXXX")"
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

certs="${MEMKV_TEST_TLS_CERT_DIR:-$workdir/certs}"
# A few EC keys: well under a second. Bounded in case openssl blocks on entropy.
if ! timeout 60 bash "$make_certs" "$certs" >"$workdir/make_certs.log" 2>&1; then
  log "make_certs.sh $certs failed:"
  cat "$workdir/make_certs.log" >&2
  exit 1
fi
for f in ca.pem server.pem server.key rogue-ca.pem; do
  if [ ! -s "$certs/$f" ]; then
    log "make_certs.sh did not produce $certs/$f"
    exit 1
  fi
done

export MEMKV_TEST_TLS_PORT_FILE="$workdir/tls-port"
export MEMKV_TEST_TLS_CA="$certs/ca.pem"
export MEMKV_TEST_TLS_ROGUE_CA="$certs/rogue-ca.pem"
export MEMKV_TEST_TLS_CERT_DIR_USED="$certs"  # client-<user>.pem/.key
# with_server.sh splits MEMKV_EXTRA_ARGS on whitespace and -o on commas: the
# paths must hold neither (mktemp's names do not).
case "$certs$workdir" in
  *[[:space:],]*)
    log "certificate path '$certs' or '$workdir' contains whitespace or a comma"
    exit 2
    ;;
esac
tls_args="--tls-port 0 --tls-port-file $MEMKV_TEST_TLS_PORT_FILE"
# Client certificates are asked for but optional (ssl_verify_mode=1): SDK
# users log in with passwords, and a certificate signed by the test CA logs
# in as the user its CN names (--tls-cert-auth).
tls_args+=" -o ssl_chain_cert=$certs/server.pem,ssl_key=$certs/server.key"
tls_args+=",ssl_ca_cert=$certs/ca.pem,ssl_verify_mode=1 --tls-cert-auth"
export MEMKV_EXTRA_ARGS="$tls_args${MEMKV_EXTRA_ARGS:+ $MEMKV_EXTRA_ARGS}"

# Not exec: the certificates are removed once the run ends. Run in the
# background so a signal to this script is handled at once.
rc=0
bash "$here/couchbase_env.sh" "$@" &
child=$!
wait "$child" || rc=$?
child=""
exit "$rc"

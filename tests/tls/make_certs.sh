#!/usr/bin/env bash
# Test certificates for the TLS tests, made fresh at test time (no key is
# committed): a CA, a server certificate with SANs for 127.0.0.1 and
# localhost (so clients that check hostnames pass), a second server
# certificate (reload tests tell them apart by subject), a client certificate
# per test user, and a client certificate from another CA (refused).
#
#   make_certs.sh DIR
#
# Files in DIR: ca.pem, server.pem (chain: leaf + CA), server.key, server2.pem,
# server2.key, client-<name>.pem/.key for name in app admin nobody, and
# rogue-ca.pem, rogue-client.pem/.key. EC P-256 keys: fast to make, and what
# most deployments use. Valid for 100 years so CI never sees them expire.
# Idempotent and safe to run concurrently (flock).
set -euo pipefail
dir=${1:?usage: make_certs.sh DIR}
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
[[ -f "$dir/.done" ]] && exit 0

days=36500
cd "$dir"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() { # name subject
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -sha256 -days $days -subj "$2" -out "$1.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
}
leaf() { # name subject ca ext...
  local name=$1 subject=$2 signer=$3
  shift 3
  key "$name.key"
  openssl req -new -key "$name.key" -subj "$subject" -out "$name.csr"
  printf '%s\n' "$@" > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA "$signer.pem" -CAkey "$signer.key" -CAcreateserial \
    -days $days -sha256 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

ca ca "/CN=memkv test CA"
ca rogue-ca "/CN=memkv rogue CA"
for s in server server2; do
  leaf "$s" "/CN=memkv test $s" ca "basicConstraints=CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" \
    "subjectAltName=IP:127.0.0.1,DNS:localhost"
  cat "$s.crt" ca.pem > "$s.pem"
  rm -f "$s.crt"
done
for u in app admin nobody; do
  leaf "client-$u" "/CN=$u" ca "basicConstraints=CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=clientAuth"
  mv "client-$u.crt" "client-$u.pem"
done
leaf rogue-client "/CN=app" rogue-ca "basicConstraints=CA:FALSE" \
  "keyUsage=critical,digitalSignature" "extendedKeyUsage=clientAuth"
mv rogue-client.crt rogue-client.pem
rm -f ./*.srl
touch .done

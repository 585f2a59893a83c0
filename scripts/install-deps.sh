#!/usr/bin/env bash
# Installs the Debian packages memkv needs to build, test and benchmark.
# Runs apt-get when root; otherwise prints the apt-get line and fails, so a
# newcomer sees exactly what is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libgtest-dev libgmock-dev libspdlog-dev libfmt-dev libssl-dev nlohmann-json3-dev
  clang clang-format libclang-rt-14-dev
  memcached libmemcached-tools
  # TLS tests (tests/tls): the openssl command (test certificates,
  # s_client) and gnutls-cli, a TLS client that is not OpenSSL.
  openssl gnutls-bin
  nodejs npm
  # Real-client tests (tests/clients): Debian 12's own memcached clients.
  python3-pymemcache php-cli php-memcached libcache-memcached-perl
  golang-go golang-github-bradfitz-gomemcache-dev ruby ruby-dalli nutcracker
  # TLS tests (tests/tls): stunnel wraps the plaintext-only libmemcached tools in TLS.
  stunnel4
  # DCP (issue 17): tshark decodes captured streams with its Couchbase dissector.
  tshark
  # Metrics (issue 15): the HTTP library behind /metrics, and a real
  # Prometheus server plus promtool for the scrape tests.
  libcpp-httplib-dev prometheus
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    # A newer node/npm installed outside Debian's packages serves as well.
    case "$p" in
      nodejs) command -v node >/dev/null 2>&1 && continue ;;
      npm) command -v npm >/dev/null 2>&1 && continue ;;
    esac
    missing+=("$p")
  fi
done

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Debian's memcached package starts a system service on 11211; memkv's
  # `make run` wants that port, and tests start their own memcached.
  if command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now memcached >/dev/null 2>&1 || true
  fi
  if [ -x /etc/init.d/memcached ]; then /etc/init.d/memcached stop >/dev/null 2>&1 || true; fi
  # Likewise Debian's prometheus package starts a server on 9090; tests start
  # their own on ephemeral ports.
  if command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
  if [ -x /etc/init.d/prometheus ]; then /etc/init.d/prometheus stop >/dev/null 2>&1 || true; fi
else
  echo "install-deps: missing Debian packages. Run:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

#!/usr/bin/env bash
# Builds and runs gomemcache_test.go against the server on 127.0.0.1:$PORT (run
# it under with_server.sh) with Debian's golang-go and Debian's 2014 snapshot of
# github.com/bradfitz/gomemcache (golang-github-bradfitz-gomemcache-dev), in
# GOPATH mode and without the network.
#
# Environment: GO_CACHE_DIR, a writable directory kept between runs for Go's
# build cache (CTest sets one under the build tree); a temporary one otherwise.
set -euo pipefail
: "${PORT:?PORT is not set; run this under with_server.sh}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
gocode=/usr/share/gocode
command -v go >/dev/null 2>&1 || { echo "gomemcache_test: go not found (apt-get install golang-go)" >&2; exit 2; }
[ -d "$gocode/src/github.com/bradfitz/gomemcache/memcache" ] ||
  { echo "gomemcache_test: gomemcache not found (apt-get install golang-github-bradfitz-gomemcache-dev)" >&2; exit 2; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/gomemcache-test.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
cache="${GO_CACHE_DIR:-$tmp/cache}"
mkdir -p "$cache" "$tmp/gopath"

# GOPATH mode: the first GOPATH entry is ours (writable), the second Debian's.
export GO111MODULE=off GOPATH="$tmp/gopath:$gocode" GOCACHE="$cache" \
  GOPROXY=off GOFLAGS='' GOTOOLCHAIN=local CGO_ENABLED=0 HOME="$tmp"
cp "$here/gomemcache_test.go" "$tmp/main.go"
# A cold build cache compiles the standard library too; both steps are bounded.
timeout -k 5 120 go build -o "$tmp/gomemcache_test" "$tmp/main.go"
timeout -k 5 60 "$tmp/gomemcache_test"

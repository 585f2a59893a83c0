#!/usr/bin/env bash
# Installs the npm packages the client tests need (memjs, memcached, couchbase) into
# tests/clients/node_modules, exactly the tree pinned by the committed
# package-lock.json, so every CI run installs the same packages.
# Nothing is installed globally. Idempotent: a no-op when the pinned versions
# are present.
# `make test` runs this before ctest.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

die() { echo "install.sh: ERROR: $*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || die "node not found in PATH (Node.js >= 18 required)"
command -v npm >/dev/null 2>&1 || die "npm not found in PATH"

# Every dependency in package.json must be pinned to an exact version and be
# installed at exactly that version; otherwise (re)install.
# shellcheck disable=SC2016  # the single-quoted text is JavaScript
if node -e '
  const fs = require("fs");
  const deps = require("./package.json").dependencies || {};
  for (const [name, want] of Object.entries(deps)) {
    if (!/^\d+\.\d+\.\d+$/.test(want)) {
      console.error(`install.sh: ${name}@${want} in package.json is not an exact version`);
      process.exit(2);
    }
    const pj = `node_modules/${name}/package.json`;
    if (!fs.existsSync(pj)) process.exit(1);
    if (JSON.parse(fs.readFileSync(pj, "utf8")).version !== want) process.exit(1);
  }
'; then
  exit 0
else
  rc=$?
  [ "$rc" -eq 1 ] || die "package.json check failed (exit $rc)"
fi

echo "install.sh: installing client-test npm packages into $here/node_modules"
# --ignore-scripts: the tests need no install hooks. The committed
# package-lock.json is the pin: `npm install` installs the versions it names and
# checks each package's integrity hash; --no-save keeps the lock untouched.
# Not `npm ci`: couchbase lists a Windows binary package as optional, the
# registry reachable here does not serve it, and `npm ci` refuses any lock
# without it. After changing package.json, refresh the lock with
# `npm install --package-lock-only` and commit both.
[ -f package-lock.json ] || die "package-lock.json is missing (it is committed with package.json)"
if ! npm install --no-save --no-audit --no-fund --ignore-scripts --loglevel=error; then
  die "npm install failed in $here"
fi

# Verify the result, so a half-finished install fails here and not in a test.
# shellcheck disable=SC2016
node -e '
  const deps = require("./package.json").dependencies || {};
  for (const [name, want] of Object.entries(deps)) {
    const got = require(`./node_modules/${name}/package.json`).version;
    if (got !== want) { console.error(`install.sh: ${name}: installed ${got}, want ${want}`); process.exit(1); }
  }
' || die "installed packages do not match package.json"
echo "install.sh: done"

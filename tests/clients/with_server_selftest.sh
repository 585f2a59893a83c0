#!/usr/bin/env bash
# with_server_selftest.sh: with_server.sh must fail a test whose server does not
# shut down cleanly, even when the client command itself passed. A stand-in
# server (fault injection: it listens and writes its port file like memkv, then
# misbehaves at SIGTERM in a chosen way) is run under with_server.sh with a
# client command that always passes.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/with-server-selftest.XXXXXX")"
trap 'rm -rf "$work"' EXIT

cat >"$work/server.py" <<'PY'
import os, signal, socket, sys, time
mode = os.environ["FAKE_MODE"]
port_file = sys.argv[sys.argv.index("--port-file") + 1]
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(port_file + ".tmp", port_file)
def on_term(*_):
    if mode == "clean":
        sys.exit(0)
    if mode == "exit3":  # e.g. a sanitizer report or a leak found at exit
        os._exit(3)
    # "hang": ignore it
signal.signal(signal.SIGTERM, on_term)
if mode == "die":  # dies while the client runs
    time.sleep(0.5)
    os._exit(7)
while True:
    time.sleep(0.05)
PY
printf '#!/bin/sh\nexec python3 "%s" "$@"\n' "$work/server.py" >"$work/fake-memkv"
chmod +x "$work/fake-memkv"

fails=0
expect() {  # expect MODE WANT(pass|fail) CLIENT...
  local mode="$1" want="$2" rc=0
  shift 2
  FAKE_MODE="$mode" MEMKV_TEST_TARGET=memkv MEMKV_BIN="$work/fake-memkv" SHUTDOWN_TIMEOUT=2 \
    bash "$here/with_server.sh" "$@" >"$work/out" 2>&1 || rc=$?
  if { [ "$want" = pass ] && [ "$rc" -ne 0 ]; } || { [ "$want" = fail ] && [ "$rc" -eq 0 ]; }; then
    echo "FAIL: server mode '$mode': with_server.sh exited $rc, wanted $want"
    sed 's/^/  | /' "$work/out"
    fails=$((fails + 1))
  else
    echo "ok: server mode '$mode': with_server.sh exited $rc ($want)"
  fi
}
expect clean pass true
expect clean fail false
expect exit3 fail true
expect hang fail true
expect die fail sleep 1.5
echo "$((5 - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]

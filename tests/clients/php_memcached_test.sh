#!/usr/bin/env bash
# php-memcached (Debian's php-cli + php-memcached) against the server on
# 127.0.0.1:$PORT (run it under with_server.sh):
#   1. php_memcached_test.php: Memcached objects over the ASCII protocol.
#   2. the binary-protocol session handler: one php run writes a session, a
#      second reads it back (and destroys it), a third sees it gone.
set -euo pipefail
: "${PORT:?PORT is not set; run this under with_server.sh}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v php >/dev/null 2>&1 || { echo "php_memcached_test: php not found (apt-get install php-cli php-memcached)" >&2; exit 2; }
php -r 'exit(extension_loaded("memcached") ? 0 : 1);' || { echo "php_memcached_test: the memcached extension is not loaded (apt-get install php-memcached)" >&2; exit 2; }

rc=0
timeout -k 5 40 php "$here/php_memcached_test.php" </dev/null || rc=1

session=(
  -d session.save_handler=memcached
  -d "session.save_path=127.0.0.1:$PORT"
  -d memcached.sess_binary_protocol=On
  -d memcached.sess_locking=On
  -d session.use_strict_mode=0
  -d session.use_cookies=0
)
id="memkvtest$RANDOM$RANDOM"
for step in write read check-absent; do
  if ! timeout -k 5 15 php "${session[@]}" "$here/php_memcached_session.php" "$step" "$id" </dev/null; then
    echo "php_memcached_test: FAIL: session step '$step'" >&2
    rc=1
    break
  fi
done
[ "$rc" -eq 0 ] && echo "php_memcached_test: PASS"
exit "$rc"

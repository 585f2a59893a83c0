<?php
// php_memcached_session.php write|read|check-absent SESSION_ID
// One half of the session-handler test (see php_memcached_test.sh): php-memcached's
// session handler, which speaks the binary protocol (memcached.sess_binary_protocol=On),
// writes a session in one php run and reads it back in another. The ini settings
// come from the command line. Exits 0 only if the step did what it should.

[$_, $mode, $id] = $argv + [null, null, null];
ini_get('session.save_handler') === 'memcached' or exit("session.save_handler is not memcached\n");
ini_get('memcached.sess_binary_protocol') === '1' or exit("sessions are not using the binary protocol\n");

$payload = ['user' => 'alice', 'n' => 42, 'list' => range(1, 500), 'blob' => str_repeat('s', 20000)];
session_id($id);
if (!session_start()) {
    exit("session_start failed\n");
}
switch ($mode) {
    case 'write':
        $_SESSION = $payload;
        if (!session_write_close()) {
            exit("session_write_close failed\n");
        }
        // The binary handler's item is visible over ASCII under its default prefix.
        $m = new Memcached();
        $m->addServer('127.0.0.1', (int) getenv('PORT'));
        $raw = $m->get('memc.sess.key.' . $id);
        if (!is_string($raw) || strpos($raw, 'alice') === false) {
            exit("session item not readable over ASCII: " . var_export($raw, true) . "\n");
        }
        echo "session $id written\n";
        exit(0);
    case 'read':
        if ($_SESSION !== $payload) {
            echo "session $id read back wrong: " . substr(var_export($_SESSION, true), 0, 300) . "\n";
            exit(1);
        }
        session_destroy();
        echo "session $id read back and destroyed\n";
        exit(0);
    case 'check-absent':
        if ($_SESSION !== []) {
            echo "destroyed session $id still has data\n";
            exit(1);
        }
        echo "session $id is gone\n";
        exit(0);
}
exit("usage: php_memcached_session.php write|read|check-absent SESSION_ID\n");

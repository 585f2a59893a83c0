<?php
// Debian's php-memcached (3.2.0 on libmemcached 1.1.4) through php-cli against
// the server on 127.0.0.1:$PORT (run it under with_server.sh; see
// php_memcached_test.sh, which also runs the session-handler half).
//
// Memcached objects speak the ASCII protocol by default, which is what this
// file exercises. Every expectation was verified against memcached 1.6.18:
//   MEMKV_TEST_TARGET=memcached bash tests/clients/with_server.sh \
//       bash tests/clients/php_memcached_test.sh
// Exits 0 only if every check passed.

$port = (int) getenv('PORT');
$failures = 0;

function check(string $name, $got, $want): void
{
    global $failures;
    if ($got === $want) {
        echo "ok   $name\n";
        return;
    }
    $failures++;
    echo "FAIL $name: got " . var_export($got, true) . ", want " . var_export($want, true) . "\n";
}

function client(int $port): Memcached
{
    $m = new Memcached();
    // Bounded: every call gives up after a few seconds instead of hanging.
    $m->setOptions([
        Memcached::OPT_BINARY_PROTOCOL => false,
        Memcached::OPT_CONNECT_TIMEOUT => 5000,
        Memcached::OPT_POLL_TIMEOUT => 5000,
        Memcached::OPT_RECV_TIMEOUT => 5000000,
        Memcached::OPT_SEND_TIMEOUT => 5000000,
    ]);
    $m->addServer('127.0.0.1', $port);
    return $m;
}

$m = client($port);
check('ASCII protocol in use', (bool) $m->getOption(Memcached::OPT_BINARY_PROTOCOL), false);

// set / get / getMulti of 1,000+ keys with distinct values.
$want = [];
for ($i = 0; $i < 1200; $i++) {
    $want[sprintf('multi:%05d', $i)] = str_repeat("v$i-", 1 + $i % 13);
}
$stored = 0;
foreach ($want as $k => $v) {
    $stored += $m->set($k, $v) ? 1 : 0;
}
check('1,200 sets', $stored, 1200);
check('get one', $m->get('multi:00042'), $want['multi:00042']);
$got = $m->getMulti(array_merge(array_keys($want), ['multi:absent-1', 'multi:absent-2']));
check('getMulti returns exactly the stored keys', count($got), 1200);
$same = 0;
foreach ($want as $k => $v) {
    $same += (isset($got[$k]) && $got[$k] === $v) ? 1 : 0;
}
check('getMulti values all match', $same, 1200);
check('getMulti result code', $m->getResultCode(), Memcached::RES_SUCCESS);

// Flags carry php-memcached's type: arrays/objects serialized, ints, floats and
// bools typed. A server that loses the flags hands back strings.
$values = [
    'type:array' => ['a' => 1, 'b' => [2, 3], 'c' => 'x'],
    'type:int' => 1234567,
    'type:negint' => -42,
    'type:float' => 3.25,
    'type:true' => true,
    'type:false' => false,
    'type:string' => '1234567',
    'type:object' => (object) ['p' => 'q'],
];
foreach ($values as $k => $v) {
    $m->set($k, $v);
}
foreach ($values as $k => $v) {
    $got = $m->get($k);
    check("flags round-trip $k", is_object($v) ? (array) $got : $got, is_object($v) ? (array) $v : $v);
}

// Misses and result codes.
check('get miss returns false', $m->get('absent'), false);
check('result code after a miss', $m->getResultCode(), Memcached::RES_NOTFOUND);
check('get hit after a miss', $m->get('type:int'), 1234567);
check('result code after a hit', $m->getResultCode(), Memcached::RES_SUCCESS);
$m->delete('st:k');
check('add new', $m->add('st:k', 'mid'), true);
check('add existing', $m->add('st:k', 'other'), false);
check('result code after add existing', $m->getResultCode(), Memcached::RES_NOTSTORED);
check('replace existing', $m->replace('st:k', 'MID'), true);
check('replace missing', $m->replace('st:absent', 'x'), false);
check('result code after replace missing', $m->getResultCode(), Memcached::RES_NOTSTORED);
// append/prepend need compression off (php-memcached refuses them otherwise).
$m->setOption(Memcached::OPT_COMPRESSION, false);
check('append', $m->append('st:k', '>>'), true);
check('prepend', $m->prepend('st:k', '<<'), true);
check('value after append+prepend', $m->get('st:k'), '<<MID>>');
check('append missing', $m->append('st:absent', 'x'), false);
check('result code after append missing', $m->getResultCode(), Memcached::RES_NOTSTORED);

// cas.
$m->set('cas:k', 'one');
$e = $m->get('cas:k', null, Memcached::GET_EXTENDED);
check('get extended value', $e['value'], 'one');
check('get extended cas is a positive number', is_numeric($e['cas']) && $e['cas'] > 0, true);
check('cas with current token', $m->cas($e['cas'], 'cas:k', 'two'), true);
check('cas with stale token', $m->cas($e['cas'], 'cas:k', 'three'), false);
check('result code after stale cas', $m->getResultCode(), Memcached::RES_DATA_EXISTS);
check('value after stale cas', $m->get('cas:k'), 'two');
check('cas on a missing key', $m->cas($e['cas'], 'cas:absent', 'x'), false);
check('result code after cas on missing key', $m->getResultCode(), Memcached::RES_NOTFOUND);
$multi = $m->getMulti(['cas:k', 'multi:00001'], Memcached::GET_EXTENDED);
check('getMulti extended carries cas', is_numeric($multi['cas:k']['cas']) && $multi['cas:k']['cas'] > 0, true);

// increment / decrement (ASCII: no initial value).
$m->set('ctr', '10');
check('increment', $m->increment('ctr', 5), 15);
check('decrement', $m->decrement('ctr', 3), 12);
check('decrement floors at 0', $m->decrement('ctr', 100), 0);
$m->set('ctr', '18446744073709551615');
check('increment wraps at 2^64', $m->increment('ctr', 2), 1);
check('increment missing', $m->increment('ctr:absent', 1), false);
check('result code after increment missing', $m->getResultCode(), Memcached::RES_NOTFOUND);
$m->set('ctr:text', 'abc');
check('increment non-numeric', $m->increment('ctr:text', 1), false);
check('result code after increment non-numeric', $m->getResultCode(), Memcached::RES_CLIENT_ERROR);
check('connection works after CLIENT_ERROR', $m->get('ctr:text'), 'abc');

// delete.
check('delete existing', $m->delete('st:k'), true);
check('delete missing', $m->delete('st:k'), false);
check('result code after delete missing', $m->getResultCode(), Memcached::RES_NOTFOUND);
check('get after delete', $m->get('st:k'), false);

// touch.
$m->set('touch:k', 't');
check('touch existing', $m->touch('touch:k', 100), true);
check('touch missing', $m->touch('touch:absent', 100), false);
check('result code after touch missing', $m->getResultCode(), Memcached::RES_NOTFOUND);

// Large values (compression off so the bytes reach the server as they are):
// 1 MiB minus memcached's item overhead (48 + 8 + key + 1 + 2) stores; 1 MiB + 1
// is refused (SERVER_ERROR object too large for cache) and drops the old value.
$key = 'large:value';
$big = '';
for ($i = 0; strlen($big) < 1048576; $i++) {
    $big .= md5((string) $i, true);
}
$big = substr($big, 0, 1048576 - 48 - 8 - strlen($key) - 1 - 2);
check('set 1 MiB minus overhead', $m->set($key, $big), true);
check('get 1 MiB minus overhead', $m->get($key) === $big, true);
$m->set('large:old', 'old');
check('set 1 MiB + 1 fails', $m->set('large:old', str_repeat('z', 1048577)), false);
check('result code after too large', $m->getResultCode(), Memcached::RES_E2BIG);
check('connection works after too large', $m->get($key) === $big, true);
check('too large set dropped the old value', $m->get('large:old'), false);

// stats and version.
$stats = $m->getStats();
$s = $stats["127.0.0.1:$port"] ?? [];
foreach (['pid', 'uptime', 'curr_items', 'total_items', 'cmd_get', 'cmd_set', 'get_hits', 'get_misses'] as $name) {
    check("stats has $name", isset($s[$name]) && is_int($s[$name]), true);
}
$ver = $m->getVersion()["127.0.0.1:$port"] ?? '';
check('version is 1.6.x', preg_match('/^1\.6\.\d+$/', $ver), 1);

// setMulti / deleteMulti / getDelayed + fetchAll over ASCII.
$batch = [];
for ($i = 0; $i < 1000; $i++) {
    $batch["batch:$i"] = "b$i";
}
check('setMulti 1,000', $m->setMulti($batch), true);
check('getDelayed', $m->getDelayed(array_keys($batch)), true);
$fetched = [];
foreach ($m->fetchAll() ?: [] as $row) {
    $fetched[$row['key']] = $row['value'];
}
ksort($fetched);
ksort($batch);
check('fetchAll returns the 1,000 values', $fetched === $batch, true);
$del = $m->deleteMulti(array_merge(array_keys($batch), ['batch:absent']));
check('deleteMulti: all present keys deleted', count(array_filter($del, fn($r) => $r === true)), 1000);
check('deleteMulti: the missing key reports NOTFOUND', $del['batch:absent'], Memcached::RES_NOTFOUND);
check('getMulti after deleteMulti', $m->getMulti(array_keys($batch)), []);

// A binary-protocol Memcached object on the same server: what only binary offers
// (increment with an initial value), and items shared with the ASCII object.
$b = client($port);
$b->setOption(Memcached::OPT_BINARY_PROTOCOL, true);
check('binary: get of an ASCII-stored value', $b->get('type:array'), $values['type:array']);
check('binary: increment with initial value creates', $b->increment('bin:ctr', 5, 100), 100);
check('binary: increment existing', $b->increment('bin:ctr', 5, 100), 105);
check('binary: decrement with initial value on existing', $b->decrement('bin:ctr', 200, 7), 0);
// The decrement from 105 to 0 happened in place: padded with spaces to the old width.
check('ASCII: reads the binary counter', $m->get('bin:ctr'), '0  ');
check('binary: set', $b->set('bin:k', ['from' => 'binary']), true);
check('ASCII: reads the binary item with its flags', $m->get('bin:k'), ['from' => 'binary']);
check('binary: get miss', $b->get('bin:absent'), false);
check('binary: result code after miss', $b->getResultCode(), Memcached::RES_NOTFOUND);

// OPT_NOREPLY: stores, deletes and flush go out with " noreply" (flush as
// "flush_all  noreply", two spaces). A get on the same connection orders them
// before the checks made over the other connection.
$n = client($port);
$n->setOption(Memcached::OPT_NOREPLY, true);
$n->setOption(Memcached::OPT_COMPRESSION, false);
check('noreply set', $n->set('nr:a', 'one'), true);
check('noreply set 2', $n->set('nr:b', 'two'), true);
check('noreply delete', $n->delete('nr:b'), true);
check('noreply append', $n->append('nr:a', '+'), true);
$n->get('nr:sync');
check('after noreply set+append', $m->get('nr:a'), 'one+');
check('after noreply delete', $m->get('nr:b'), false);
check('noreply flush', $n->flush(), true);
$n->get('nr:sync');
check('after noreply flush', $m->get('nr:a'), false);
check('ASCII connection fine after noreply traffic', $n->set('nr:c', 'c'), true);
$n->get('nr:sync');
check('get after noreply traffic', $m->get('nr:c'), 'c');

// flush (libmemcached sends "flush_all " with a trailing space).
check('flush', $m->flush(), true);
check('get after flush', $m->get('multi:00001'), false);
check('getMulti after flush', $m->getMulti(['multi:00001', 'multi:00002']), []);
check('set after flush', $m->set('after:flush', 'x'), true);
check('get after flush+set', $m->get('after:flush'), 'x');

echo "php_memcached_test: $failures failure(s)\n";
exit($failures === 0 ? 0 : 1);

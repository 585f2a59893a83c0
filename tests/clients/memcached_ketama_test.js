'use strict';
// Real-client test: the npm `memcached` package (3rd-Eden; text protocol, keys
// spread by its ketama-compatible HashRing, md5) against three independent
// servers, 127.0.0.1:$SHARD_PORTS ("A,B,C"). Run it under three_servers.sh;
// needs install.sh first. Every expectation was verified against memcached 1.6.18:
//
//   MEMKV_TEST_TARGET=memcached bash tests/clients/with_server.sh bash \
//       tests/clients/three_servers.sh node tests/clients/memcached_ketama_test.js
//
// 3,000 keys with verified values; each server holds a share (its STAT
// curr_items, and direct reads of every key, match the ring's choice); a new
// client with the servers listed in another order routes every key the same
// way. Then server C ($SHARD_VICTIM_PID) is killed: with `failures: 1`,
// `retry: 300` and `remove: true` the client (lib/connection.js IssueLog) marks
// C failed at the first connection error (requests for its keys fail fast with
// "Server at ... not available"), tries once more after `retry` ms, and at that
// second error emits `remove` and drops C from the ring: C's keys then map to
// A and B, read as misses and refill, while A's and B's keys keep their place.

const path = require('node:path');
const assert = require('node:assert/strict');

const GLOBAL_TIMEOUT_MS = 50000;
const N = 3000;
const BATCH = 100; // requests in flight at once

const globalTimer = setTimeout(() => {
  console.error(`memcached_ketama_test: FAIL: global timeout of ${GLOBAL_TIMEOUT_MS} ms exceeded`);
  process.exit(1);
}, GLOBAL_TIMEOUT_MS);
globalTimer.unref();

const ports = (process.env.SHARD_PORTS || '').split(',').map(Number);
const victimPid = Number(process.env.SHARD_VICTIM_PID);
if (ports.length !== 3 || !ports.every((p) => p > 0 && p < 65536) || !(victimPid > 0)) {
  console.error('memcached_ketama_test: SHARD_PORTS/SHARD_VICTIM_PID not set; run this under three_servers.sh');
  process.exit(2);
}

let Memcached;
try {
  Memcached = require(path.join(__dirname, 'node_modules', 'memcached'));
} catch (e) {
  console.error(`memcached_ketama_test: cannot load memcached (${e.message}); run tests/clients/install.sh`);
  process.exit(2);
}

const servers = ports.map((p) => `127.0.0.1:${p}`);
const [A, B, C] = servers;
// Small timeouts so a dead server costs milliseconds. retries: the pool
// (jackpot) answers "The connection pool is full" while its first connections
// are still opening, and retries the allocation after minTimeout ms.
// reconnect: the client would ping(8) a removed server after this long; longer
// than the test.
const OPTIONS = {
  timeout: 2000, idle: 5000, poolSize: 4,
  retries: 3, minTimeout: 50, maxTimeout: 100,
  failures: 1, retry: 300, remove: true, reconnect: 600000, failuresTimeout: 60000,
};

const call = (client, method, ...args) => new Promise((resolve, reject) => {
  client[method](...args, (err, value) => (err ? reject(err) : resolve(value)));
});

async function inBatches(items, fn) {
  const out = [];
  for (let i = 0; i < items.length; i += BATCH) {
    out.push(...(await Promise.all(items.slice(i, i + BATCH).map(fn))));
  }
  return out;
}

async function getAll(client, keys) {
  const got = {};
  for (let i = 0; i < keys.length; i += BATCH) {
    Object.assign(got, await call(client, 'getMulti', keys.slice(i, i + BATCH)));
  }
  return got;
}

async function currItems(server) {
  const c = new Memcached(server, OPTIONS);
  try {
    const [stats] = await call(c, 'stats');
    return Number(stats.curr_items);
  } finally {
    c.end();
  }
}

// Keys found on `server` by a client that knows only that server.
async function keysOn(server, keys) {
  const c = new Memcached(server, OPTIONS);
  try {
    return await getAll(c, keys);
  } finally {
    c.end();
  }
}

// got must hold exactly expected's keys and values; a failure names the first
// few wrong keys instead of printing thousands of values.
function sameValues(got, expected, what) {
  const missing = Object.keys(expected).filter((k) => !(k in got));
  const wrong = Object.keys(expected).filter((k) => k in got && got[k] !== expected[k]);
  const extra = Object.keys(got).filter((k) => !(k in expected));
  if (missing.length || wrong.length || extra.length) {
    const first = (a) => `${a.length} ${JSON.stringify(a.slice(0, 3))}`;
    assert.fail(`${what}: missing ${first(missing)}, wrong value ${first(wrong)}, unexpected ${first(extra)}`);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The client never calls back a request written to a connection that then
// closes (lib/memcached.js fails no queued request on 'close' or 'error'), so
// every request after the kill is raced against a timer.
function bounded(promise, ms) {
  let timer;
  const expiry = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, expiry]).finally(() => clearTimeout(timer));
}

// True once nothing accepts connections on 127.0.0.1:port.
function refused(port) {
  return new Promise((resolve) => {
    const s = require('node:net').connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(false); });
    s.on('error', () => resolve(true));
  });
}
let passed = 0;
function ok(name) { passed++; console.log(`ok   ${name}`); }

async function main() {
  const keys = Array.from({ length: N }, (_, i) => `ketama:${String(i).padStart(5, '0')}`);
  // Different lengths and contents per key, up to ~2 KB.
  const want = Object.fromEntries(keys.map((k, i) => [k, `${i}:${k}|`.repeat(1 + (i % 97))]));

  for (const s of servers) assert.equal(await currItems(s), 0, `${s} starts empty`);
  ok('the three servers start empty');

  let client = new Memcached(servers, OPTIONS);
  const stored = await inBatches(keys, (k) => call(client, 'set', k, want[k], 0));
  assert.equal(stored.filter((r) => r === true).length, N);
  ok(`${N} sets through the ring`);
  const singles = await inBatches(keys, (k) => call(client, 'get', k));
  sameValues(Object.fromEntries(keys.map((k, i) => [k, singles[i]]).filter(([, v]) => v !== undefined)),
             want, 'single gets');
  ok(`${N} single gets return the values set`);
  sameValues(await getAll(client, keys), want, 'multi-gets');
  ok(`${N} keys read back with multi-gets (split per server by the client)`);

  // Where the ring put each key, and where the keys really are.
  const route = Object.fromEntries(keys.map((k) => [k, client.HashRing.get(k)]));
  const stats = await call(client, 'stats');
  const items = Object.fromEntries(stats.map((s) => [s.server, Number(s.curr_items)]));
  console.log(`     curr_items: ${JSON.stringify(items)}`);
  for (const s of servers) assert.ok(items[s] > N / 10, `${s} holds a share: ${items[s]}`);
  assert.equal(items[A] + items[B] + items[C], N);
  ok(`each server holds a share (STAT curr_items), ${N} in total`);
  const direct = {};
  for (const s of servers) {
    direct[s] = await keysOn(s, keys);
    const expected = keys.filter((k) => route[k] === s);
    assert.equal(expected.length, items[s]);
    sameValues(direct[s], Object.fromEntries(expected.map((k) => [k, want[k]])), `values on ${s}`);
  }
  ok('each key is on the server the ring names, with its value, and nowhere else');

  // A new client, servers listed in another order: same ring, same values.
  client.end();
  client = new Memcached([C, A, B], OPTIONS);
  const rerouted = keys.filter((k) => client.HashRing.get(k) !== route[k]);
  assert.equal(rerouted.length, 0, `keys the new client routes elsewhere: ${rerouted.slice(0, 3)}`);
  sameValues(await getAll(client, keys), want, 'multi-gets by a new client');
  ok('a new client (servers in another order) routes every key the same way');

  // Kill C as a crash would.
  const events = [];
  for (const e of ['issue', 'failure', 'remove']) {
    client.on(e, (d) => events.push(`${e} ${d.server}`));
  }
  process.kill(victimPid, 'SIGKILL');
  let dead = false;
  for (let i = 0; i < 100 && !(dead = await refused(ports[2])); i++) await sleep(50);
  assert.ok(dead, 'C stops accepting connections within 5 s of SIGKILL');
  await sleep(200); // lets the client see its connections to C close
  const onC = keys.filter((k) => route[k] === C);
  const onAB = keys.filter((k) => route[k] !== C);
  const probe = onC[0];
  const started = Date.now();
  const errors = [];
  let missed = false;
  for (let i = 0; i < 100 && Date.now() - started < 10000 && !missed; i++) {
    try {
      missed = (await bounded(call(client, 'get', probe), 1000)) === undefined;
    } catch (e) {
      errors.push(e.message);
      await sleep(50);
    }
  }
  console.log(`     after the kill: ${errors.length} errors, then a miss after ${Date.now() - started} ms; ` +
              `events: ${JSON.stringify(events)}; first errors: ${JSON.stringify([...new Set(errors)].slice(0, 3))}`);
  assert.ok(missed, 'a key of C reads as a miss once C is removed');
  assert.ok(errors.length >= 1, 'requests for C fail until it is removed');
  assert.ok(events.includes(`issue ${C}`) && events.includes(`remove ${C}`), 'issue and remove events for C');
  assert.ok(!events.some((e) => !e.endsWith(C)), 'no event for A or B');
  ok('after the kill, C fails, is removed from the ring, and its keys read as misses');

  assert.notEqual(client.HashRing.get(probe), C);
  const moved = onAB.filter((k) => client.HashRing.get(k) !== route[k]);
  assert.equal(moved.length, 0, `keys of A or B the ring moved: ${moved.slice(0, 3)}`);
  const got = await getAll(client, keys);
  // Exactly A's and B's keys: C's keys are misses.
  sameValues(got, Object.fromEntries(onAB.map((k) => [k, want[k]])), 'multi-gets after the removal');
  ok(`A's and B's ${onAB.length} keys keep their server and value; C's ${onC.length} keys are misses`);

  const refilled = await inBatches(onC, (k) => call(client, 'set', k, want[k], 0));
  assert.equal(refilled.filter((r) => r === true).length, onC.length);
  sameValues(await getAll(client, keys), want, 'multi-gets after the refill');
  const left = [await currItems(A), await currItems(B)];
  console.log(`     curr_items of A and B after the refill: ${left}`);
  assert.equal(left[0] + left[1], N);
  assert.ok(left[0] > items[A] && left[1] > items[B], 'C\'s keys were split over A and B');
  ok(`C's keys refill on A and B: all ${N} keys read back`);

  assert.equal(await call(client, 'del', onC[1]), true);
  assert.equal(await call(client, 'add', onC[1], 'again', 0), true);
  assert.equal(await call(client, 'get', onC[1]), 'again');
  ok('delete and add keep working with C gone');
  client.end();
}

const t0 = Date.now();
main().then(() => {
  console.log(`memcached_ketama_test: ${passed} checks passed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  process.exit(0);
}, (e) => {
  console.error(`memcached_ketama_test: FAIL after ${passed} passed checks: ${e.stack || e}`);
  process.exit(1);
});

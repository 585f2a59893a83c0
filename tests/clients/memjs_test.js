'use strict';
// Real-client test: the memjs npm package (binary protocol) against the server
// on 127.0.0.1:$PORT. Run it under with_server.sh; needs install.sh first.
//
//   MEMKV_TEST_TARGET=memcached bash tests/clients/with_server.sh node tests/clients/memjs_test.js
//
// Every value written is read back and compared byte for byte. memjs keeps one
// connection per server and pipelines requests on it, and matches responses to
// requests by the opaque field, so this also checks that the server echoes
// opaque and answers pipelined requests in order.

// Note: memjs 1.3.2's promise form of decrement() needs an explicit options object.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const GLOBAL_TIMEOUT_MS = Number(process.env.MEMJS_TEST_TIMEOUT_MS || 60000);
const N_KEYS = 1000;
const CONCURRENCY = 64; // requests in flight on the connection at once
// Value sizes cycled over the N_KEYS keys; includes 0 and 100 KiB.
const SIZES = [0, 1, 7, 100, 1000, 1024, 4096, 16 * 1024, 65535, 100 * 1024];

// A hung server must fail the test, not hang CTest until its own timeout.
const globalTimer = setTimeout(() => {
  console.error(`memjs_test: FAIL: global timeout of ${GLOBAL_TIMEOUT_MS} ms exceeded`);
  process.exit(1);
}, GLOBAL_TIMEOUT_MS);
globalTimer.unref();

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('memjs_test: PORT is not set; run this under with_server.sh');
  process.exit(2);
}

let memjs;
try {
  memjs = require(path.join(__dirname, 'node_modules', 'memjs'));
} catch (e) {
  console.error(`memjs_test: cannot load memjs (${e.message}); run tests/clients/install.sh`);
  process.exit(2);
}

// Errors memjs logs (it logs, then rejects); shown to explain a failure.
const clientLog = [];
const logger = { log: (...args) => clientLog.push(args.join(' ')) };

// Unique per run, so no key can collide with anything else on the server.
const PREFIX = `memjs:${process.pid}:${Date.now().toString(36)}:`;

// Deterministic, key-specific binary content (all 256 byte values occur,
// including \0, \r and \n). xorshift32 seeded from the key index and a salt.
function valueFor(i, size, salt = 0) {
  const buf = Buffer.alloc(size);
  let x = (Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(salt + 1, 0x85ebca6b)) >>> 0 || 1;
  for (let j = 0; j < size; j++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    buf[j] = x & 0xff;
  }
  // Embed the key index so two keys never share content, even tiny ones.
  const tag = Buffer.from(`#${i}/${salt}#`);
  tag.copy(buf, 0, 0, Math.min(tag.length, size));
  return buf;
}

function keyFor(kind, i) {
  // Some keys use the 250-byte maximum key length.
  const base = `${PREFIX}${kind}:${i}`;
  return i % 97 === 0 ? (base + ':').padEnd(250, 'k') : base;
}

// Runs fn(i) for i in [0, n) with at most CONCURRENCY calls in flight.
async function forAll(n, fn) {
  let next = 0;
  async function worker() {
    while (next < n) {
      const i = next++;
      await fn(i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, n) }, worker));
}

// A counter's value as text. memcached rewrites a shrinking counter in place,
// padded with trailing spaces ("0   " after decrementing 1002 to 0); accept both.
function counterText(buf) {
  return buf.toString('latin1').replace(/ +$/, '');
}

function describeBuf(b) {
  if (b === null || b === undefined) return String(b);
  return `Buffer(len=${b.length}, head=${b.subarray(0, 16).toString('hex')})`;
}

function assertSameBytes(actual, expected, what) {
  assert.ok(Buffer.isBuffer(actual), `${what}: expected a Buffer, got ${describeBuf(actual)}`);
  if (!actual.equals(expected)) {
    let at = 0;
    while (at < Math.min(actual.length, expected.length) && actual[at] === expected[at]) at++;
    assert.fail(`${what}: value differs: got ${describeBuf(actual)}, want ${describeBuf(expected)}, ` +
                `first difference at byte ${at}`);
  }
}

async function rejectsWith(promise, re, what) {
  let err = null;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `${what}: expected an error matching ${re}, but the call succeeded`);
  assert.match(err.message, re, `${what}: unexpected error`);
}

describe('memjs against the server', { timeout: GLOBAL_TIMEOUT_MS }, () => {
  let client;

  before(() => {
    client = memjs.Client.create(`127.0.0.1:${port}`, {
      retries: 1,      // no silent retries: a dropped request must fail the test
      timeout: 10,     // seconds per request
      conntimeout: 10,
      logger,
    });
  });

  after(() => {
    if (client) client.close();
    if (clientLog.length) {
      // The error-path tests make memjs log 3 messages; more means trouble.
      console.error(`memjs_test: memjs client log (${clientLog.length} message(s)):`);
      for (const m of clientLog.slice(0, 20)) console.error(`  ${m}`);
    }
  });

  it('answers a first get on a missing key with null', async () => {
    const r = await client.get(`${PREFIX}never-set`);
    assert.equal(r.value, null);
  });

  it(`sets and reads back ${N_KEYS} keys with unique values of sizes ${SIZES.join(',')}`, async () => {
    await forAll(N_KEYS, async (i) => {
      const ok = await client.set(keyFor('kv', i), valueFor(i, SIZES[i % SIZES.length]));
      assert.equal(ok, true, `set ${keyFor('kv', i)}`);
    });
    await forAll(N_KEYS, async (i) => {
      const key = keyFor('kv', i);
      const r = await client.get(key);
      assert.notEqual(r.value, null, `get ${key}: key missing after set`);
      assertSameBytes(r.value, valueFor(i, SIZES[i % SIZES.length]), `get ${key}`);
      // memjs sends flags 0 on set; the server must return them unchanged.
      assertSameBytes(r.flags, Buffer.alloc(4), `flags of ${key}`);
    });
  });

  it(`overwrites ${N_KEYS} keys with values of a different size and reads them back`, async () => {
    const size = (i) => SIZES[(i + 3) % SIZES.length];
    await forAll(N_KEYS, async (i) => {
      assert.equal(await client.set(keyFor('kv', i), valueFor(i, size(i), 1)), true);
    });
    await forAll(N_KEYS, async (i) => {
      const key = keyFor('kv', i);
      const r = await client.get(key);
      assert.notEqual(r.value, null, `get ${key}: key missing after overwrite`);
      assertSameBytes(r.value, valueFor(i, size(i), 1), `get ${key} after overwrite`);
    });
  });

  it('stores and returns large values (100 KiB, 512 KiB) intact', async () => {
    for (const [n, size] of [[0, 100 * 1024], [1, 100 * 1024 + 1], [2, 512 * 1024]]) {
      const key = keyFor('large', n);
      const v = valueFor(n, size, 7);
      assert.equal(await client.set(key, v), true, `set ${key} (${size} bytes)`);
      assertSameBytes((await client.get(key)).value, v, `get ${key} (${size} bytes)`);
    }
  });

  it(`increments ${N_KEYS} counters, creating them from their initial value`, async () => {
    const amount = (i) => (i % 13) + 1;
    const initial = (i) => i * 3;
    // Missing key + initial: the counter is created holding `initial`; the
    // amount is not added on creation.
    await forAll(N_KEYS, async (i) => {
      const key = keyFor('ctr', i);
      const r = await client.increment(key, amount(i), { initial: initial(i) });
      assert.equal(r.success, true, `increment ${key} (create)`);
      assert.equal(r.value, initial(i), `increment ${key} (create) returns the initial value`);
    });
    // Existing key: the amount is added, twice.
    await forAll(N_KEYS, async (i) => {
      const key = keyFor('ctr', i);
      let r = await client.increment(key, amount(i), { initial: 999999 });
      assert.equal(r.value, initial(i) + amount(i), `increment ${key} #1`);
      r = await client.increment(key, amount(i));
      assert.equal(r.value, initial(i) + 2 * amount(i), `increment ${key} #2`);
    });
    // A counter reads back as its decimal ASCII representation.
    await forAll(N_KEYS, async (i) => {
      const key = keyFor('ctr', i);
      const r = await client.get(key);
      assert.notEqual(r.value, null, `get ${key}: counter missing`);
      assert.equal(counterText(r.value), String(initial(i) + 2 * amount(i)), `get ${key}`);
    });
  });

  it('increments and decrements values that were set as decimal strings', async () => {
    await forAll(200, async (i) => {
      const key = keyFor('num', i);
      const start = 1000 + i * 17;
      assert.equal(await client.set(key, String(start)), true);
      let r = await client.increment(key, 5);
      assert.equal(r.value, start + 5, `increment ${key}`);
      r = await client.decrement(key, 3, {});
      assert.equal(r.value, start + 2, `decrement ${key}`);
      // Decrement saturates at 0 instead of going negative.
      r = await client.decrement(key, start + 1000, {});
      assert.equal(r.value, 0, `decrement ${key} below zero`);
      const got = (await client.get(key)).value;
      assert.notEqual(got, null, `get ${key}: counter missing`);
      assert.equal(counterText(got), '0', `get ${key} after underflow`);
      r = await client.increment(key, 4294967295);
      assert.equal(r.value, 4294967295, `increment ${key} by 2^32-1`);
    });
  });

  it('rejects increment on a non-numeric value and leaves the value alone', async () => {
    const key = keyFor('nan', 0);
    const v = Buffer.from('not a number');
    assert.equal(await client.set(key, v), true);
    await rejectsWith(client.increment(key, 1), /non-numeric/i, `increment ${key}`);
    await rejectsWith(client.decrement(key, 1, {}), /non-numeric/i, `decrement ${key}`);
    assertSameBytes((await client.get(key)).value, v, `get ${key}`);
  });

  it('does not create a missing counter when expiration is 0xffffffff', async () => {
    const key = keyFor('nocreate', 0);
    await rejectsWith(client.increment(key, 1, { initial: 5, expires: 0xffffffff }),
                      /not found/i, `increment ${key}`);
    assert.equal((await client.get(key)).value, null, `get ${key}: must not have been created`);
  });

  it(`deletes ${N_KEYS * 2} keys, after which get returns null and delete returns false`, async () => {
    const keys = [];
    for (let i = 0; i < N_KEYS; i++) keys.push(keyFor('kv', i), keyFor('ctr', i));
    await forAll(keys.length, async (i) => {
      assert.equal(await client.delete(keys[i]), true, `delete ${keys[i]}`);
    });
    await forAll(keys.length, async (i) => {
      const r = await client.get(keys[i]);
      assert.equal(r.value, null, `get ${keys[i]} after delete returned ${describeBuf(r.value)}`);
    });
    await forAll(keys.length, async (i) => {
      assert.equal(await client.delete(keys[i]), false, `second delete of ${keys[i]}`);
    });
  });

  it('can set a deleted key again', async () => {
    const key = keyFor('kv', 5);
    const v = valueFor(5, 333, 9);
    assert.equal(await client.set(key, v), true);
    assertSameBytes((await client.get(key)).value, v, `get ${key}`);
  });
});

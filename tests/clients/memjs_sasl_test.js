'use strict';
// Real-client test: memjs (binary protocol, SASL PLAIN when given credentials)
// against a server that requires authentication. Run it under couchbase_env.sh,
// which starts the server with a users file and exports the test users; needs
// install.sh first.
//
//   MEMKV_BIN=build/release/memkv bash tests/clients/couchbase_env.sh node tests/clients/memjs_sasl_test.js
//
// memjs sends SASL_LIST_MECHS, then SASL_AUTH PLAIN "\0user\0password", and
// queues every request until the AUTH reply arrives. It treats reply status
// 0x20 (AUTH_ERROR) as failure and any other AUTH reply as success. It never
// sends HELLO or SELECT_BUCKET, and always sends vbucket 0.

const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const GLOBAL_TIMEOUT_MS = Number(process.env.MEMJS_TEST_TIMEOUT_MS || 45000);
const N_KEYS = 100;
const CONCURRENCY = 20;

const globalTimer = setTimeout(() => {
  console.error(`memjs_sasl_test: FAIL: global timeout of ${GLOBAL_TIMEOUT_MS} ms exceeded`);
  process.exit(1);
}, GLOBAL_TIMEOUT_MS);
globalTimer.unref();

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('memjs_sasl_test: PORT is not set; run this under couchbase_env.sh');
  process.exit(2);
}
function requireEnv(name) {
  const v = process.env[name];
  if (v === undefined || v === '') {
    console.error(`memjs_sasl_test: ${name} is not set; run this under couchbase_env.sh`);
    process.exit(2);
  }
  return v;
}
const APP = { username: requireEnv('MEMKV_TEST_APP_USER'), password: requireEnv('MEMKV_TEST_APP_PASSWORD') };
const OTHER = { username: requireEnv('MEMKV_TEST_OTHER_USER'), password: requireEnv('MEMKV_TEST_OTHER_PASSWORD') };

// memjs falls back to these for credentials; a client created without
// credentials must really have none.
for (const v of ['MEMCACHIER_USERNAME', 'MEMCACHIER_PASSWORD', 'MEMCACHE_USERNAME', 'MEMCACHE_PASSWORD']) {
  delete process.env[v];
}

let memjs;
try {
  memjs = require(path.join(__dirname, 'node_modules', 'memjs'));
} catch (e) {
  console.error(`memjs_sasl_test: cannot load memjs (${e.message}); run tests/clients/install.sh`);
  process.exit(2);
}

const clientLog = [];
const logger = { log: (...args) => clientLog.push(args.join(' ')) };
const clients = [];

function makeClient(creds) {
  const c = memjs.Client.create(`127.0.0.1:${port}`, {
    ...(creds || {}),
    retries: 1,     // no silent retries: a dropped request must fail the test
    timeout: 5,     // seconds per request
    conntimeout: 5, // seconds to connect and authenticate
    logger,
  });
  clients.push(c);
  return c;
}

const PREFIX = `memjs-sasl:${process.pid}:${Date.now().toString(36)}:`;
const keyFor = (i) => `${PREFIX}${i}`;
// Distinct per key, with bytes that trip up text handling (\0, \r\n, 0xff).
const valueFor = (i) => Buffer.concat([Buffer.from(`value-${i}:`), Buffer.from([0, 13, 10, 255]),
                                       Buffer.alloc(i * 13, i & 0xff)]);

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

// memjs rejects an authentication failure with a bare string, not an Error.
const reasonText = (e) => (e instanceof Error ? e.message : String(e));

// Awaits a call that must fail; returns the rejection's text.
async function mustFail(promise, what) {
  let result;
  try {
    result = await promise;
  } catch (e) {
    return reasonText(e);
  }
  assert.fail(`${what}: expected an error, but it succeeded with ${JSON.stringify(result)}`);
}

describe('memjs with SASL PLAIN against a server with a users file', { timeout: GLOBAL_TIMEOUT_MS }, () => {
  after(() => {
    for (const c of clients) c.close();
    if (clientLog.length) {
      console.error(`memjs_sasl_test: memjs client log (${clientLog.length} message(s)):`);
      for (const m of clientLog.slice(0, 20)) console.error(`  ${m}`);
    }
  });

  it(`sets, gets and deletes ${N_KEYS} keys as an authenticated user`, async () => {
    const client = makeClient(APP);
    await forAll(N_KEYS, async (i) => {
      assert.equal(await client.set(keyFor(i), valueFor(i)), true, `set ${keyFor(i)}`);
    });
    await forAll(N_KEYS, async (i) => {
      const r = await client.get(keyFor(i));
      assert.ok(Buffer.isBuffer(r.value), `get ${keyFor(i)}: key missing after set`);
      assert.ok(r.value.equals(valueFor(i)), `get ${keyFor(i)}: value differs (got ${r.value.length} bytes, ` +
                                             `want ${valueFor(i).length})`);
    });
    // Keep key 0 for the access tests below; delete the rest.
    await forAll(N_KEYS - 1, async (j) => {
      const i = j + 1;
      assert.equal(await client.delete(keyFor(i)), true, `delete ${keyFor(i)}`);
    });
    await forAll(N_KEYS - 1, async (j) => {
      const i = j + 1;
      assert.equal((await client.get(keyFor(i))).value, null, `get ${keyFor(i)} after delete`);
      assert.equal(await client.delete(keyFor(i)), false, `second delete of ${keyFor(i)}`);
    });
  });

  it('a second connection of the same user sees the same data', async () => {
    const client = makeClient(APP);
    const r = await client.get(keyFor(0));
    assert.ok(Buffer.isBuffer(r.value) && r.value.equals(valueFor(0)), `get ${keyFor(0)} on a new connection`);
  });

  it('fails the first request when the password is wrong', async () => {
    // One request per client: memjs 1.3.2 loses track of the socket it opens
    // for a second request right after a failed authentication (the old
    // socket's 'close' handler clears the new one), which would leak it.
    const wrong = { username: APP.username, password: `${APP.password}x` };
    const msg = await mustFail(makeClient(wrong).get(keyFor(0)), 'get with a wrong password');
    assert.match(msg, /authentication failed/i,
                 'memjs reports "authentication failed" when SASL_AUTH answers 0x20 (AUTH_ERROR)');
    const msg2 = await mustFail(makeClient(wrong).set(`${PREFIX}wrongpw`, 'x'), 'set with a wrong password');
    assert.match(msg2, /authentication failed/i);
    const check = await makeClient(APP).get(`${PREFIX}wrongpw`);
    assert.equal(check.value, null, 'a set with a wrong password must not store anything');
  });

  it('fails the first request for an unknown user', async () => {
    const client = makeClient({ username: 'nosuchuser', password: APP.password });
    const msg = await mustFail(client.get(keyFor(0)), 'get as an unknown user');
    assert.match(msg, /authentication failed/i);
  });

  // Whatever the server does with a client that did not authenticate, or with
  // a user who has no access to the default bucket (refuse, or serve another
  // bucket), it must never hand out the authenticated user's data.
  for (const [label, creds] of [['an unauthenticated client', null], ["user 'other' (no access to default)", OTHER]]) {
    it(`does not show the data to ${label}`, async () => {
      const client = makeClient(creds);
      let r = null;
      try {
        r = await client.get(keyFor(0));
      } catch (e) {
        return; // refused: fine
      }
      assert.ok(!(r && Buffer.isBuffer(r.value) && r.value.equals(valueFor(0))),
                `${label} read ${keyFor(0)}, which only '${APP.username}' may read`);
    });
  }
});

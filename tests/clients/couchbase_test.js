'use strict';
// Real-client test: the official Couchbase Node.js SDK (couchbase@4.7.1, C++
// core over the KV port only) against the server on 127.0.0.1:$PORT. Run it
// under couchbase_env.sh, which starts the server with a users file and
// exports the test users; needs install.sh first.
//
//   MEMKV_BIN=build/release/memkv bash tests/clients/couchbase_env.sh node tests/clients/couchbase_test.js
//
// Each SDK session does HELLO, SASL (SCRAM-SHA512 by default over plain TCP),
// GET_ERROR_MAP, SELECT_BUCKET and GET_CLUSTER_CONFIG before any document
// operation, so a failure of the first `connect` usually means the bootstrap
// sequence broke. CBPPLOGLEVEL=debug (or trace) makes the SDK's C++ core log
// every bootstrap step to stderr; MEMKV_EXTRA_ARGS=-vv does the same server-side.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const GLOBAL_TIMEOUT_MS = Number(process.env.COUCHBASE_TEST_TIMEOUT_MS || 60000);
const BOOTSTRAP_TIMEOUT_MS = 5000;
const KV_TIMEOUT_MS = 5000;
const N_DOCS = 1000;
const CONCURRENCY = 50; // operations in flight at once in the bulk test
const BUCKET = 'default';

// A hung server or SDK must fail the test, not hang CTest until its own timeout.
const globalTimer = setTimeout(() => {
  console.error(`couchbase_test: FAIL: global timeout of ${GLOBAL_TIMEOUT_MS} ms exceeded`);
  process.exit(1);
}, GLOBAL_TIMEOUT_MS);
globalTimer.unref();

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('couchbase_test: PORT is not set; run this under couchbase_env.sh');
  process.exit(2);
}

function requireEnv(name) {
  const v = process.env[name];
  if (v === undefined || v === '') {
    console.error(`couchbase_test: ${name} is not set; run this under couchbase_env.sh`);
    process.exit(2);
  }
  return v;
}
// Set by couchbase_env.sh, which also writes them into the server's users file.
const APP = { username: requireEnv('MEMKV_TEST_APP_USER'), password: requireEnv('MEMKV_TEST_APP_PASSWORD') };
const ADMIN = { username: requireEnv('MEMKV_TEST_ADMIN_USER'), password: requireEnv('MEMKV_TEST_ADMIN_PASSWORD') };
const OTHER = { username: requireEnv('MEMKV_TEST_OTHER_USER'), password: requireEnv('MEMKV_TEST_OTHER_PASSWORD') };

let couchbase;
try {
  couchbase = require(path.join(__dirname, 'node_modules', 'couchbase'));
} catch (e) {
  console.error(`couchbase_test: cannot load the couchbase SDK (${e.message}); run tests/clients/install.sh`);
  process.exit(2);
}
const {
  AuthenticationFailureError, BucketNotFoundError, CasMismatchError, CouchbaseError,
  DocumentExistsError, DocumentLockedError, DocumentNotFoundError, RawStringTranscoder,
  TimeoutError, UnambiguousTimeoutError,
} = couchbase;

const CONN_STR = `couchbase://127.0.0.1:${port}`;
const PREFIX = `cb:${process.pid}:${Date.now().toString(36)}:`;
const key = (name) => `${PREFIX}${name}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One line describing an SDK error: class, message, root cause and the KV
// status the server returned (context.status_code), which is the wire-level
// reason for most failures.
function describeError(e) {
  if (!(e instanceof Error)) return `non-Error rejection: ${JSON.stringify(e)}`;
  const parts = [`${e.constructor.name}: ${e.message}`];
  if (e.cause) parts.push(`cause=${e.cause.message || e.cause}${e.cause.code !== undefined ? ` (code ${e.cause.code})` : ''}`);
  if (e.context) {
    const c = e.context;
    const brief = {};
    for (const f of ['status_code', 'opaque', 'cas', 'retry_attempts', 'retry_reasons', 'last_dispatched_to']) {
      if (c[f] !== undefined) brief[f] = c[f];
    }
    parts.push(`context=${JSON.stringify(brief, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
  }
  return parts.join('; ');
}

// Awaits `promise` and asserts it rejects with one of `classes`; returns the error.
async function expectError(promise, classes, what) {
  classes = Array.isArray(classes) ? classes : [classes];
  const names = classes.map((c) => c.name).join(' or ');
  let result;
  try {
    result = await promise;
  } catch (e) {
    if (!classes.some((c) => e instanceof c)) {
      assert.fail(`${what}: expected ${names}, got ${describeError(e)}`);
    }
    return e;
  }
  assert.fail(`${what}: expected ${names}, but it succeeded (result: ${inspectResult(result)})`);
}

function inspectResult(r) {
  try {
    return JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)).slice(0, 200);
  } catch {
    return String(r);
  }
}

// Wraps an operation so a failure says which call failed and why.
async function op(what, promise) {
  try {
    return await promise;
  } catch (e) {
    assert.fail(`${what} failed: ${describeError(e)}`);
  }
}

async function connectAs(user, { connStr = CONN_STR, bootstrapTimeout = BOOTSTRAP_TIMEOUT_MS,
                                 kvTimeout = KV_TIMEOUT_MS } = {}) {
  return couchbase.connect(connStr, {
    username: user.username,
    password: user.password,
    timeouts: { bootstrapTimeout, connectTimeout: bootstrapTimeout, kvTimeout },
  });
}

// Connects, runs fn(cluster) and always closes the cluster.
async function withCluster(user, opts, fn) {
  let cluster;
  try {
    cluster = await connectAs(user, opts);
  } catch (e) {
    assert.fail(`connect as '${user.username}' to ${opts.connStr || CONN_STR} failed: ${describeError(e)}`);
  }
  try {
    return await fn(cluster);
  } finally {
    await cluster.close();
  }
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

// CAS values come back as Cas objects; compare them by their decimal text.
const casText = (cas) => (cas === undefined || cas === null ? String(cas) : cas.toString());

function assertCasSet(cas, what) {
  const t = casText(cas);
  assert.ok(/^\d+$/.test(t) && t !== '0', `${what}: expected a non-zero CAS, got ${t}`);
}

// The token of a mutation result, as {bucket_name, partition_id, partition_uuid, sequence_number}.
function tokenOf(result, what) {
  assert.ok(result && result.token, `${what}: the mutation result carries no mutation token`);
  return result.token.toJSON();
}

describe('Couchbase Node SDK against the server', { timeout: GLOBAL_TIMEOUT_MS }, () => {
  let cluster;
  let coll;

  before(async () => {
    try {
      cluster = await connectAs(APP);
    } catch (e) {
      throw new Error(`connect as '${APP.username}' (default SASL mechanism, SCRAM-SHA512) ` +
                      `to ${CONN_STR} failed: ${describeError(e)}`);
    }
    coll = cluster.bucket(BUCKET).defaultCollection();
  });

  after(async () => {
    if (cluster) await cluster.close();
  });

  it('upserts a JSON document and gets it back with the same content and CAS', async () => {
    const doc = { name: 'alice', age: 31, tags: ['a', 'b'], nested: { ok: true, n: null } };
    const up = await op('upsert', coll.upsert(key('doc'), doc));
    assertCasSet(up.cas, 'upsert');
    const got = await op('get', coll.get(key('doc')));
    assert.deepEqual(got.content, doc, 'get returned different content than was upserted');
    assert.equal(casText(got.cas), casText(up.cas), 'get returned a different CAS than the upsert');

    const up2 = await op('second upsert', coll.upsert(key('doc'), { ...doc, age: 32 }));
    assert.notEqual(casText(up2.cas), casText(up.cas), 'overwriting a document must change its CAS');
    assert.equal((await op('get', coll.get(key('doc')))).content.age, 32, 'get after overwrite');
  });

  it('replaces with and without CAS; a stale CAS gives CasMismatchError', async () => {
    const k = key('replace');
    const v1 = await op('upsert', coll.upsert(k, { v: 1 }));
    const v2 = await op('replace with the current CAS', coll.replace(k, { v: 2 }, { cas: v1.cas }));
    assert.notEqual(casText(v2.cas), casText(v1.cas), 'replace must change the CAS');
    const err = await expectError(coll.replace(k, { v: 3 }, { cas: v1.cas }), CasMismatchError,
                                  'replace with a stale CAS');
    assert.ok(err instanceof CouchbaseError);
    assert.deepEqual((await op('get', coll.get(k))).content, { v: 2 },
                     'a replace that failed on CAS must not change the document');
    await op('replace without CAS', coll.replace(k, { v: 4 }));
    assert.deepEqual((await op('get', coll.get(k))).content, { v: 4 });
    await expectError(coll.replace(key('replace-missing'), { v: 1 }), DocumentNotFoundError,
                      'replace of a missing document');
  });

  it('insert of an existing id gives DocumentExistsError and leaves the document alone', async () => {
    const k = key('insert');
    const ins = await op('insert of a new id', coll.insert(k, { first: true }));
    assertCasSet(ins.cas, 'insert');
    await expectError(coll.insert(k, { first: false }), DocumentExistsError, 'insert of an existing id');
    assert.deepEqual((await op('get', coll.get(k))).content, { first: true });
  });

  it('removes a document; get and remove of a missing id give DocumentNotFoundError', async () => {
    const k = key('remove');
    await op('upsert', coll.upsert(k, { bye: 1 }));
    // No CAS check: memkv answers DELETE with CAS 0 as memcached does (kv_engine
    // would return the deletion's CAS).
    await op('remove', coll.remove(k));
    await expectError(coll.get(k), DocumentNotFoundError, 'get after remove');
    await expectError(coll.remove(k), DocumentNotFoundError, 'second remove');
    await expectError(coll.get(key('never-written')), DocumentNotFoundError, 'get of a never-written id');
  });

  it('touch and getAndTouch set the expiry: a 3 s expiry makes the document disappear', async () => {
    const kTouch = key('touch');
    const kGat = key('gat');
    const kKeep = key('touch-keep');
    await op('upsert', coll.upsert(kTouch, { t: 1 }));
    await op('upsert', coll.upsert(kGat, { t: 2 }));
    await op('upsert', coll.upsert(kKeep, { t: 3 }));
    // 3 s, not 1: expiry is counted in whole seconds, so a 1 s expiry can end a moment after
    // the touch, before a loaded machine (ASan, TSan) gets to the read below.
    const t = await op('touch', coll.touch(kTouch, 3));
    assertCasSet(t.cas, 'touch');
    const gat = await op('getAndTouch', coll.getAndTouch(kGat, 3));
    assert.deepEqual(gat.content, { t: 2 }, 'getAndTouch must return the document content');
    await op('touch with a long expiry', coll.touch(kKeep, 3600));
    await expectError(coll.touch(key('touch-missing'), 10), DocumentNotFoundError, 'touch of a missing id');
    // Right after touching, the documents are still there.
    assert.deepEqual((await op('get', coll.get(kTouch))).content, { t: 1 });
    await sleep(4500);
    await expectError(coll.get(kTouch), DocumentNotFoundError, 'get 4.5 s after touch(expiry=3 s)');
    await expectError(coll.get(kGat), DocumentNotFoundError, 'get 4.5 s after getAndTouch(expiry=3 s)');
    assert.deepEqual((await op('get of the document touched with 3600 s', coll.get(kKeep))).content, { t: 3 });
  });

  it('increments and decrements counters through binary()', async () => {
    const bin = coll.binary();
    const k = key('counter');
    let r = await op('increment creating the counter', bin.increment(k, 5, { initial: 10 }));
    assert.equal(Number(r.value), 10, 'increment of a missing counter returns `initial`, without adding delta');
    assertCasSet(r.cas, 'increment');
    r = await op('increment', bin.increment(k, 5));
    assert.equal(Number(r.value), 15, 'increment by 5');
    r = await op('decrement', bin.decrement(k, 3));
    assert.equal(Number(r.value), 12, 'decrement by 3');
    assert.equal((await op('get of the counter', coll.get(k))).content, 12,
                 'the counter reads back as the number 12');
    r = await op('decrement below zero', bin.decrement(k, 100));
    assert.equal(Number(r.value), 0, 'a decrement below zero saturates at 0');
    r = await op('decrement creating a counter', bin.decrement(key('counter2'), 1, { initial: 7 }));
    assert.equal(Number(r.value), 7, 'decrement of a missing counter returns `initial`');

    await expectError(bin.increment(key('counter-missing'), 1), DocumentNotFoundError,
                      'increment of a missing counter without `initial`');
    await expectError(bin.decrement(key('counter-missing'), 1), DocumentNotFoundError,
                      'decrement of a missing counter without `initial`');
    await expectError(coll.get(key('counter-missing')), DocumentNotFoundError,
                      'increment without `initial` must not create the document');
  });

  it('getAndLock locks the document until unlock with the returned CAS', async () => {
    const k = key('lock');
    await op('upsert', coll.upsert(k, { locked: 'no' }));
    const locked = await op('getAndLock', coll.getAndLock(k, 15));
    assert.deepEqual(locked.content, { locked: 'no' }, 'getAndLock must return the document content');
    assertCasSet(locked.cas, 'getAndLock');

    // The server answers a mutation of a locked document with LOCKED (0x09).
    // The SDK maps it to DocumentLockedError, but its retry strategy retries
    // LOCKED until the operation times out, so what a user sees is a timeout
    // whose retry reasons name the lock (key_value_locked).
    const e = await expectError(coll.upsert(k, { locked: 'overwritten' }, { timeout: 1500 }),
                                [DocumentLockedError, TimeoutError], 'upsert without CAS of a locked document');
    if (e instanceof TimeoutError) {
      const reasons = (e.context && e.context.retry_reasons) || [];
      assert.ok(reasons.includes('key_value_locked'),
                `upsert of a locked document timed out, but not because of the lock: ${describeError(e)} ` +
                '(the server should answer LOCKED 0x09; TMPFAIL shows up as key_value_temporary_failure)');
    }
    await expectError(coll.unlock(k, casPlusOne(locked.cas), { timeout: 2000 }), CasMismatchError,
                      'unlock with a wrong CAS');
    assert.deepEqual((await op('get of a locked document', coll.get(k))).content, { locked: 'no' },
                     'a plain get of a locked document returns its content; the failed upsert changed nothing');

    await op('unlock with the CAS from getAndLock', coll.unlock(k, locked.cas));
    await op('upsert after unlock', coll.upsert(k, { locked: 'unlocked' }, { timeout: 2000 }));
    assert.deepEqual((await op('get', coll.get(k))).content, { locked: 'unlocked' });

    // A replace with the lock's CAS is allowed and releases the lock.
    const again = await op('getAndLock (second time)', coll.getAndLock(k, 15));
    await op('replace with the lock CAS', coll.replace(k, { locked: 'replaced' }, { cas: again.cas }));
    await op('upsert after replace-with-lock-CAS', coll.upsert(k, { locked: 'free' }, { timeout: 2000 }));
    assert.deepEqual((await op('get', coll.get(k))).content, { locked: 'free' });

    // A lock expires on its own after lockTime seconds.
    await op('getAndLock for 1 s', coll.getAndLock(k, 1));
    await sleep(2500);
    await op('upsert 2.5 s after a 1 s lock', coll.upsert(k, { locked: 'expired' }, { timeout: 2000 }));
  });

  it('appends and prepends through binary() to a string document', async () => {
    const k = key('append');
    const transcoder = new RawStringTranscoder();
    await op('upsert of a raw string', coll.upsert(k, 'middle', { transcoder }));
    const a = await op('append', coll.binary().append(k, '>end'));
    assertCasSet(a.cas, 'append');
    await op('prepend', coll.binary().prepend(k, 'start<'));
    const got = await op('get as a raw string', coll.get(k, { transcoder }));
    assert.equal(got.content, 'start<middle>end');
    await expectError(coll.binary().append(key('append-missing'), 'x'), DocumentNotFoundError,
                      'append to a missing document');
  });

  it('returns mutation tokens whose sequence number grows with each mutation', async () => {
    const k = key('token');
    const t1 = tokenOf(await op('upsert', coll.upsert(k, { n: 1 })), 'upsert');
    const t2 = tokenOf(await op('replace', coll.replace(k, { n: 2 })), 'replace');
    const t3 = tokenOf(await op('remove', coll.remove(k)), 'remove');
    const t4 = tokenOf(await op('increment', coll.binary().increment(k, 1, { initial: 1 })), 'increment');
    for (const [t, what] of [[t1, 'upsert'], [t2, 'replace'], [t3, 'remove'], [t4, 'increment']]) {
      assert.equal(t.bucket_name, BUCKET, `${what} token bucket`);
      assert.ok(BigInt(t.sequence_number) > 0n,
                `${what} token: sequence number must be > 0, got ${JSON.stringify(t)} (a zero token means the ` +
                'server did not grant HELLO mutation_seqno 0x04 or sent no [vbuuid][seqno] extras)');
      assert.equal(t.partition_uuid, t1.partition_uuid, `${what} token: vbucket uuid must be stable`);
      assert.equal(t.partition_id, t1.partition_id, `${what} token: same key, same vbucket`);
    }
    assert.ok(BigInt(t2.sequence_number) > BigInt(t1.sequence_number) &&
              BigInt(t3.sequence_number) > BigInt(t2.sequence_number) &&
              BigInt(t4.sequence_number) > BigInt(t3.sequence_number),
              `sequence numbers must increase: ${[t1, t2, t3, t4].map((t) => t.sequence_number).join(', ')}`);
  });

  it(`upserts ${N_DOCS} documents ${CONCURRENCY} at a time and reads them back`, async () => {
    const docFor = (i) => ({
      id: i,
      name: `doc-${i}`,
      [`field_${i}`]: i * i,
      text: 'x'.repeat(i % 300),
      list: Array.from({ length: i % 7 }, (_, j) => i + j),
    });
    const cas = new Array(N_DOCS);
    await forAll(N_DOCS, async (i) => {
      cas[i] = casText((await op(`upsert bulk:${i}`, coll.upsert(key(`bulk:${i}`), docFor(i)))).cas);
    });
    await forAll(N_DOCS, async (i) => {
      const got = await op(`get bulk:${i}`, coll.get(key(`bulk:${i}`)));
      assert.deepEqual(got.content, docFor(i), `content of bulk:${i}`);
      assert.equal(casText(got.cas), cas[i], `CAS of bulk:${i}`);
    });
    await forAll(N_DOCS, async (i) => {
      await op(`remove bulk:${i}`, coll.remove(key(`bulk:${i}`)));
    });
    await forAll(N_DOCS, async (i) => {
      await expectError(coll.get(key(`bulk:${i}`)), DocumentNotFoundError, `get bulk:${i} after remove`);
    });
  });

  for (const mech of ['SCRAM-SHA256', 'SCRAM-SHA1', 'PLAIN']) {
    it(`authenticates with ${mech} when the connection string forces it`, async () => {
      const k = key(`mech:${mech}`);
      await op('upsert', coll.upsert(k, { mech }));
      await withCluster(APP, { connStr: `${CONN_STR}?allowed_sasl_mechanisms=${mech}` }, async (c) => {
        const got = await op(`get over a ${mech} session`, c.bucket(BUCKET).defaultCollection().get(k));
        assert.deepEqual(got.content, { mech });
      });
    });
  }

  it('lets the admin user read and write the default bucket', async () => {
    const k = key('by-admin');
    await op('upsert as app', coll.upsert(k, { from: 'app' }));
    await withCluster(ADMIN, {}, async (c) => {
      const ac = c.bucket(BUCKET).defaultCollection();
      assert.deepEqual((await op('get as admin', ac.get(k))).content, { from: 'app' });
      await op('upsert as admin', ac.upsert(k, { from: 'admin' }));
    });
    assert.deepEqual((await op('get as app', coll.get(k))).content, { from: 'admin' });
  });

  for (const mech of [null, 'PLAIN']) {
    const label = mech ? mech : 'the default mechanism';
    it(`rejects a wrong password with AuthenticationFailureError (${label})`, async () => {
      const connStr = mech ? `${CONN_STR}?allowed_sasl_mechanisms=${mech}` : CONN_STR;
      const started = Date.now();
      let c;
      try {
        // Authentication fails during connect; if the SDK defers it, the first
        // operation must fail instead.
        c = await connectAs({ username: APP.username, password: `${APP.password}-wrong` },
                            { connStr, bootstrapTimeout: 3000, kvTimeout: 3000 });
      } catch (e) {
        assert.ok(e instanceof AuthenticationFailureError,
                  `connect with a wrong password: expected AuthenticationFailureError, got ${describeError(e)}`);
        assert.ok(Date.now() - started < 3000,
                  `a wrong password must be reported before the bootstrap timeout (took ${Date.now() - started} ms)`);
        return;
      }
      try {
        await expectError(c.bucket(BUCKET).defaultCollection().get(key('doc')), AuthenticationFailureError,
                          'first operation after connecting with a wrong password');
      } finally {
        await c.close();
      }
    });
  }

  it('rejects an unknown user with AuthenticationFailureError', async () => {
    await expectError(connectAs({ username: 'nosuchuser', password: APP.password },
                                { bootstrapTimeout: 3000, kvTimeout: 3000 }),
                      AuthenticationFailureError, 'connect as an unknown user');
  });

  it('refuses a user without access to the bucket, without hanging', async () => {
    await op('upsert as app', coll.upsert(key('secret'), { secret: 42 }));
    // `other` may authenticate (its own bucket is otherbucket), but selecting
    // `default` must fail: SELECT_BUCKET -> NO_ACCESS (0x24), which the SDK
    // turns into bucket_not_found. SDK 4.7.1 opens a bucket in the background
    // and only logs that failure ("failed to open bucket: default ...
    // bucket_not_found") to console.error; operations on the bucket are never
    // dispatched and end in UnambiguousTimeoutError after the KV timeout.
    const started = Date.now();
    let c;
    try {
      c = await connectAs(OTHER, { bootstrapTimeout: 3000, kvTimeout: 2000 });
    } catch (e) {
      assert.ok(e instanceof AuthenticationFailureError,
                `connect as '${OTHER.username}': expected success or AuthenticationFailureError, got ${describeError(e)}`);
      return;
    }
    const logged = [];
    const consoleError = console.error;
    console.error = (...args) => {
      logged.push(args.map((a) => (a instanceof Error ? `${a.message}` : String(a))).join(' '));
      consoleError(...args);
    };
    let e;
    try {
      e = await expectError(c.bucket(BUCKET).defaultCollection().get(key('secret')),
                            [BucketNotFoundError, AuthenticationFailureError, UnambiguousTimeoutError],
                            `get in '${BUCKET}' as '${OTHER.username}' (no access to it)`);
    } finally {
      console.error = consoleError;
      await c.close();
    }
    if (e instanceof UnambiguousTimeoutError) {
      const openFailure = logged.find((m) => m.includes(`failed to open bucket: ${BUCKET}`));
      assert.ok(openFailure, `get as '${OTHER.username}' timed out, but the SDK never reported that opening ` +
                `'${BUCKET}' failed, so the server did not refuse SELECT_BUCKET: ${describeError(e)}`);
      assert.match(openFailure, /bucket_not_found|authentication_failure/,
                   'SELECT_BUCKET without access should be refused with NO_ACCESS (0x24)');
      assert.equal(e.context && e.context.last_dispatched_to, '',
                   'the get must never have been sent on a connection to the refused bucket');
    }
    assert.ok(Date.now() - started < 10000, `refusing the bucket took ${Date.now() - started} ms`);
  });
});

// A CAS that is certainly not the lock's: the lock CAS plus one.
function casPlusOne(cas) {
  return (BigInt(casText(cas)) + 1n).toString();
}

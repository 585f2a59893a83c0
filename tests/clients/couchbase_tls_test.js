'use strict';
// Real-client test: the official Couchbase Node.js SDK (couchbase@4.7.1, C++
// core 1.3.2 on Node's OpenSSL) over couchbases:// against the server's TLS
// port, trusting only the test CA (security.trustStorePath). Run it under
// couchbase_tls_env.sh, which makes the certificates, starts the server with a
// users file and --tls-port, and exports the test users; needs install.sh.
//
//   MEMKV_BIN=build/release/memkv bash tests/clients/couchbase_tls_env.sh node tests/clients/couchbase_tls_test.js
//
// What it covers: the cluster map's kvSSL (a raw GET_CLUSTER_CONFIG over TLS
// with hostname verification, so the certificate's IP SAN is checked too);
// the plain SDK test's walk-through over TLS (SASL PLAIN by default there,
// SCRAM forced, CRUD, CAS, expiry, counters, locks, append, tokens, errors,
// 1000 documents); values from 16 KiB + 1 to ~1 MiB, alone, many in flight
// and to a raw client that stops reading for a second (several TLS records per
// value, writes the kernel takes in part), checked against the server's TLS
// counters; a full
// RangeScan of a few thousand documents while a second connection upserts and
// removes others; and a client trusting another CA, which must fail with a
// certificate error in bounded time while the server keeps serving.
// No subdocument test: memkv implements no subdoc commands.
//
// CBPPLOGLEVEL=debug makes the SDK's C++ core log each bootstrap step (TLS
// handshake included) to stderr; MEMKV_EXTRA_ARGS=-vv does the same server-side.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { RawMcbpClient, withTimeout } = require('./raw_mcbp');

const GLOBAL_TIMEOUT_MS = Number(process.env.COUCHBASE_TLS_TEST_TIMEOUT_MS || 110000);
const BOOTSTRAP_TIMEOUT_MS = 5000;
const KV_TIMEOUT_MS = 10000; // ~1 MiB values many at a time on a loaded CI machine
const SCAN_TIMEOUT_MS = 30000;
const N_DOCS = 1000;      // the bulk walk-through
const N_SCAN = 3000;      // scan::0000 .. scan::2999, every 97th one 20 KiB+
const N_CHURN = 300;      // churn::000 .. churn::299, rewritten during the scan
const CONCURRENCY = 50;
const BUCKET = 'default';
const TAG = 'couchbase_tls_test';

// A hung server or SDK must fail the test, not hang CTest until its own timeout.
const globalTimer = setTimeout(() => {
  console.error(`${TAG}: FAIL: global timeout of ${GLOBAL_TIMEOUT_MS} ms exceeded`);
  process.exit(1);
}, GLOBAL_TIMEOUT_MS);
globalTimer.unref();

function requireEnv(name) {
  const v = process.env[name];
  if (v === undefined || v === '') {
    console.error(`${TAG}: ${name} is not set; run this under couchbase_tls_env.sh`);
    process.exit(2);
  }
  return v;
}
const port = Number(requireEnv('PORT'));
const CA = requireEnv('MEMKV_TEST_TLS_CA');
const ROGUE_CA = requireEnv('MEMKV_TEST_TLS_ROGUE_CA');
const CERT_DIR = requireEnv('MEMKV_TEST_TLS_CERT_DIR_USED');
const APP = { username: requireEnv('MEMKV_TEST_APP_USER'), password: requireEnv('MEMKV_TEST_APP_PASSWORD') };
const ADMIN = { username: requireEnv('MEMKV_TEST_ADMIN_USER'), password: requireEnv('MEMKV_TEST_ADMIN_PASSWORD') };
const OTHER = { username: requireEnv('MEMKV_TEST_OTHER_USER'), password: requireEnv('MEMKV_TEST_OTHER_PASSWORD') };

// The server writes the TLS port file once its TLS listener is bound; that
// may trail the plain port file with_server.sh waited for. TLS_PORT wins
// (for a server started by hand).
function readTlsPort() {
  if (process.env.TLS_PORT) return Number(process.env.TLS_PORT);
  const file = requireEnv('MEMKV_TEST_TLS_PORT_FILE');
  const deadline = Date.now() + 10000;
  for (;;) {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch { /* not written yet */ }
    if (/^\d+\n$/.test(text)) return Number(text);
    if (Date.now() > deadline) {
      console.error(`${TAG}: ${file} holds ${JSON.stringify(text)} 10 s after the server started ` +
                    '(expected the TLS port and a newline; is --tls-port-file supported?)');
      process.exit(1);
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
}
const tlsPort = readTlsPort();
if (!Number.isInteger(tlsPort) || tlsPort <= 0 || tlsPort > 65535 || tlsPort === port) {
  console.error(`${TAG}: bad TLS port ${tlsPort} (plain port ${port})`);
  process.exit(1);
}

let couchbase;
try {
  couchbase = require(path.join(__dirname, 'node_modules', 'couchbase'));
} catch (e) {
  console.error(`${TAG}: cannot load the couchbase SDK (${e.message}); run tests/clients/install.sh`);
  process.exit(2);
}
const {
  AuthenticationFailureError, BucketNotFoundError, CasMismatchError, DocumentExistsError,
  DocumentLockedError, DocumentNotFoundError, RangeScan, RawBinaryTranscoder, RawStringTranscoder,
  TimeoutError, UnambiguousTimeoutError,
} = couchbase;

const CONN_STR = `couchbases://127.0.0.1:${tlsPort}`;
const PREFIX = `tls:${process.pid}:${Date.now().toString(36)}:`;
const key = (name) => `${PREFIX}${name}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.error(`${TAG}:`, ...a);
const casText = (cas) => (cas === undefined || cas === null ? String(cas) : cas.toString());

// ---------------------------------------------------------------------------
// Helpers (as in couchbase_test.js)

function describeError(e) {
  if (!(e instanceof Error)) return `non-Error rejection: ${JSON.stringify(e)}`;
  const parts = [`${e.constructor.name}: ${e.message}`];
  if (e.cause) parts.push(`cause=${e.cause.message || e.cause}${e.cause.code !== undefined ? ` (code ${e.cause.code})` : ''}`);
  if (e.context) {
    try {
      parts.push(`context=${JSON.stringify(e.context, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)).slice(0, 400)}`);
    } catch { /* ignore */ }
  }
  return parts.join('; ');
}

async function expectError(promise, classes, what) {
  classes = Array.isArray(classes) ? classes : [classes];
  try {
    await promise;
  } catch (e) {
    if (!classes.some((c) => e instanceof c)) {
      assert.fail(`${what}: expected ${classes.map((c) => c.name).join(' or ')}, got ${describeError(e)}`);
    }
    return e;
  }
  assert.fail(`${what}: expected ${classes.map((c) => c.name).join(' or ')}, but it succeeded`);
}

async function op(what, promise) {
  try {
    return await promise;
  } catch (e) {
    assert.fail(`${what} failed: ${describeError(e)}`);
  }
}

function connectAs(user, { connStr = CONN_STR, trust = CA, bootstrapTimeout = BOOTSTRAP_TIMEOUT_MS,
                           kvTimeout = KV_TIMEOUT_MS } = {}) {
  return couchbase.connect(connStr, {
    username: user.username,
    password: user.password,
    security: { trustStorePath: trust },
    timeouts: { bootstrapTimeout, connectTimeout: bootstrapTimeout, kvTimeout },
  });
}

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
    await withTimeout(cluster.close(), 10000, 'cluster.close()').catch((e) => log(e.message));
  }
}

async function forAll(n, fn, width = CONCURRENCY) {
  let next = 0;
  async function worker() {
    while (next < n) {
      const i = next++;
      await fn(i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(width, n) }, worker));
}

function assertCasSet(cas, what) {
  const t = casText(cas);
  assert.ok(/^\d+$/.test(t) && t !== '0', `${what}: expected a non-zero CAS, got ${t}`);
}

// A minimal MCBP client over TLS or plain TCP (raw_mcbp.js).
const RawMcbp = {
  open: (useTls, ca) => RawMcbpClient.open({ port: useTls ? tlsPort : port, useTls, ca }),
};

async function serverStats() {
  const c = await RawMcbp.open(true, CA);
  try {
    await c.auth(ADMIN);
    return await c.stats();
  } finally {
    c.close();
  }
}

// ---------------------------------------------------------------------------

describe('Couchbase Node SDK over couchbases:// against the server', { timeout: GLOBAL_TIMEOUT_MS }, () => {
  let cluster;
  let coll;

  before(async () => {
    log(`plain port ${port}, TLS port ${tlsPort}; ${CONN_STR} trusting ${CA}`);
    try {
      cluster = await connectAs(APP);
    } catch (e) {
      throw new Error(`connect as '${APP.username}' to ${CONN_STR} (trustStorePath ${CA}) failed: ${describeError(e)} ` +
                      '(the SDK skips a node whose cluster map entry has no kvSSL; CBPPLOGLEVEL=debug shows the handshake)');
    }
    coll = cluster.bucket(BUCKET).defaultCollection();
  });

  after(async () => {
    if (cluster) await withTimeout(cluster.close(), 10000, 'closing the main cluster').catch((e) => log(e.message));
    // The SDK's native threads may keep the process alive briefly; the results are in.
    setTimeout(() => process.exit(process.exitCode || 0), 5000).unref();
  });

  for (const useTls of [true, false]) {
    it(`the cluster map advertises kvSSL = the TLS port (GET_CLUSTER_CONFIG over ${useTls ? 'TLS' : 'plain TCP'})`, async () => {
      let c;
      try {
        c = await RawMcbp.open(useTls, CA);
      } catch (e) {
        assert.fail(`${useTls ? 'TLS' : 'TCP'} connection to the server failed: ${e.message}` +
                    (useTls ? ' (tls.connect checks the chain against ca.pem and 127.0.0.1 against the SAN)' : ''));
      }
      try {
        await c.auth(APP);
        for (const scope of ['cluster', 'bucket']) {
          if (scope === 'bucket') {
            const sel = await c.call(0x89, { key: BUCKET }, 'SELECT_BUCKET');
            assert.equal(sel.status, 0, `SELECT_BUCKET ${BUCKET}: status 0x${sel.status.toString(16)}`);
          }
          const r = await c.call(0xb5, {}, `GET_CLUSTER_CONFIG (${scope})`);
          assert.equal(r.status, 0, `GET_CLUSTER_CONFIG (${scope}): status 0x${r.status.toString(16)}`);
          const config = JSON.parse(r.value.toString());
          const nodes = config.nodesExt;
          assert.ok(Array.isArray(nodes) && nodes.length === 1, `${scope} config nodesExt: ${JSON.stringify(nodes)}`);
          const { kv, kvSSL } = nodes[0].services || {};
          assert.deepEqual({ kv, kvSSL }, { kv: port, kvSSL: tlsPort },
                           `${scope} config nodesExt[0].services must name the plain and the TLS port: ` +
                           JSON.stringify(nodes[0]));
        }
      } finally {
        c.close();
      }
    });
  }

  it('upserts, gets, replaces with CAS, inserts and removes over TLS', async () => {
    const doc = { name: 'alice', age: 31, tags: ['a', 'b'], nested: { ok: true, n: null } };
    const up = await op('upsert', coll.upsert(key('doc'), doc));
    assertCasSet(up.cas, 'upsert');
    const got = await op('get', coll.get(key('doc')));
    assert.deepEqual(got.content, doc);
    assert.equal(casText(got.cas), casText(up.cas), 'get returned a different CAS than the upsert');

    const k = key('replace');
    const v1 = await op('upsert', coll.upsert(k, { v: 1 }));
    const v2 = await op('replace with the current CAS', coll.replace(k, { v: 2 }, { cas: v1.cas }));
    assert.notEqual(casText(v2.cas), casText(v1.cas), 'replace must change the CAS');
    await expectError(coll.replace(k, { v: 3 }, { cas: v1.cas }), CasMismatchError, 'replace with a stale CAS');
    assert.deepEqual((await op('get', coll.get(k))).content, { v: 2 });
    await expectError(coll.replace(key('replace-missing'), { v: 1 }), DocumentNotFoundError, 'replace of a missing id');

    await op('insert of a new id', coll.insert(key('insert'), { first: true }));
    await expectError(coll.insert(key('insert'), { first: false }), DocumentExistsError, 'insert of an existing id');
    assert.deepEqual((await op('get', coll.get(key('insert')))).content, { first: true });

    await op('remove', coll.remove(k));
    await expectError(coll.get(k), DocumentNotFoundError, 'get after remove');
    await expectError(coll.remove(k), DocumentNotFoundError, 'second remove');
  });

  it('touch and getAndTouch expire documents; getAndLock locks until unlock', async () => {
    await op('upsert', coll.upsert(key('touch'), { t: 1 }));
    await op('upsert', coll.upsert(key('gat'), { t: 2 }));
    await op('upsert', coll.upsert(key('lock'), { locked: 'no' }));
    await op('touch', coll.touch(key('touch'), 1));
    assert.deepEqual((await op('getAndTouch', coll.getAndTouch(key('gat'), 1))).content, { t: 2 });
    await expectError(coll.touch(key('touch-missing'), 10), DocumentNotFoundError, 'touch of a missing id');

    const locked = await op('getAndLock', coll.getAndLock(key('lock'), 15));
    assert.deepEqual(locked.content, { locked: 'no' });
    // LOCKED (0x09) is retried by the SDK until the operation times out.
    const e = await expectError(coll.upsert(key('lock'), { locked: 'overwritten' }, { timeout: 1500 }),
                                [DocumentLockedError, TimeoutError], 'upsert of a locked document');
    if (e instanceof TimeoutError) {
      assert.ok(((e.context && e.context.retry_reasons) || []).includes('key_value_locked'),
                `upsert of a locked document timed out, but not because of the lock: ${describeError(e)}`);
    }
    await expectError(coll.unlock(key('lock'), (BigInt(casText(locked.cas)) + 1n).toString(), { timeout: 2000 }),
                      CasMismatchError, 'unlock with a wrong CAS');
    await op('unlock', coll.unlock(key('lock'), locked.cas));
    await op('upsert after unlock', coll.upsert(key('lock'), { locked: 'free' }, { timeout: 2000 }));

    await sleep(2500);
    await expectError(coll.get(key('touch')), DocumentNotFoundError, 'get 2.5 s after touch(expiry=1 s)');
    await expectError(coll.get(key('gat')), DocumentNotFoundError, 'get 2.5 s after getAndTouch(expiry=1 s)');
    assert.deepEqual((await op('get', coll.get(key('lock')))).content, { locked: 'free' });
  });

  it('counters, append/prepend and growing mutation tokens', async () => {
    const bin = coll.binary();
    const k = key('counter');
    assert.equal(Number((await op('increment', bin.increment(k, 5, { initial: 10 }))).value), 10);
    assert.equal(Number((await op('increment', bin.increment(k, 5))).value), 15);
    assert.equal(Number((await op('decrement', bin.decrement(k, 3))).value), 12);
    assert.equal(Number((await op('decrement below 0', bin.decrement(k, 100))).value), 0, 'a decrement saturates at 0');
    await expectError(bin.increment(key('counter-missing'), 1), DocumentNotFoundError, 'increment without initial');

    const transcoder = new RawStringTranscoder();
    await op('upsert of a raw string', coll.upsert(key('append'), 'middle', { transcoder }));
    await op('append', bin.append(key('append'), '>end'));
    await op('prepend', bin.prepend(key('append'), 'start<'));
    assert.equal((await op('get', coll.get(key('append'), { transcoder }))).content, 'start<middle>end');
    await expectError(bin.append(key('append-missing'), 'x'), DocumentNotFoundError, 'append to a missing id');

    const t = [];
    for (const [what, p] of [['upsert', () => coll.upsert(key('token'), { n: 1 })],
                             ['replace', () => coll.replace(key('token'), { n: 2 })],
                             ['remove', () => coll.remove(key('token'))]]) {
      const r = await op(what, p());
      assert.ok(r.token, `${what}: no mutation token`);
      t.push(BigInt(r.token.toJSON().sequence_number));
    }
    assert.ok(t[0] > 0n && t[1] > t[0] && t[2] > t[1], `sequence numbers must increase: ${t.join(', ')}`);
  });

  it(`upserts ${N_DOCS} documents ${CONCURRENCY} at a time and reads them back`, async () => {
    const docFor = (i) => ({ id: i, text: 'x'.repeat(i % 300), list: Array.from({ length: i % 7 }, (_, j) => i + j) });
    const cas = new Array(N_DOCS);
    await forAll(N_DOCS, async (i) => {
      cas[i] = casText((await op(`upsert bulk:${i}`, coll.upsert(key(`bulk:${i}`), docFor(i)))).cas);
    });
    await forAll(N_DOCS, async (i) => {
      const got = await op(`get bulk:${i}`, coll.get(key(`bulk:${i}`)));
      assert.deepEqual(got.content, docFor(i), `content of bulk:${i}`);
      assert.equal(casText(got.cas), cas[i], `CAS of bulk:${i}`);
    });
    await forAll(N_DOCS, (i) => op(`remove bulk:${i}`, coll.remove(key(`bulk:${i}`))));
  });

  // Random bytes, so a record decrypted twice, skipped or reordered cannot
  // match. 16 KiB + 1 is one byte more than a full TLS record.
  it('large values (16 KiB + 1 to ~1 MiB) come back byte for byte: alone, 24 at a time, to a paused reader', async () => {
    const transcoder = new RawBinaryTranscoder();
    const sizes = [16 * 1024 + 1, 64 * 1024 - 3, 300 * 1024, 1024 * 1024 - 4096];
    const values = new Map();
    const statsBefore = await serverStats();
    let sent = 0;     // value bytes the client wrote
    let received = 0; // value bytes the server sent back
    for (const size of sizes) {
      const v = crypto.randomBytes(size);
      const k = key(`large:${size}`);
      values.set(k, v);
      await op(`upsert of ${size} bytes`, coll.upsert(k, v, { transcoder }));
      const got = await op(`get of ${size} bytes`, coll.get(k, { transcoder }));
      sent += size;
      received += size;
      assert.ok(Buffer.isBuffer(got.content) && got.content.equals(v),
                `get of a ${size}-byte value returned ${got.content && got.content.length} bytes that differ`);
    }
    // Many large responses queued at once: the server's writes outrun the
    // socket buffer, so records go out in part and are retried.
    const keys = [...values.keys()];
    const small = Array.from({ length: 100 }, (_, i) => key(`small:${i}`));
    await forAll(small.length, (i) => op('upsert small', coll.upsert(small[i], { i })));
    const started = Date.now();
    await Promise.all([
      ...Array.from({ length: 24 }, async (_, j) => {
        const k = keys[j % keys.length];
        const got = await op(`concurrent get of ${k}`, coll.get(k, { transcoder }));
        assert.ok(got.content.equals(values.get(k)), `concurrent get of ${k}: bytes differ`);
        received += got.content.length;
      }),
      ...small.map(async (k, i) => assert.deepEqual((await op(`get ${k}`, coll.get(k))).content, { i })),
    ]);
    log(`24 large gets (${sizes.join(', ')} bytes) and 100 small ones in flight together: ${Date.now() - started} ms`);
    // A large upsert while large gets are in flight: request bodies spanning
    // records in the other direction.
    const big = crypto.randomBytes(700 * 1024);
    await Promise.all([
      op('upsert of 700 KiB', coll.upsert(key('large:mixed'), big, { transcoder })),
      ...keys.map(async (k) => assert.ok((await op(`get ${k}`, coll.get(k, { transcoder }))).content.equals(values.get(k)))),
    ]);
    assert.ok((await op('get of 700 KiB', coll.get(key('large:mixed'), { transcoder }))).content.equals(big));
    sent += big.length;
    received += big.length + keys.reduce((n, k) => n + values.get(k).length, 0);

    // A reader that stops reading for a second: the server's writes stop
    // mid-record (the kernel takes part of one) and must go on with the same
    // bytes once the client reads again.
    const raw = await RawMcbp.open(true, CA);
    try {
      await raw.auth(APP);
      const sel = await raw.call(0x89, { key: BUCKET }, 'SELECT_BUCKET');
      assert.equal(sel.status, 0, `SELECT_BUCKET ${BUCKET}: status 0x${sel.status.toString(16)}`);
      raw.sock.pause();
      const order = Array.from({ length: 24 }, (_, j) => keys[(j * 3) % keys.length]);
      for (const k of order) raw.send(0x00, { key: k }); // GET
      await sleep(1000);
      raw.sock.resume();
      for (const k of order) {
        const r = await withTimeout(raw.next(), 10000, `GET ${k} after the pause`);
        assert.equal(r.status, 0, `GET ${k} after the pause: status 0x${r.status.toString(16)}`);
        assert.ok(r.value.equals(values.get(k)), `GET ${k} after the pause: ${r.value.length} bytes that differ`);
        received += r.value.length;
      }
    } finally {
      raw.close();
    }

    // The values really crossed the TLS layer, in records of at most 16 KiB
    // of plaintext each, and no record was malformed.
    const statsAfter = await serverStats();
    const delta = (s) => Number(statsAfter[s]) - Number(statsBefore[s]);
    for (const s of ['tls_bytes_encrypted', 'tls_bytes_decrypted', 'tls_records_written', 'ssl_proto_errors']) {
      assert.ok(statsAfter[s] !== undefined && Number.isFinite(delta(s)), `STAT ${s}: ${statsBefore[s]} -> ${statsAfter[s]}`);
    }
    assert.ok(delta('tls_bytes_encrypted') >= received,
              `tls_bytes_encrypted grew by ${delta('tls_bytes_encrypted')}, less than the ${received} value bytes sent back`);
    assert.ok(delta('tls_bytes_decrypted') >= sent,
              `tls_bytes_decrypted grew by ${delta('tls_bytes_decrypted')}, less than the ${sent} value bytes written`);
    assert.ok(delta('tls_records_written') >= Math.ceil(delta('tls_bytes_encrypted') / 16384),
              `${delta('tls_records_written')} records for ${delta('tls_bytes_encrypted')} bytes: a TLS record holds at most 16 KiB`);
    assert.equal(delta('ssl_proto_errors'), 0, 'TLS stream errors while moving large values');
    log(`large values: ${delta('tls_bytes_encrypted')} bytes encrypted in ${delta('tls_records_written')} records, ` +
        `${delta('tls_bytes_decrypted')} decrypted, ${delta('tls_bytes_staged')} staged`);
  });

  for (const mech of ['SCRAM-SHA512', 'SCRAM-SHA1', 'PLAIN']) {
    it(`authenticates over TLS with ${mech} when the connection string forces it`, async () => {
      await op('upsert', coll.upsert(key(`mech:${mech}`), { mech }));
      await withCluster(APP, { connStr: `${CONN_STR}?allowed_sasl_mechanisms=${mech}` }, async (c) => {
        const got = await op(`get over a ${mech} session`, c.bucket(BUCKET).defaultCollection().get(key(`mech:${mech}`)));
        assert.deepEqual(got.content, { mech });
      });
    });
  }

  it('the admin user reads and writes; a wrong password and an unknown user are refused', async () => {
    await op('upsert as app', coll.upsert(key('by-admin'), { from: 'app' }));
    await withCluster(ADMIN, {}, async (c) => {
      const ac = c.bucket(BUCKET).defaultCollection();
      assert.deepEqual((await op('get as admin', ac.get(key('by-admin')))).content, { from: 'app' });
    });
    for (const user of [{ username: APP.username, password: `${APP.password}-wrong` },
                        { username: 'nosuchuser', password: APP.password }]) {
      const started = Date.now();
      let c;
      try {
        c = await connectAs(user, { bootstrapTimeout: 3000, kvTimeout: 3000 });
      } catch (e) {
        assert.ok(e instanceof AuthenticationFailureError,
                  `connect as '${user.username}' with a wrong password: expected AuthenticationFailureError, got ${describeError(e)}`);
        assert.ok(Date.now() - started < 3000, `refusing took ${Date.now() - started} ms (the bootstrap timeout is 3000)`);
        continue;
      }
      try {
        await expectError(c.bucket(BUCKET).defaultCollection().get(key('doc')), AuthenticationFailureError,
                          `first operation as '${user.username}' with a wrong password`);
      } finally {
        await c.close();
      }
    }
  });

  // --tls-cert-auth: the SDK's CertificateAuthenticator sends no SASL; the
  // server takes the user from the certificate's CN. A certificate whose CN
  // names no user is refused (the connection closes), in bounded time.
  it('a client certificate logs in as the user its CN names; one naming no user is refused', async () => {
    const certLogin = (name, bootstrapTimeout) => couchbase.connect(CONN_STR, {
      authenticator: new couchbase.CertificateAuthenticator(path.join(CERT_DIR, `client-${name}.pem`),
                                                            path.join(CERT_DIR, `client-${name}.key`)),
      security: { trustStorePath: CA },
      timeouts: { bootstrapTimeout, connectTimeout: bootstrapTimeout, kvTimeout: KV_TIMEOUT_MS },
    });
    await op('upsert as app (password)', coll.upsert(key('by-cert'), { v: 1 }));
    const c = await op('connect with client-app.pem', certLogin('app', BOOTSTRAP_TIMEOUT_MS));
    try {
      const cc = c.bucket(BUCKET).defaultCollection();
      assert.deepEqual((await op('get as app (certificate)', cc.get(key('by-cert')))).content, { v: 1 });
      await op('upsert as app (certificate)', cc.upsert(key('by-cert'), { v: 2 }));
    } finally {
      await withTimeout(c.close(), 10000, 'cluster.close()').catch((e) => log(e.message));
    }
    assert.deepEqual((await op('get as app (password)', coll.get(key('by-cert')))).content, { v: 2 });

    const started = Date.now();
    let nobody;
    try {
      nobody = await certLogin('nobody', 3000);
    } catch (e) {
      assert.ok(Date.now() - started < 3000 + 4000, `refusing took ${Date.now() - started} ms`);
      return;
    }
    try {
      await expectError(nobody.bucket(BUCKET).defaultCollection().get(key('by-cert')),
                        [AuthenticationFailureError, UnambiguousTimeoutError, BucketNotFoundError],
                        'get with a certificate naming no user');
    } finally {
      await withTimeout(nobody.close(), 10000, 'cluster.close()').catch((e) => log(e.message));
    }
  });

  it('refuses a user without access to the bucket, without hanging', async () => {
    const started = Date.now();
    let c;
    try {
      c = await connectAs(OTHER, { bootstrapTimeout: 3000, kvTimeout: 2000 });
    } catch (e) {
      assert.ok(e instanceof AuthenticationFailureError, `connect as '${OTHER.username}': ${describeError(e)}`);
      return;
    }
    try {
      // SELECT_BUCKET -> NO_ACCESS; SDK 4.7.1 never dispatches the get (see couchbase_test.js).
      await expectError(c.bucket(BUCKET).defaultCollection().get(key('doc')),
                        [BucketNotFoundError, AuthenticationFailureError, UnambiguousTimeoutError],
                        `get in '${BUCKET}' as '${OTHER.username}'`);
    } finally {
      await c.close();
    }
    assert.ok(Date.now() - started < 10000, `refusing the bucket took ${Date.now() - started} ms`);
  });

  it(`a full RangeScan over TLS returns ${N_SCAN} documents with their content while another connection writes`,
     async () => {
       // Distinct content per key; every 97th document is > 16 KiB.
       const scanKey = (i) => `${PREFIX}scan::${String(i).padStart(4, '0')}`;
       const scanDoc = (i) => ({ i, text: (i % 97 === 5 ? 'L' : 's').repeat(i % 97 === 5 ? 20000 + i : i % 200) });
       const churnKey = (i) => `${PREFIX}churn::${String(i).padStart(3, '0')}`;
       const digest = (s) => crypto.createHash('sha256').update(s).digest('hex').slice(0, 16);
       const churnDoc = (i, ver) => ({ key: churnKey(i), ver, check: digest(`${churnKey(i)}#${ver}`), pad: 'c'.repeat((i * 7 + ver) % 3000) });

       const expected = new Map();
       await forAll(N_SCAN, async (i) => {
         const res = await op(`upsert ${scanKey(i)}`, coll.upsert(scanKey(i), scanDoc(i)));
         expected.set(scanKey(i), { content: scanDoc(i), cas: casText(res.cas) });
       }, 100);

       await withCluster(APP, {}, async (writerCluster) => {
         const wcoll = writerCluster.bucket(BUCKET).defaultCollection();
         const issued = Array.from({ length: N_CHURN }, () => new Map()); // version -> CAS (or null while in flight)
         const nextVer = new Array(N_CHURN).fill(1);
         await forAll(N_CHURN, async (i) => {
           issued[i].set(0, null);
           issued[i].set(0, casText((await op(`upsert ${churnKey(i)}`, wcoll.upsert(churnKey(i), churnDoc(i, 0)))).cas));
         });
         let stop = false;
         let changes = 0;
         const writerErrors = [];
         const busy = new Set();
         const writer = async (w) => {
           let seed = w * 7919 + 1;
           while (!stop) {
             seed = (seed * 1103515245 + 12345) & 0x7fffffff;
             const i = seed % N_CHURN;
             if (busy.has(i)) {
               await sleep(0);
               continue;
             }
             busy.add(i);
             try {
               if (seed % 5 === 0) {
                 await wcoll.remove(churnKey(i)).catch((e) => {
                   if (!(e instanceof DocumentNotFoundError)) throw e;
                 });
               } else {
                 const ver = nextVer[i]++;
                 issued[i].set(ver, null);
                 issued[i].set(ver, casText((await wcoll.upsert(churnKey(i), churnDoc(i, ver))).cas));
               }
               changes++;
             } catch (e) {
               writerErrors.push(`${churnKey(i)}: ${describeError(e)}`);
               if (writerErrors.length > 5) stop = true;
             } finally {
               busy.delete(i);
             }
           }
         };
         const writers = Array.from({ length: 4 }, (_, w) => writer(w));
         await sleep(100);
         const changesBefore = changes;
         const started = Date.now();
         let results;
         try {
           results = await withTimeout(coll.scan(new RangeScan(), { timeout: SCAN_TIMEOUT_MS }),
                                       SCAN_TIMEOUT_MS + 5000, 'full RangeScan');
         } catch (e) {
           assert.fail(`full RangeScan over TLS failed after ${Date.now() - started} ms: ${describeError(e)}`);
         } finally {
           stop = true;
           await Promise.all(writers);
         }
         const during = changes - changesBefore;
         assert.deepEqual(writerErrors, [], 'the concurrent writer failed');
         assert.ok(during > 0, 'the writer made no change while the scan ran; the test proves nothing');

         const seen = new Set();
         let churnSeen = 0;
         for (const r of results) {
           if (!r.id.startsWith(PREFIX)) continue; // documents of the earlier tests
           assert.ok(!seen.has(r.id), `${r.id} returned twice`);
           seen.add(r.id);
           if (expected.has(r.id)) {
             const exp = expected.get(r.id);
             assert.deepEqual(r.content, exp.content, `scan: content of ${r.id}`);
             assert.equal(casText(r.cas), exp.cas, `scan: CAS of ${r.id}`);
           } else if (r.id.startsWith(`${PREFIX}churn::`)) {
             churnSeen++;
             const i = Number(r.id.slice(`${PREFIX}churn::`.length));
             const c = r.content;
             assert.ok(c && Number.isInteger(c.ver) && issued[i].has(c.ver),
                       `${r.id}: a version the writer never wrote: ${JSON.stringify(c).slice(0, 200)}`);
             assert.deepEqual(c, churnDoc(i, c.ver), `${r.id}: content of version ${c.ver} is corrupt`);
             const cas = issued[i].get(c.ver);
             if (cas !== null) assert.equal(casText(r.cas), cas, `${r.id}: CAS of version ${c.ver}`);
           }
         }
         const missing = [...expected.keys()].filter((k) => !seen.has(k));
         assert.equal(missing.length, 0, `the scan missed ${missing.length} unchanged documents, e.g. ${missing.slice(0, 5).join(', ')}`);
         log(`full RangeScan over TLS: ${results.length} documents (${churnSeen} churn) in ${Date.now() - started} ms; ` +
             `${during} writes and removes meanwhile`);
       });
     });

  it('a client trusting another CA fails with a certificate error in bounded time; the server keeps serving', async () => {
    const statsBefore = await serverStats();
    // In a child process, so the SDK's C++ log (stderr) can be read: 4.7.1
    // retries the bootstrap until its timeout and reports only a timeout;
    // the reason is in the log.
    const BOOT_MS = 3000;
    const script = `
      const couchbase = require(${JSON.stringify(path.join(__dirname, 'node_modules', 'couchbase'))});
      const started = Date.now();
      couchbase.connect(${JSON.stringify(CONN_STR)}, {
        username: ${JSON.stringify(APP.username)}, password: ${JSON.stringify(APP.password)},
        security: { trustStorePath: ${JSON.stringify(ROGUE_CA)} },
        timeouts: { bootstrapTimeout: ${BOOT_MS}, connectTimeout: ${BOOT_MS}, kvTimeout: ${BOOT_MS} },
      }).then(async (c) => {
        console.log(JSON.stringify({ connected: true, ms: Date.now() - started }));
        await c.close();
        process.exit(0);
      }, (e) => {
        console.log(JSON.stringify({ connected: false, error: e.constructor.name, message: e.message, ms: Date.now() - started }));
        process.exit(0);
      });`;
    const child = spawn(process.execPath, ['-e', script], {
      env: { ...process.env, CBPPLOGLEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const started = Date.now();
    const HARD_MS = BOOT_MS + 12000;
    const killer = setTimeout(() => child.kill('SIGKILL'), HARD_MS);
    const code = await new Promise((resolve) => child.on('close', (c, sig) => resolve(sig || c)));
    clearTimeout(killer);
    const elapsed = Date.now() - started;
    assert.notEqual(code, 'SIGKILL', `the rogue-CA client was still running after ${HARD_MS} ms; stderr: ${stderr.slice(-1500)}`);
    let outcome;
    try {
      outcome = JSON.parse(stdout.trim().split('\n').pop());
    } catch {
      assert.fail(`the rogue-CA client exited (${code}) without a result; stdout ${stdout.slice(-500)}; stderr ${stderr.slice(-1500)}`);
    }
    assert.equal(outcome.connected, false, `a client trusting only ${ROGUE_CA} connected: ${JSON.stringify(outcome)}`);
    assert.ok(outcome.ms < BOOT_MS + 4000, `the rogue-CA client took ${outcome.ms} ms to fail (bootstrap timeout ${BOOT_MS} ms)`);
    assert.match(stderr, /CERTIFICATE_VERIFY_FAILED|certificate verify failed/i,
                 `the rogue-CA client failed (${outcome.error}: ${outcome.message}) but its log names no ` +
                 `certificate error: ${stderr.slice(-1500)}`);
    log(`rogue-CA client: ${outcome.error} after ${outcome.ms} ms (process ${elapsed} ms); log names CERTIFICATE_VERIFY_FAILED`);

    // The server keeps serving: the open session, a new TLS session and the
    // plain port. (ssl_handshake_errors is only logged: whether a handshake
    // the client abandoned counts is the server's definition; memcached 1.6
    // -Z does not count it.)
    const afterStats = await serverStats();
    log(`ssl_handshake_errors ${statsBefore.ssl_handshake_errors} -> ${afterStats.ssl_handshake_errors}, ` +
        `tls_total_connections ${statsBefore.tls_total_connections} -> ${afterStats.tls_total_connections}`);
    await op('upsert on the open session', coll.upsert(key('after-rogue'), { ok: 1 }));
    await withCluster(APP, {}, async (c) => {
      assert.deepEqual((await op('get on a new TLS session', c.bucket(BUCKET).defaultCollection().get(key('after-rogue')))).content, { ok: 1 });
    });
    await withCluster(APP, { connStr: `couchbase://127.0.0.1:${port}` }, async (c) => {
      assert.deepEqual((await op('get over the plain port', c.bucket(BUCKET).defaultCollection().get(key('after-rogue')))).content, { ok: 1 });
    });
  });
});

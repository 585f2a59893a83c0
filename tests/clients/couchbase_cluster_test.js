'use strict';
// Real-client test: the official Couchbase Node.js SDK (couchbase@4.7.1) against three memkv
// nodes serving one cluster map (docs/cluster.md). The script starts the nodes itself: a
// users file and a balanced map made by memkv-admin, three ports the kernel hands out, one
// memkv per port with --cluster-map and --node-index. Needs install.sh first.
//
//   MEMKV_BIN=build/release/memkv MEMKV_ADMIN_BIN=build/release/memkv-admin \
//     node tests/clients/couchbase_cluster_test.js
//
// Three phases, one cluster:
// 1. Three nodes. The SDK stores 10,000 documents through a connection string naming one
//    node (it learns the others from nodesExt) and reads them back through all three; each
//    node's curr_items must then be exactly the documents whose vbucket the map gives it,
//    no node may have answered NOT_MY_VBUCKET (the SDK had the map before its first
//    operation), and a RangeScan over every vbucket returns every document once.
// 2. A fourth node joins by a map change (memkv-admin --from, rev 2) while four loops write
//    and read: no operation fails; a read may miss only for a key whose vbucket moved (the
//    new owner starts empty) and never returns another value; once rewritten, each node
//    holds exactly its vbuckets' keys again (the old owners dropped what they lost).
// 3. A node is killed and a map without it is published (rev 3): the time until the SDK
//    writes every probe key of the dead node's vbuckets is measured and printed
//    (`recovery_ms`), and must stay within the SDK's own timeouts.
// Every node still running must exit 0 on SIGTERM.

const assert = require('node:assert/strict');
const childProcess = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { RawMcbpClient } = require('./raw_mcbp');
const { vbucketOf } = require('./vbucket');

const GLOBAL_TIMEOUT_MS = Number(process.env.COUCHBASE_TEST_TIMEOUT_MS || 150000);
const STARTUP_TIMEOUT_MS = 10000;
const SHUTDOWN_TIMEOUT_MS = 20000;
const N_NODES = 3;
const N_DOCS = 10000;
const UPSERT_CONCURRENCY = 256; // operations in flight at once
const LOAD_LOOPS = 4;
const N_PROBES = 64;
const PROBE_TIMEOUT_MS = 250;
// The SDK's own bound on one operation's retries (kvTimeout): recovery must fit in it twice.
const KV_TIMEOUT_MS = 10000;
const USER = { username: 'app', password: 'cluster p@ss' };

const globalTimer = setTimeout(() => {
  console.error(`couchbase_cluster_test: FAIL: global timeout of ${GLOBAL_TIMEOUT_MS} ms exceeded`);
  stopAll(true);
  process.exit(1);
}, GLOBAL_TIMEOUT_MS);
globalTimer.unref();

function requireEnv(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`couchbase_cluster_test: ${name} is not set (CTest sets it)`);
    process.exit(2);
  }
  return v;
}
const MEMKV_BIN = requireEnv('MEMKV_BIN');
const ADMIN_BIN = requireEnv('MEMKV_ADMIN_BIN');

let couchbase;
try {
  couchbase = require(path.join(__dirname, 'node_modules', 'couchbase'));
} catch (e) {
  console.error(`couchbase_cluster_test: cannot load the couchbase SDK (${e.message}); run tests/clients/install.sh`);
  process.exit(2);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'memkv-cluster-sdk-'));
const nodes = []; // { index, port, child, exited: Promise<{code, signal}>, log, killed }

function admin(args, input) {
  const r = childProcess.spawnSync(ADMIN_BIN, args, { input, encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, `memkv-admin ${args[0]} failed: ${r.stderr}`);
}

// Ports the kernel hands out, all held until every one is picked, then given back.
async function freePorts(count) {
  const servers = [];
  for (let i = 0; i < count; i++) {
    const s = net.createServer();
    await new Promise((resolve, reject) => {
      s.once('error', reject);
      s.listen(0, '127.0.0.1', resolve);
    });
    servers.push(s);
  }
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

async function startNode(index, port, usersFile, mapFile) {
  const portFile = path.join(workdir, `port-${index}`);
  const log = path.join(workdir, `node-${index}.log`);
  const out = fs.openSync(log, 'w');
  const child = childProcess.spawn(MEMKV_BIN, ['-p', String(port), '--port-file', portFile,
    '-l', '127.0.0.1', '-t', '2', '--users-file', usersFile, '--cluster-map', mapFile,
    '--node-index', String(index)], { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  const node = { index, port, child, log, done: false };
  node.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
    node.done = true;
    resolve({ code, signal });
  }));
  nodes.push(node);
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (node.done) return false;
    if (fs.existsSync(portFile) && fs.readFileSync(portFile, 'utf8').trim() === String(port)) return true;
    await sleep(50);
  }
  return false;
}

function stopAll(kill) {
  for (const n of nodes) if (!n.done) n.child.kill(kill ? 'SIGKILL' : 'SIGTERM');
}

async function stopNodes() {
  stopAll(false);
  const results = await Promise.all(nodes.map((n) => Promise.race([
    n.exited, sleep(SHUTDOWN_TIMEOUT_MS).then(() => ({ code: null, signal: 'timeout' }))])));
  stopAll(true);
  nodes.length = 0;
  return results;
}

function dumpLogs() {
  for (const n of nodes) {
    try {
      console.error(`---- node ${n.index} log ----\n${fs.readFileSync(n.log, 'utf8').split('\n').slice(-30).join('\n')}`);
    } catch (_e) { /* no log yet */ }
  }
}

async function startCluster(usersFile, mapFile) {
  // Another process may take a port between the pick and the start: try again with others.
  for (let attempt = 1; attempt <= 3; attempt++) {
    // One port more than the nodes: the fourth node's, named by the map of phase 2.
    const ports = await freePorts(N_NODES + 1);
    admin(['cluster-map', '--nodes', hostPorts(ports.slice(0, N_NODES)), '--out', mapFile]);
    let ok = true;
    for (let i = 0; i < N_NODES && ok; i++) ok = await startNode(i, ports[i], usersFile, mapFile);
    if (ok) return ports;
    dumpLogs();
    await stopNodes();
    console.error(`couchbase_cluster_test: attempt ${attempt} to start ${N_NODES} nodes failed`);
  }
  throw new Error('could not start the cluster');
}

const hostPorts = (ports) => ports.map((p) => `127.0.0.1:${p}`).join(',');

async function withCluster(connStr, fn) {
  const cluster = await couchbase.connect(connStr, {
    username: USER.username,
    password: USER.password,
    timeouts: { bootstrapTimeout: 10000, connectTimeout: 10000, kvTimeout: KV_TIMEOUT_MS },
  });
  try {
    return await fn(cluster.bucket('default').defaultCollection());
  } finally {
    await cluster.close();
  }
}

const docValue = (k, i) => ({ i, key: k });

// Runs fn over items with at most `limit` in flight.
async function inParallel(items, limit, fn) {
  let next = 0;
  const loop = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, loop));
}

function readOwners(mapFile) {
  const owners = JSON.parse(fs.readFileSync(mapFile, 'utf8')).vbuckets;
  assert.equal(owners.length, 1024);
  return owners;
}

async function nodeStats(node) {
  const raw = await RawMcbpClient.open({ port: node.port });
  try {
    await raw.auth(USER);
    return await raw.stats();
  } finally {
    raw.close();
  }
}

// Every live node's curr_items equals the keys whose vbucket the map gives it. The old owners
// drop what they lost in the background: polled until it holds or `ms` pass.
async function expectEachNodeHoldsItsKeys(keys, owners, what, ms = 10000) {
  const expected = new Map();
  for (const n of nodes) if (!n.killed) expected.set(n.index, 0);
  for (const k of keys) {
    const owner = owners[vbucketOf(k)];
    expected.set(owner, expected.get(owner) + 1);
  }
  const deadline = Date.now() + ms;
  for (;;) {
    const got = new Map();
    for (const n of nodes) if (!n.killed) got.set(n.index, Number((await nodeStats(n)).curr_items));
    const same = [...expected].every(([i, count]) => got.get(i) === count);
    if (same) {
      console.log(`couchbase_cluster_test: ${what}: each node holds its own vbuckets' keys (${[...got.values()].join(', ')})`);
      return;
    }
    if (Date.now() > deadline) {
      assert.fail(`${what}: nodes hold ${JSON.stringify([...got])}, the map gives them ${JSON.stringify([...expected])}`);
    }
    await sleep(200);
  }
}

async function notMyVbucketTotal() {
  let total = 0;
  for (const n of nodes) if (!n.killed) total += Number((await nodeStats(n)).not_my_vbucket);
  return total;
}

async function phaseThreeNodes(ports, keys, owners) {
  // Bootstrapped from the last node alone: the SDK must find the other two in its config.
  await withCluster(`couchbase://127.0.0.1:${ports[N_NODES - 1]}`, async (coll) => {
    await inParallel(keys, UPSERT_CONCURRENCY, (k, i) => coll.upsert(k, docValue(k, i)));
  });
  console.log(`couchbase_cluster_test: ${N_DOCS} documents stored through node ${N_NODES - 1}`);
  await withCluster(`couchbase://${hostPorts(ports.slice(0, N_NODES))}`, async (coll) => {
    await inParallel(keys, UPSERT_CONCURRENCY, async (k, i) => {
      const r = await coll.get(k);
      assert.deepEqual(r.content, docValue(k, i), `document ${k}`);
    });
    console.log(`couchbase_cluster_test: ${N_DOCS} documents read back through all nodes`);
    // The whole collection: one scan per vbucket, each sent to the vbucket's owner.
    const started = Date.now();
    const results = await coll.scan(new couchbase.RangeScan(), { concurrency: 8, timeout: 60000 });
    const seen = new Map();
    for (const r of results) seen.set(r.id, (seen.get(r.id) || 0) + 1);
    const twice = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
    assert.deepEqual(twice, [], 'documents the range scan returned more than once');
    assert.equal(seen.size, N_DOCS, `the range scan returned ${seen.size} of ${N_DOCS} documents`);
    for (const r of results.slice(0, 200)) {
      assert.deepEqual(r.content, docValue(r.id, keys.indexOf(r.id)), `scanned ${r.id}`);
    }
    console.log(`couchbase_cluster_test: RangeScan over 1024 vbuckets on ${N_NODES} nodes: ${N_DOCS} documents once each in ${Date.now() - started} ms`);
  });
  await expectEachNodeHoldsItsKeys(keys, owners, 'three nodes');
  assert.equal(await notMyVbucketTotal(), 0, 'a node answered NOT_MY_VBUCKET to a client that had the map');
}

async function phaseAddNode(ports, keys, usersFile, mapFile) {
  const before = readOwners(mapFile);
  await withCluster(`couchbase://${hostPorts(ports.slice(0, N_NODES))}`, async (coll) => {
    const stats = { ops: 0, misses: 0, failures: [] };
    let stop = false;
    let after = null;  // the rev 2 owners once published
    const moved = (k) => after !== null && before[vbucketOf(k)] !== after[vbucketOf(k)];
    const written = [];
    const load = async (w) => {
      for (let i = 0; !stop; i++) {
        const k = `load-${w}-${i}`;
        const doc = keys[(i * LOAD_LOOPS + w) % N_DOCS];
        try {
          await coll.upsert(k, { w, i });
          written.push(k);
          const r = await coll.get(k);
          assert.deepEqual(r.content, { w, i }, `read back ${k}`);
          stats.ops += 2;
        } catch (e) {
          if (e instanceof couchbase.DocumentNotFoundError && moved(k)) stats.misses++;
          else stats.failures.push(`${k}: ${e.message}`);
        }
        try {
          const r = await coll.get(doc);
          assert.deepEqual(r.content, docValue(doc, keys.indexOf(doc)), `read ${doc}`);
          stats.ops++;
        } catch (e) {
          if (e instanceof couchbase.DocumentNotFoundError && moved(doc)) stats.misses++;
          else stats.failures.push(`${doc}: ${e.message}`);
        }
      }
    };
    const loops = Array.from({ length: LOAD_LOOPS }, (_, w) => load(w));
    await sleep(1000);
    // Publish rev 2 with the fourth node, start it with the file, then reload the others.
    admin(['cluster-map', '--nodes', hostPorts(ports), '--from', mapFile, '--out', mapFile]);
    after = readOwners(mapFile);
    const movedCount = before.filter((o, v) => o !== after[v]).length;
    assert.ok(after.every((o, v) => o === before[v] || o === N_NODES), 'only moves to the new node');
    const changed = Date.now();
    assert.ok(await startNode(N_NODES, ports[N_NODES], usersFile, mapFile), 'the fourth node starts');
    for (const n of nodes) if (n.index < N_NODES) n.child.kill('SIGHUP');
    for (const n of nodes) {
      const deadline = Date.now() + 10000;
      while (Number((await nodeStats(n)).cluster_map_rev) !== 2) {
        assert.ok(Date.now() < deadline, `node ${n.index} did not take rev 2`);
        await sleep(50);
      }
    }
    console.log(`couchbase_cluster_test: rev 2 in effect on 4 nodes ${Date.now() - changed} ms after the change (${movedCount} vbuckets moved)`);
    await sleep(3000);
    stop = true;
    await Promise.all(loops);
    console.log(`couchbase_cluster_test: under load while a node joined: ${stats.ops} operations, ${stats.misses} misses on moved vbuckets, ${stats.failures.length} failures`);
    assert.deepEqual(stats.failures.slice(0, 10), [], 'operations failed while a node joined');
    assert.ok(stats.ops > 0);
    // After the change every read of a key just written hits, on whichever node owns it.
    const fresh = Array.from({ length: 500 }, (_, i) => `after-join-${i}`);
    await inParallel(fresh, 64, async (k) => {
      await coll.upsert(k, { k });
      assert.deepEqual((await coll.get(k)).content, { k });
    });
    // Rewrite everything: the moved keys fill their new owner; the old owners hold none.
    await inParallel(keys, UPSERT_CONCURRENCY, (k, i) => coll.upsert(k, docValue(k, i)));
    await inParallel(written, UPSERT_CONCURRENCY, (k) => coll.upsert(k, { k }));
    await expectEachNodeHoldsItsKeys([...keys, ...written, ...fresh], after, 'four nodes');
    for (const n of nodes.filter((x) => x.index < N_NODES)) {
      const s = await nodeStats(n);
      assert.ok(Number(s.cluster_vbuckets_dropped) > 0, `node ${n.index} dropped no vbucket`);
    }
  });
}

async function phaseKillNode(ports, mapFile) {
  const victim = nodes.find((n) => n.index === 1);
  await withCluster(`couchbase://${hostPorts([ports[0], ports[2]])}`, async (coll) => {
    await coll.upsert('warm', { ok: true });  // connected to every node
    const before = readOwners(mapFile);
    const probes = [];
    for (let i = 0; probes.length < N_PROBES; i++) {
      const k = `probe-${i}`;
      if (before[vbucketOf(k)] === 1) probes.push(k);
    }
    victim.child.kill('SIGKILL');
    victim.killed = true;
    await victim.exited;
    // The operator's runbook: a map without the dead node, published to the others.
    admin(['cluster-map', '--nodes', hostPorts([ports[0], ports[2], ports[3]]), '--from', mapFile,
      '--out', mapFile]);
    const published = Date.now();
    for (const n of nodes) if (!n.killed) n.child.kill('SIGHUP');
    // Short attempts: an operation the SDK queued for the dead node before the new map
    // reached it waits out its own timeout (the SDK does not move it); a new attempt goes
    // by the newest map. Recovery is when every probe key takes a write again.
    const times = [];
    let timedOut = 0;
    await inParallel(probes, N_PROBES, async (k) => {
      for (;;) {
        try {
          await coll.upsert(k, { k }, { timeout: PROBE_TIMEOUT_MS });
          times.push(Date.now() - published);
          return;
        } catch (e) {
          timedOut++;
          if (Date.now() - published > 2 * KV_TIMEOUT_MS) throw new Error(`${k} still failing: ${e.message}`);
        }
      }
    });
    times.sort((a, b) => a - b);
    console.log(`couchbase_cluster_test: recovery_ms after publishing the map without a killed node: first ${times[0]}, median ${times[times.length >> 1]}, last ${times[times.length - 1]} (${N_PROBES} keys of its vbuckets, ${timedOut} attempts of ${PROBE_TIMEOUT_MS} ms timed out)`);
    for (const k of probes) assert.deepEqual((await coll.get(k)).content, { k });
  });
}

async function main() {
  const usersFile = path.join(workdir, 'users.json');
  const mapFile = path.join(workdir, 'map.json');
  admin(['add-user', '--users-file', usersFile, '--name', USER.username, '--roles',
    'read[default],write[default]', '--iterations', '64'], `${USER.password}\n`);
  const ports = await startCluster(usersFile, mapFile);
  const keys = Array.from({ length: N_DOCS }, (_, i) => `cluster-doc-${i}`);
  await phaseThreeNodes(ports, keys, readOwners(mapFile));
  await phaseAddNode(ports, keys, usersFile, mapFile);
  await phaseKillNode(ports, mapFile);
}

(async () => {
  let rc = 0;
  try {
    await main();
  } catch (e) {
    console.error(`couchbase_cluster_test: FAIL: ${e.stack || e}`);
    dumpLogs();
    rc = 1;
  }
  const killed = nodes.map((n) => n.killed === true);
  const results = await stopNodes();
  results.forEach((r, i) => {
    if (r.code !== 0 && !(r.signal === 'SIGKILL' && killed[i])) {
      console.error(`couchbase_cluster_test: FAIL: node ${i} ended with ${JSON.stringify(r)} on SIGTERM`);
      rc = 1;
    }
  });
  fs.rmSync(workdir, { recursive: true, force: true });
  if (rc === 0) console.log('couchbase_cluster_test: PASS');
  process.exit(rc);
})();

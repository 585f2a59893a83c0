'use strict';
// Real-client test: the official Couchbase Node.js SDK (couchbase@4.7.1) against three memkv
// nodes serving one cluster map (docs/cluster.md). The script starts the nodes itself: a
// users file and a balanced map made by memkv-admin, three ports the kernel hands out, one
// memkv per port with --cluster-map and --node-index. Needs install.sh first.
//
//   MEMKV_BIN=build/release/memkv MEMKV_ADMIN_BIN=build/release/memkv-admin \
//     node tests/clients/couchbase_cluster_test.js
//
// The SDK stores and reads 100 documents through a connection string naming one node (it
// learns the others from nodesExt) and then all three; each node's curr_items must then be
// exactly the documents whose vbucket the map gives it, which only holds if the SDK routed
// every key by the served map. Every node must exit 0 on SIGTERM.

const assert = require('node:assert/strict');
const childProcess = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { RawMcbpClient } = require('./raw_mcbp');

const GLOBAL_TIMEOUT_MS = Number(process.env.COUCHBASE_TEST_TIMEOUT_MS || 90000);
const STARTUP_TIMEOUT_MS = 10000;
const SHUTDOWN_TIMEOUT_MS = 20000;
const N_NODES = 3;
const N_DOCS = 100;
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
const nodes = []; // { index, port, child, exited: Promise<{code, signal}>, log }

// CRC-32/IEEE, and Couchbase's vbucket of a key: ((crc >> 16) & 0x7fff) % 1024.
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function vbucketOf(key) {
  let crc = 0xffffffff;
  for (const byte of Buffer.from(key)) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  crc = (crc ^ 0xffffffff) >>> 0;
  return ((crc >>> 16) & 0x7fff) % 1024;
}

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
    const ports = await freePorts(N_NODES);
    admin(['cluster-map', '--nodes', ports.map((p) => `127.0.0.1:${p}`).join(','), '--out', mapFile]);
    let ok = true;
    for (let i = 0; i < N_NODES && ok; i++) ok = await startNode(i, ports[i], usersFile, mapFile);
    if (ok) return ports;
    dumpLogs();
    await stopNodes();
    console.error(`couchbase_cluster_test: attempt ${attempt} to start ${N_NODES} nodes failed`);
  }
  throw new Error('could not start the cluster');
}

async function withCluster(connStr, fn) {
  const cluster = await couchbase.connect(connStr, {
    username: USER.username,
    password: USER.password,
    timeouts: { bootstrapTimeout: 10000, connectTimeout: 10000, kvTimeout: 5000 },
  });
  try {
    return await fn(cluster.bucket('default').defaultCollection());
  } finally {
    await cluster.close();
  }
}

async function main() {
  const usersFile = path.join(workdir, 'users.json');
  const mapFile = path.join(workdir, 'map.json');
  admin(['add-user', '--users-file', usersFile, '--name', USER.username, '--roles',
    'read[default],write[default]', '--iterations', '64'], `${USER.password}\n`);
  const ports = await startCluster(usersFile, mapFile);
  const owners = JSON.parse(fs.readFileSync(mapFile, 'utf8')).vbuckets;
  assert.equal(owners.length, 1024);

  const keys = Array.from({ length: N_DOCS }, (_, i) => `cluster-doc-${i}`);
  // Bootstrapped from the last node alone: the SDK must find the other two in its config.
  await withCluster(`couchbase://127.0.0.1:${ports[N_NODES - 1]}`, async (coll) => {
    await Promise.all(keys.map((k, i) => coll.upsert(k, { i, key: k })));
  });
  console.log(`couchbase_cluster_test: ${N_DOCS} documents stored through node ${N_NODES - 1}`);
  await withCluster(`couchbase://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`, async (coll) => {
    for (const k of keys) {
      const r = await coll.get(k);
      assert.deepEqual(r.content, { i: keys.indexOf(k), key: k }, `document ${k}`);
    }
  });
  console.log(`couchbase_cluster_test: ${N_DOCS} documents read back through all nodes`);

  const expected = new Array(N_NODES).fill(0);
  for (const k of keys) expected[owners[vbucketOf(k)]]++;
  for (let i = 0; i < N_NODES; i++) {
    assert.ok(expected[i] > 0, `node ${i} owns none of the ${N_DOCS} keys`);
    const raw = await RawMcbpClient.open({ port: ports[i] });
    try {
      await raw.auth(USER);
      const stats = await raw.stats();
      assert.equal(Number(stats.curr_items), expected[i],
        `node ${i} holds ${stats.curr_items} items; the map gives it ${expected[i]} of the keys`);
    } finally {
      raw.close();
    }
  }
  console.log(`couchbase_cluster_test: each node holds its own vbuckets' keys (${expected.join(', ')})`);
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
  const results = await stopNodes();
  results.forEach((r, i) => {
    if (r.code !== 0) {
      console.error(`couchbase_cluster_test: FAIL: node ${i} ended with ${JSON.stringify(r)} on SIGTERM`);
      rc = 1;
    }
  });
  fs.rmSync(workdir, { recursive: true, force: true });
  if (rc === 0) console.log('couchbase_cluster_test: PASS');
  process.exit(rc);
})();

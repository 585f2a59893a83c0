// A minimal MCBP client over TLS or plain TCP, for what an SDK does not show
// (the cluster map it was given, the server's statistics). Tests only.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const tls = require('node:tls');

// Rejects after `ms` with a message naming `what`.
function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]);
}

class RawMcbpClient {
  // { port, useTls, ca }: with TLS, the chain is verified against `ca`.
  static open({ port, useTls, ca }) {
    return new Promise((resolve, reject) => {
      const onError = (e) => reject(e);
      // tls.connect verifies the chain against `ca` and 127.0.0.1 against the
      // certificate's IP SAN (what cxx-client >= 1.4 checks as well).
      const sock = useTls
        ? tls.connect({ host: '127.0.0.1', port, ca: fs.readFileSync(ca) }, () => resolve(new RawMcbpClient(sock)))
        : net.connect({ host: '127.0.0.1', port }, () => resolve(new RawMcbpClient(sock)));
      sock.once('error', onError);
      sock.setTimeout(10000, () => sock.destroy(new Error('raw MCBP connection: no data for 10 s')));
    });
  }

  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.waiters = [];
    this.error = null;
    this.opaque = 1;
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.pump();
    });
    const fail = (e) => {
      this.error = e || new Error('connection closed');
      this.pump();
    };
    sock.on('error', fail);
    sock.on('close', () => fail(null));
  }

  pump() {
    while (this.waiters.length > 0) {
      if (this.buf.length >= 24 && this.buf.length >= 24 + this.buf.readUInt32BE(8)) {
        const total = 24 + this.buf.readUInt32BE(8);
        const p = this.buf.subarray(0, total);
        this.buf = this.buf.subarray(total);
        const keylen = p.readUInt16BE(2);
        const extlen = p[4];
        this.waiters.shift().resolve({
          magic: p[0], opcode: p[1], status: p.readUInt16BE(6), opaque: p.readUInt32BE(12),
          key: p.subarray(24 + extlen, 24 + extlen + keylen).toString(),
          value: p.subarray(24 + extlen + keylen),
        });
      } else if (this.error) {
        this.waiters.shift().reject(this.error);
      } else {
        return;
      }
    }
  }

  next() {
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.pump();
    });
  }

  send(opcode, { key: k = '', value = Buffer.alloc(0) } = {}) {
    const kb = Buffer.from(k);
    const vb = Buffer.from(value);
    const h = Buffer.alloc(24);
    h[0] = 0x80;
    h[1] = opcode;
    h.writeUInt16BE(kb.length, 2);
    h.writeUInt32BE(kb.length + vb.length, 8);
    h.writeUInt32BE(this.opaque++, 12);
    this.sock.write(Buffer.concat([h, kb, vb]));
  }

  async call(opcode, opts, what) {
    this.send(opcode, opts);
    const r = await withTimeout(this.next(), 10000, what);
    assert.equal(r.magic, 0x81, `${what}: response magic 0x${r.magic.toString(16)}`);
    assert.equal(r.opcode, opcode, `${what}: response opcode`);
    return r;
  }

  async auth(user) {
    const r = await this.call(0x21, { key: 'PLAIN', value: `\0${user.username}\0${user.password}` }, 'SASL_AUTH PLAIN');
    assert.equal(r.status, 0, `SASL_AUTH PLAIN as ${user.username}: status 0x${r.status.toString(16)}`);
  }

  async stats() {
    this.send(0x10);
    const out = {};
    for (;;) {
      const r = await withTimeout(this.next(), 10000, 'STAT');
      assert.equal(r.status, 0, `STAT: status 0x${r.status.toString(16)}`);
      if (r.key === '') return out;
      out[r.key] = r.value.toString();
    }
  }

  close() {
    this.sock.end();
    this.sock.destroy();
  }
}

module.exports = { RawMcbpClient, withTimeout };

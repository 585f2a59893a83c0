#!/usr/bin/env python3
"""Range-scan throughput of a running memkv (RANGE_SCAN_CREATE / CONTINUE, 0xda / 0xdb).

Starts nothing itself. Fills --docs documents of --size bytes with pipelined SETQs (skip with
--no-fill), then scans all 1024 vbuckets as a Couchbase SDK does (one scan per vbucket,
CONTINUE with a byte limit until RANGE_SCAN_COMPLETE) over --concurrency connections, and
prints docs/s, MB/s and, given --pid, the server's peak RSS (VmHWM).

Example (1 GiB of 1 KiB values):
  build/release/memkv -p 0 --port-file /tmp/port -m 2048 -t 2 &
  python3 bench/scan_bench.py --port $(cat /tmp/port) --pid $!
"""
import argparse
import base64
import json
import socket
import struct
import sys
import threading
import time
import zlib

HEADER = struct.Struct(">BBHBBHIIQ")
OP_SETQ, OP_NOOP = 0x11, 0x0A
OP_CREATE, OP_CONTINUE = 0xDA, 0xDB
ST_SUCCESS, ST_ENOENT, ST_MORE, ST_COMPLETE = 0x00, 0x01, 0xA6, 0xA7


def vbucket_of(key: bytes) -> int:
    return ((zlib.crc32(key) >> 16) & 0x7FFF) % 1024


def request(op, key=b"", value=b"", extras=b"", vbucket=0, opaque=0, datatype=0):
    return HEADER.pack(0x80, op, len(key), len(extras), datatype, vbucket,
                       len(extras) + len(key) + len(value), opaque, 0) + extras + key + value


class Conn:
    def __init__(self, host, port, timeout=60):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0

    def _fill(self, need):
        while len(self.buf) - self.pos < need:
            if self.pos > (1 << 20):
                del self.buf[:self.pos]
                self.pos = 0
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("server closed the connection")
            self.buf += chunk

    def response(self):
        """(opcode, status, opaque, extras, value) of the next response."""
        self._fill(24)
        magic, op, keylen, extlen, _dt, status, bodylen, opaque, _cas = HEADER.unpack_from(
            self.buf, self.pos)
        if magic != 0x81:
            raise RuntimeError(f"bad response magic 0x{magic:02x}")
        self._fill(24 + bodylen)
        start = self.pos + 24
        with memoryview(self.buf) as view:
            extras = bytes(view[start:start + extlen])
            value = bytes(view[start + extlen + keylen:start + bodylen])
        self.pos += 24 + bodylen
        return op, status, opaque, extras, value

    def send(self, data):
        self.sock.sendall(data)


def fill(conn, docs, size, batch=2000):
    value = (b"0123456789abcdef" * (size // 16 + 1))[:size]
    extras = struct.pack(">II", 0, 0)
    t0 = time.monotonic()
    for first in range(0, docs, batch):
        out = bytearray()
        for i in range(first, min(docs, first + batch)):
            out += request(OP_SETQ, b"doc:%d" % i, value, extras)
        out += request(OP_NOOP, opaque=0xFEED)
        conn.send(out)
        op, status, opaque, _, _ = conn.response()
        if op != OP_NOOP or opaque != 0xFEED:
            raise RuntimeError(f"SETQ failed: opcode 0x{op:02x} status 0x{status:04x}")
    return time.monotonic() - t0


def leb(view, pos):
    n = shift = 0
    while True:
        b = view[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return n, pos
        shift += 7


def count_items(value, key_only):
    """(documents, key+value bytes) in one CONTINUE response's value."""
    docs = nbytes = pos = 0
    end = len(value)
    while pos < end:
        if not key_only:
            pos += 25  # flags, expiry, seqno, cas, datatype
        klen, pos = leb(value, pos)
        pos += klen
        nbytes += klen
        if not key_only:
            vlen, pos = leb(value, pos)
            pos += vlen
            nbytes += vlen
        docs += 1
    if pos != end:
        raise RuntimeError("malformed CONTINUE value")
    return docs, nbytes


def scan_vbuckets(conn, vbuckets, byte_limit, key_only, totals, lock):
    config = {"range": {"start": "", "end": base64.b64encode(b"\xf4\x8f\xfb\xfb").decode()}}
    if key_only:
        config["key_only"] = True
    body = json.dumps(config).encode()
    docs = nbytes = wire = continues = 0
    for vb in vbuckets:
        conn.send(request(OP_CREATE, value=body, vbucket=vb, opaque=1))
        _, status, _, _, value = conn.response()
        if status == ST_ENOENT:
            continue
        if status != ST_SUCCESS:
            raise RuntimeError(f"CREATE vbucket {vb}: status 0x{status:04x}")
        scan_id = bytes(value)
        extras = scan_id + struct.pack(">III", 0, 0, byte_limit)
        while True:
            conn.send(request(OP_CONTINUE, extras=extras, vbucket=vb, opaque=2))
            continues += 1
            while True:
                op, status, opaque, ext, value = conn.response()
                if op != OP_CONTINUE or opaque != 2 or len(ext) != 4:
                    raise RuntimeError(f"unexpected response op 0x{op:02x} status 0x{status:04x}")
                if status not in (ST_SUCCESS, ST_MORE, ST_COMPLETE):
                    raise RuntimeError(f"CONTINUE vbucket {vb}: status 0x{status:04x}")
                d, b = count_items(value, key_only)
                docs += d
                nbytes += b
                wire += 24 + 4 + len(value)
                if status != ST_SUCCESS:
                    break
            if status == ST_COMPLETE:
                break
    with lock:
        totals["docs"] += docs
        totals["bytes"] += nbytes
        totals["wire"] += wire
        totals["continues"] += continues


def peak_rss(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        return fields["VmHWM"].strip(), fields["VmRSS"].strip()
    except OSError:
        return None, None


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int, help="server pid, to report its peak RSS")
    p.add_argument("--size", type=int, default=1024, help="value size (default 1 KiB)")
    p.add_argument("--docs", type=int, help="documents (default: 1 GiB / size)")
    p.add_argument("--no-fill", action="store_true", help="scan what is already stored")
    p.add_argument("--byte-limit", type=int, default=1 << 20,
                   help="CONTINUE byte limit (default 1 MiB; 0 = none)")
    p.add_argument("--concurrency", type=int, default=1, help="connections scanning at once")
    p.add_argument("--key-only", action="store_true")
    args = p.parse_args()
    docs = args.docs if args.docs is not None else (1 << 30) // args.size

    if not args.no_fill:
        conn = Conn(args.host, args.port)
        secs = fill(conn, docs, args.size)
        mb = docs * args.size / 1e6
        print(f"fill: {docs} docs of {args.size} B in {secs:.1f} s "
              f"({docs / secs:,.0f} docs/s, {mb / secs:,.1f} MB/s)")
        if args.pid:
            hwm, rss = peak_rss(args.pid)
            print(f"server after fill: VmHWM {hwm}, VmRSS {rss}")

    conns = [Conn(args.host, args.port) for _ in range(args.concurrency)]
    totals = {"docs": 0, "bytes": 0, "wire": 0, "continues": 0}
    lock = threading.Lock()
    errors = []

    def worker(i):
        try:
            scan_vbuckets(conns[i], range(i, 1024, args.concurrency), args.byte_limit,
                          args.key_only, totals, lock)
        except Exception as e:  # reported below
            errors.append(f"connection {i}: {e!r}")

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.monotonic() - t0
    if errors:
        print("errors:\n  " + "\n  ".join(errors), file=sys.stderr)
        return 1
    mode = "key-only" if args.key_only else "documents"
    print(f"scan ({mode}, byte limit {args.byte_limit}, {args.concurrency} connection(s)): "
          f"{totals['docs']} docs in {secs:.2f} s, {totals['continues']} CONTINUEs")
    print(f"  {totals['docs'] / secs:,.0f} docs/s, {totals['bytes'] / secs / 1e6:,.1f} MB/s "
          f"of keys+values, {totals['wire'] / secs / 1e6:,.1f} MB/s on the wire")
    if not args.no_fill and totals["docs"] != docs:
        print(f"warning: scanned {totals['docs']} docs, stored {docs} "
              "(others already there, or evicted)", file=sys.stderr)
    if args.pid:
        hwm, rss = peak_rss(args.pid)
        print(f"server: VmHWM (peak RSS) {hwm}, VmRSS {rss}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

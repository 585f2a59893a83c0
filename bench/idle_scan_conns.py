#!/usr/bin/env python3
"""Holds --conns connections to a running memkv, each brought to the state a Couchbase SDK
leaves it in: authenticated (SASL PLAIN), and, unless --no-scan, after one range scan run to
its end (RANGE_SCAN_CREATE, CONTINUE until RANGE_SCAN_COMPLETE). Prints READY once every
connection is there, then holds them idle for --hold seconds so bench/run.sh can read the
server's RSS. --fill stores the one document the scans find (run it once before measuring).

Example:
  python3 bench/idle_scan_conns.py --port 11211 --user bench --password pw --conns 1 --fill
  python3 bench/idle_scan_conns.py --port 11211 --user bench --password pw --conns 2000
"""
import argparse
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scan_bench import Conn, request, scan_vbuckets, vbucket_of  # noqa: E402

OP_SET, OP_SASL_AUTH = 0x01, 0x21
KEY = b"idle-scan-doc"


def authenticate(conn, user, password):
    conn.send(request(OP_SASL_AUTH, key=b"PLAIN", value=b"\0" + user + b"\0" + password))
    _, status, _, _, _ = conn.response()
    if status != 0:
        raise RuntimeError(f"SASL PLAIN: status 0x{status:04x}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--conns", type=int, default=1000)
    p.add_argument("--no-scan", action="store_true", help="authenticate only")
    p.add_argument("--fill", action="store_true", help="store the document the scans find")
    p.add_argument("--hold", type=float, default=0, help="seconds to hold after READY")
    args = p.parse_args()
    user, password = args.user.encode(), args.password.encode()
    vb = vbucket_of(KEY)
    conns = []
    totals = {"docs": 0, "bytes": 0, "wire": 0, "continues": 0}

    class NoLock:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    t0 = time.monotonic()
    for i in range(args.conns):
        conn = Conn(args.host, args.port)
        authenticate(conn, user, password)
        if args.fill and i == 0:
            conn.send(request(OP_SET, KEY, b"x" * 100, struct.pack(">II", 0, 0), vbucket=vb))
            _, status, _, _, _ = conn.response()
            if status != 0:
                raise RuntimeError(f"SET: status 0x{status:04x}")
        if not args.no_scan:
            scan_vbuckets(conn, [vb], 65536, False, totals, NoLock())
        conns.append(conn)
    if not args.no_scan and totals["docs"] != args.conns:
        raise RuntimeError(f"scans found {totals['docs']} documents, expected {args.conns}")
    print(f"READY conns={len(conns)} scanned={0 if args.no_scan else len(conns)} "
          f"setup_s={time.monotonic() - t0:.2f}", flush=True)
    time.sleep(args.hold)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""memkv-bench --cluster-map against three real memkv nodes sharing one map
(memkv-admin cluster-map): with --prefill and --verify every request goes to
its key's vbucket owner with that vbucket in its header, so no node answers
NOT_MY_VBUCKET (the run would count it as an error status), every GET hits,
and each node holds exactly the prefilled keys its vbuckets own. Counts
requests (--requests), never a duration.

Usage: memkv_bench_cluster_test.py MEMKV_BENCH MEMKV MEMKV_ADMIN.
Exit 0 when every check passes. Time bounds scale with MEMKV_TEST_TIME_SCALE.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

from tool_test_lib import SCALE, check, failures, free_ports, wait_port

BENCH, MEMKV, ADMIN = sys.argv[1:4]
KEYS = 3000


def curr_items(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10 * SCALE) as s:
        s.sendall(b"stats\r\n")
        data = b""
        while not data.endswith(b"END\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    for line in data.decode().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == "curr_items":
            return int(parts[2])
    return -1


def vbucket(key):
    import zlib
    return ((zlib.crc32(key.encode()) >> 16) & 0x7FFF) % 1024


def main():
    with tempfile.TemporaryDirectory() as tmp:
        ports = free_ports(3)
        map_path = os.path.join(tmp, "map.json")
        subprocess.run([ADMIN, "cluster-map", "--nodes",
                        ",".join(f"127.0.0.1:{p}" for p in ports), "--out", map_path],
                       check=True, capture_output=True, timeout=30 * SCALE)
        with open(map_path) as f:
            nodes = len(json.load(f)["nodes"])
        check("the map names three nodes", nodes == 3, str(nodes))
        procs = []
        try:
            for i, port in enumerate(ports):
                procs.append(subprocess.Popen(
                    [MEMKV, "-l", "127.0.0.1", "-p", str(port), "-t", "1", "--cluster-map",
                     map_path, "--node-index", str(i)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            for port, proc in zip(ports, procs):
                if not wait_port(port, proc, 20):
                    check(f"node on {port} starts", False)
                    return
            run = subprocess.run(
                [BENCH, "--cluster-map", map_path, "--conns", "6", "--pipeline", "8",
                 "--keys", str(KEYS), "--prefill", "--verify", "--requests", "20000",
                 "--timeout", str(int(120 * SCALE)), "--json"],
                capture_output=True, text=True, timeout=180 * SCALE)
            # A value that fails --verify makes it exit 1.
            check("memkv-bench exits 0", run.returncode == 0, run.stderr[-2000:])
            result = json.loads(run.stdout) if run.stdout.strip() else {}
            check("no error status (no NOT_MY_VBUCKET)", result.get("errors_by_status") in ({}, None),
                  str(result.get("errors_by_status")))
            check("every request answered", result.get("requests") == 20000, str(result.get("requests")))
            check("every GET hits", result.get("misses") == 0 and result.get("hits", 0) > 0,
                  f"hits {result.get('hits')} misses {result.get('misses')}")
            # Each node holds the prefilled keys its vbuckets own, and only those.
            with open(map_path) as f:
                owners = json.load(f)
            table = owners["vbuckets"]
            owner_of = (lambda vb: vb % 3) if table == "balanced" else (lambda vb: table[vb])
            expected = [0, 0, 0]
            for i in range(KEYS):
                expected[owner_of(vbucket(f"key:{i:012d}"))] += 1
            got = [curr_items(p) for p in ports]
            check("each node holds exactly its vbuckets' keys", got == expected,
                  f"got {got}, want {expected}")
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    code = proc.wait(timeout=20 * SCALE)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    code = proc.wait()
                check("a node exits cleanly on SIGTERM", code == 0, f"exit {code}")


if __name__ == "__main__":
    main()
    print(f"{len(failures)} failure(s)")
    sys.exit(1 if failures else 0)

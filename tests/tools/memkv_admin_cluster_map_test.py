#!/usr/bin/env python3
"""memkv-admin cluster-map as an operator runs it: a balanced map for three nodes, a fourth
node added from that file (only the new node's share moves, rev rises), a node removed, and
the mistakes it must refuse (exit 1, a message on stderr, no file written)."""
import json
import os
import subprocess
import sys
import tempfile

ADMIN = sys.argv[1]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(*args):
    return subprocess.run([ADMIN, "cluster-map", *args], capture_output=True, text=True, timeout=30)


def nodes(ports):
    return ",".join(f"127.0.0.1:{p}" for p in ports)


def owners_by_port(m):
    ports = [n["port"] for n in m["nodes"]]
    return [ports[i] for i in m["vbuckets"]]


with tempfile.TemporaryDirectory() as d:
    m3, m4, m3b = (os.path.join(d, n) for n in ("m3.json", "m4.json", "m3b.json"))
    r = run("--nodes", nodes([12000, 12001, 12002]), "--tls-ports", "13000,13001,13002", "--out", m3)
    check(r.returncode == 0, f"balanced map: {r.stderr}")
    a = json.load(open(m3))
    check(a["version"] == 1 and a["rev"] == 1 and a["revEpoch"] == 1, f"header {a}")
    check(len(a["vbuckets"]) == 1024, "1024 vbuckets")
    check(sorted(a["vbuckets"].count(i) for i in range(3)) == [341, 341, 342], "balanced counts")
    check([n.get("tls_port") for n in a["nodes"]] == [13000, 13001, 13002], "tls ports")

    r = run("--nodes", nodes([12000, 12001, 12002, 12003]), "--from", m3, "--out", m4)
    check(r.returncode == 0, f"add a node: {r.stderr}")
    check("moved 256 of 1024" in r.stderr, f"moved count on stderr: {r.stderr!r}")
    b = json.load(open(m4))
    check(b["rev"] == 2 and b["revEpoch"] == 1, f"rev rises, epoch stays: {b['rev']} {b['revEpoch']}")
    before, after = owners_by_port(a), owners_by_port(b)
    moved = [vb for vb in range(1024) if before[vb] != after[vb]]
    check(len(moved) == 256, f"{len(moved)} vbuckets moved")
    check(all(after[vb] == 12003 for vb in moved), "only to the new node")
    check([b["vbuckets"].count(i) for i in range(4)] == [256] * 4, "four even shares")

    r = run("--nodes", nodes([12000, 12002, 12003]), "--from", m4, "--rev", "10", "--out", m3b)
    check(r.returncode == 0, f"remove a node: {r.stderr}")
    c = json.load(open(m3b))
    check(c["rev"] == 10, "--rev taken")
    gone = [vb for vb in range(1024) if owners_by_port(b)[vb] == 12001]
    changed = [vb for vb in range(1024) if owners_by_port(b)[vb] != owners_by_port(c)[vb]]
    check(sorted(gone) == sorted(changed), "only the leaving node's vbuckets move")

    for args, message in [
        (["--nodes", "nohost"], "bad node"),
        (["--nodes", nodes([12000, 12000])], "listed twice"),
        (["--nodes", nodes([12000]), "--tls-ports", "1,2"], "one port per node"),
        (["--nodes", nodes([12000]), "--from", m4, "--rev", "2"], "rev must be higher"),
        (["--nodes", nodes([12000]), "--from", os.path.join(d, "missing.json")], "cannot open"),
        (["--nodes", nodes([12000]), "--bogus", "1"], "unknown option"),
        ([], "--nodes is required"),
    ]:
        out = os.path.join(d, "refused.json")
        r = run(*args, "--out", out)
        check(r.returncode == 1, f"{args}: exit {r.returncode}")
        check(message in r.stderr, f"{args}: stderr {r.stderr!r}")
        check(not os.path.exists(out), f"{args}: wrote a file")

print("failures:", len(failures))
sys.exit(1 if failures else 0)

#!/usr/bin/env python3
"""DCP stream throughput of memkv (issue 17), for bench/run.sh's (dcp-*) rows.

Starts one memkv, fills --docs documents of --size bytes with memkv-bench (memkv's own fill
rate), then, --rounds times each, alternately:
  - streams the whole bucket to one memkv-dcp consumer (backfill: every vbucket to its high
    seqno, 10 MiB window acknowledged at half);
  - range-scans it as the Couchbase SDK does (bench/scan_bench.py, one connection, 1 MiB
    CONTINUEs).
Then FLUSHes and fills again, twice: alone, and with a memkv-dcp following every vbucket (the
in-memory stream from the change logs keeps up with the fill, or shows what it cannot). Server CPU comes from /proc/PID/stat.
Prints one JSON object (the medians of the rounds) on stdout, the rounds on stderr.

  bench/dcp_bench.py --build build/release [--docs N] [--size B] [--rounds N]
                     [--server-cpus 0] [--client-cpus 1]
"""
import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scan_bench import Conn, scan_vbuckets  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")


def ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


def text(port, command):
    """One text-protocol command's reply lines (up to END, or the one line)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(command.encode() + b"\r\n")
        buf = b""
        while not (buf.endswith(b"END\r\n") or (buf.endswith(b"\r\n") and
                                               not buf.startswith(b"STAT"))):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return buf.decode().splitlines()


def stat(port, name, group=""):
    for line in text(port, ("stats " + group).strip()):
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] == name:
            return parts[2]
    return None


def summary(stderr):
    """memkv-dcp's summary line as {"mutations": N, ..., "span_s": seconds}."""
    out = {}
    for line in stderr.splitlines():
        if " mutations, " not in line:
            continue
        for n, what in re.findall(r"(\d+) ([a-z ]+?)(?:,|$)", line):
            out[what.strip()] = int(n)
        m = re.search(r"([0-9.e+-]+) s from the first change", line)
        if m:
            out["span_s"] = float(m.group(1))
    return out


class Bench:
    def __init__(self, args):
        self.a = args
        self.pin_server = ["taskset", "-c", args.server_cpus] if args.server_cpus else []
        self.pin_client = ["taskset", "-c", args.client_cpus] if args.client_cpus else []
        build = args.build
        self.memkv = os.path.join(build, "memkv")
        self.dcp = os.path.join(build, "memkv-dcp")
        self.fill_tool = os.path.join(build, "memkv-bench")
        self.tmp = tempfile.mkdtemp(prefix="memkv-dcp-bench-")
        port_file = os.path.join(self.tmp, "port")
        self.server = subprocess.Popen(
            self.pin_server + [self.memkv, "-l", "127.0.0.1", "-p", "0", "--port-file", port_file,
                               "-m", str(args.memory), "-t", str(args.threads)],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.tmp, "memkv.log"), "w"))
        deadline = time.monotonic() + 10
        while not (os.path.exists(port_file) and os.path.getsize(port_file) > 0):
            if time.monotonic() > deadline or self.server.poll() is not None:
                raise RuntimeError("memkv did not start")
            time.sleep(0.05)
        time.sleep(0.1)
        self.port = int(open(port_file).read())

    def close(self):
        self.server.terminate()
        self.server.wait(timeout=30)

    def fill(self):
        """(seconds, server CPU ticks) to set every document with memkv-bench."""
        before, t0 = ticks(self.server.pid), time.monotonic()
        subprocess.run(self.pin_client + [
            self.fill_tool, "--server", "127.0.0.1:%d" % self.port, "--threads", "1",
            "--conns", "50", "--pipeline", "16", "--keys", str(self.a.docs), "--key-prefix", "doc:",
            "--key-digits", "8", "--value-size", str(self.a.size), "--prefill", "--duration", "0",
            "--json"], check=True, stdout=subprocess.DEVNULL, timeout=600)
        return time.monotonic() - t0, ticks(self.server.pid) - before

    def consumer(self, name, *extra):
        return subprocess.Popen(self.pin_client + [self.dcp, "--port", str(self.port), "--name",
                                                   name] + list(extra),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def backfill(self, r):
        before, t0 = ticks(self.server.pid), time.monotonic()
        p = self.consumer("backfill-%d" % r)
        err = p.communicate(timeout=600)[1]
        secs, cpu = time.monotonic() - t0, ticks(self.server.pid) - before
        if p.returncode != 0:
            raise RuntimeError("memkv-dcp exited %d: %s" % (p.returncode, err[-500:]))
        s = summary(err)
        return {"items": s["mutations"], "bytes": s["bytes"], "seconds": secs,
                "items_per_s": s["mutations"] / secs, "mb_per_s": s["bytes"] / secs / 1e6,
                "cpu_us_per_item": cpu * 1e6 / HZ / max(1, s["mutations"])}

    def scan(self):
        conn = Conn("127.0.0.1", self.port)
        totals = {"docs": 0, "bytes": 0, "wire": 0, "continues": 0}
        before, t0 = ticks(self.server.pid), time.monotonic()
        scan_vbuckets(conn, range(1024), 1 << 20, False, totals, threading.Lock())
        secs, cpu = time.monotonic() - t0, ticks(self.server.pid) - before
        conn.sock.close()
        return {"items": totals["docs"], "bytes": totals["wire"], "seconds": secs,
                "items_per_s": totals["docs"] / secs, "mb_per_s": totals["wire"] / secs / 1e6,
                "cpu_us_per_item": cpu * 1e6 / HZ / max(1, totals["docs"])}

    def refill(self, follow):
        """FLUSH, then the fill again (into memory the first fill already touched), with a
        memkv-dcp following every vbucket or without one."""
        text(self.port, "flush_all")
        p = None
        if follow:
            p = self.consumer("following", "--follow", "--quiet-exit", "3")
            deadline = time.monotonic() + 30
            while stat(self.port, "dcp_streams", "dcp") != "1024":
                if time.monotonic() > deadline:
                    raise RuntimeError("the following consumer's streams did not open")
                time.sleep(0.05)
        secs, cpu = self.fill()
        out = {"fill_s": secs, "fill_per_s": self.a.docs / secs,
               "fill_cpu_us_per_doc": cpu * 1e6 / HZ / self.a.docs}
        if p is None:
            return out
        err = p.communicate(timeout=600)[1]
        s = summary(err)
        if p.returncode != 0 or "span_s" not in s:
            raise RuntimeError("following memkv-dcp exited %d: %s" % (p.returncode, err[-500:]))
        out.update({"items": s["mutations"], "bytes": s["bytes"],
                    "items_per_s": s["mutations"] / max(s["span_s"], 1e-9),
                    "mb_per_s": s["bytes"] / max(s["span_s"], 1e-9) / 1e6,
                    "change_logs_dropped": int(stat(self.port, "dcp_change_log_dropped", "dcp")
                                               or 0),
                    "cursors_dropped": int(stat(self.port, "dcp_cursors_dropped", "dcp") or 0)})
        return out


def median_of(rounds, key):
    return statistics.median(r[key] for r in rounds)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", required=True, help="the build directory (memkv, memkv-dcp, memkv-bench)")
    p.add_argument("--docs", type=int, default=1 << 20, help="documents (default 1 Mi: 1 GiB of 1 KiB)")
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--memory", type=int, default=2048, help="memkv -m (MiB)")
    p.add_argument("--threads", type=int, default=1, help="memkv -t")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--server-cpus", default="")
    p.add_argument("--client-cpus", default="")
    a = p.parse_args()
    b = Bench(a)
    try:
        fill_s, fill_ticks = b.fill()
        stored = int(stat(b.port, "curr_items") or 0)
        if stored != a.docs:
            raise RuntimeError("memkv holds %d of the %d documents" % (stored, a.docs))
        dcp, scan = [], []
        for r in range(a.rounds):
            dcp.append(b.backfill(r))
            scan.append(b.scan())
            print("round %d: dcp %s / scan %s" % (r, json.dumps(dcp[-1]), json.dumps(scan[-1])),
                  file=sys.stderr)
        rss = rss_mib(b.server.pid)
        alone = b.refill(False)
        follow = b.refill(True)
        print("refill alone: %s\nrefill followed: %s" % (json.dumps(alone), json.dumps(follow)),
              file=sys.stderr)
    finally:
        b.close()
    out = {"docs": a.docs, "size": a.size, "rounds": a.rounds, "rss_mib": rss,
           "fill_per_s": a.docs / fill_s, "fill_cpu_us_per_doc": fill_ticks * 1e6 / HZ / a.docs,
           "fill_mb_per_s": a.docs * a.size / fill_s / 1e6,
           "backfill": {k: median_of(dcp, k) for k in dcp[0]},
           "scan": {k: median_of(scan, k) for k in scan[0]},
           "ratio_items_per_s": statistics.median(d["items_per_s"] / s["items_per_s"]
                                                  for d, s in zip(dcp, scan)),
           "ratio_cpu_per_item": statistics.median(d["cpu_us_per_item"] / s["cpu_us_per_item"]
                                                   for d, s in zip(dcp, scan)),
           "refill": alone, "following": follow}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

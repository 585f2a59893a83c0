"""Issue 17's consumer scenario with memkv-dcp (docs/dcp.md): four writers make 200,000
mutations, deletions and expiries (MEMKV_DCP_SCENARIO_OPS) while consumers stream all 1024
vbuckets: a fast one; a slow one with a 2 KiB window, stopped (SIGSTOP) while the writes go
on, so the change logs drop its cursors and it must backfill; one that disconnects after a
second and resumes from its saved seqnos; one that closes every stream midway. Each run of
memkv-dcp checks the order of what it gets (exit status 3 otherwise); the test checks that
the complete consumers end with every key's final state, that the change logs stayed within
their bound (-m / 16), and that the server's memory stayed within -m plus a margin.

usage: memkv_dcp_scenario_test.py MEMKV MEMKV_DCP"""
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tool_test_lib import SCALE, Text, check, failures, free_ports, wait_port  # noqa: E402

MEMKV, DCP = sys.argv[1], sys.argv[2]
OPS = int(os.environ.get("MEMKV_DCP_SCENARIO_OPS", "200000"))
WRITERS = 4
MEGABYTES = 64


def writer(port, w, n, model, lock):
    """n operations on this writer's own keys: stores, stores again, deletes, expiries."""
    c = Text(port)
    mine = {}
    stores = n // 2
    batch = []

    def flush():
        c.send(b"".join(batch))
        batch.clear()

    def store(key, value, exptime=0):
        batch.append(b"set %s 0 %d %d noreply\r\n%s\r\n" % (key, exptime, len(value), value))
        if len(batch) >= 500:
            flush()

    for i in range(stores):
        key = b"w%d-%d" % (w, i)
        value = b"v0-%d-%s" % (i, b"x" * (i % 40))
        store(key, value)
        mine[key] = len(value)
    for i in range(0, stores, 2):  # a quarter of the operations: stores again
        key = b"w%d-%d" % (w, i)
        value = b"v1-%d" % i
        store(key, value)
        mine[key] = len(value)
    for i in range(0, stores, 4)[: n // 8]:  # an eighth: deletions
        key = b"w%d-%d" % (w, i)
        batch.append(b"delete %s noreply\r\n" % key)
        mine[key] = None
    expiring = []
    for i in range(n - stores - stores // 2 - min(len(range(0, stores, 4)), n // 8)):
        key = b"e%d-%d" % (w, i)  # the rest: expiries (1 s)
        store(key, b"short-lived", 1)
        mine[key] = None
        expiring.append(key)
    flush()
    c.sync()
    with lock:
        model.update(mine)
        model.setdefault(b"", []).extend(expiring)


SEQNOS = {}


def read_dump(path):
    out = {}
    with open(path) as f:
        for line in f:
            vb, key, seqno, what, length = line.split()
            out[key.encode()] = None if what == "del" else int(length)
            SEQNOS[(path, key.encode())] = (int(vb), int(seqno))
    return out


def compare(name, dump, model):
    wrong = [k for k, v in model.items() if dump.get(k, "missing") != v]
    check(name + ": every key's final state (%d keys)" % len(model), not wrong,
          "%d wrong, e.g. %s" % (len(wrong), [(k, model[k], dump.get(k, "missing"),
                                                [v for (p, kk), v in SEQNOS.items() if kk == k])
                                               for k in wrong[:6]]))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    (port,) = free_ports(1)
    server = subprocess.Popen([MEMKV, "-l", "127.0.0.1", "-p", str(port), "-m", str(MEGABYTES)])
    tmp = tempfile.mkdtemp(prefix="memkv-dcp-scenario-")
    procs = []
    try:
        if not wait_port(port, server, 20):
            check("server listens", False)
            return
        admin = Text(port)

        def consumer(name, *args):
            p = subprocess.Popen([DCP, "--port", str(port), "--name", name,
                                  "--dump", os.path.join(tmp, name + ".dump")] + list(args),
                                 stderr=subprocess.PIPE, text=True)
            procs.append(p)
            return p

        quiet = str(4 * SCALE)
        fast = consumer("fast", "--follow", "--quiet-exit", quiet, "--noop-interval", "1")
        slow = consumer("slow", "--follow", "--quiet-exit", quiet, "--window", "2048",
                        "--read-delay-us", "20")
        state = os.path.join(tmp, "resume.state")
        resume1 = consumer("resume", "--follow", "--duration", "1", "--state", state)
        closer = consumer("closer", "--follow", "--close-after", "10", "--quiet-exit", quiet)
        # Every consumer's streams are open before the first write.
        deadline = time.monotonic() + 30 * SCALE
        while time.monotonic() < deadline:
            s = admin.stats("dcp")
            if int(s["dcp_producers"]) == 4 and int(s["dcp_streams"]) >= 3 * 1024:
                break
            time.sleep(0.05)
        os.kill(slow.pid, signal.SIGSTOP)

        model, lock, threads = {}, threading.Lock(), []
        for w in range(WRITERS):
            t = threading.Thread(target=writer, args=(port, w, OPS // WRITERS, model, lock))
            t.start()
            threads.append(t)
        peak_log, peak_rss = 0, 0
        while any(t.is_alive() for t in threads):
            s = admin.stats("dcp")
            peak_log = max(peak_log, int(s["dcp_change_log_bytes"]))
            peak_rss = max(peak_rss, rss_kib(server.pid))
            time.sleep(0.05)
        for t in threads:
            t.join()
        expiring = model.pop(b"")
        check("writers: %d keys" % len(model), len(model) > OPS // 2)

        # The first run of the resuming consumer ended after a second; it goes on from its
        # saved seqnos while the expiries come due.
        err = resume1.communicate(timeout=60 * SCALE)[1]
        check("resume: first run exits 0", resume1.returncode == 0, err)
        resume2 = consumer("resume", "--follow", "--quiet-exit", quiet, "--state", state)
        time.sleep(1.5)
        # A reader finds the expired documents: each expiry becomes a removal the streams send.
        for i in range(0, len(expiring), 200):
            admin.send(b"get " + b" ".join(expiring[i:i + 200]) + b"\r\n")
            while admin.line() != "END":
                pass
        os.kill(slow.pid, signal.SIGCONT)
        s = admin.stats("dcp")
        check("the change logs let go of what the stopped consumer had not read",
              int(s["dcp_change_log_dropped"]) > 0, str(s))

        for name, p in (("fast", fast), ("slow", slow), ("resume", resume2),
                        ("closer", closer)):
            try:
                err = p.communicate(timeout=300 * SCALE)[1]
            except subprocess.TimeoutExpired:
                p.kill()
                err = p.communicate()[1]
            check(name + ": exits 0 (order kept)", p.returncode == 0, err[-2000:])
        s = admin.stats("dcp")
        check("the stopped consumer's cursors were dropped, and it backfilled",
              int(s["dcp_cursors_dropped"]) > 0, str(s))
        for name in ("fast", "slow", "resume"):
            compare(name, read_dump(os.path.join(tmp, name + ".dump")), model)
        closed = read_dump(os.path.join(tmp, "closer.dump"))
        check("closer: stopped early (%d keys)" % len(closed), 0 < len(closed) < len(model))
        bound = MEGABYTES * 1024 * 1024 // 16
        check("change logs within -m/16 (peak %d bytes)" % peak_log, peak_log <= bound + 4096)
        if os.environ.get("MEMKV_SANITIZED") == "1":
            print("(RSS bound not checked under sanitizers: peak %d KiB)" % peak_rss)
        else:
            check("server RSS within -m + 48 MiB (peak %d KiB)" % peak_rss,
                  peak_rss <= (MEGABYTES + 48) * 1024)
        check("nothing left buffered or logged once the consumers left",
              wait_for(lambda: admin.stats("dcp"),
                       lambda s: s["dcp_buffered_bytes"] == "0" and
                       s["dcp_change_log_bytes"] == "0" and s["dcp_producers"] == "0"))
    finally:
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGCONT)
                p.kill()
                p.wait()
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=30 * SCALE)
        check("server exits 0", code == 0, "exit %s" % code)


def wait_for(get, pred):
    deadline = time.monotonic() + 10 * SCALE
    while True:
        v = get()
        if pred(v) or time.monotonic() > deadline:
            return pred(v)
        time.sleep(0.05)


main()
if failures:
    print("FAILED:", failures)
    sys.exit(1)

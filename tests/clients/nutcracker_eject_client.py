#!/usr/bin/python3
"""The client half of nutcracker_eject_test.sh: pymemcache through nutcracker on
127.0.0.1:$NUTCRACKER_PORT (ketama over three servers, auto_eject_hosts), and
directly to the servers ($SHARD_PORTS, "A,B,C") to see where the keys landed.
Server C ($SHARD_VICTIM_PID) is killed half way. Every expectation was verified
against memcached 1.6.18. Exits 0 only if every check passed.
"""
import os
import signal
import time

import check_run
from check_run import check, curr_items, run

N = 3000


def client(port):
    return check_run.client(port, timeout=5)


def get_all(c, keys):
    """Multi-gets in batches of 100 (one request line stays short)."""
    got = {}
    for i in range(0, len(keys), 100):
        got.update(c.get_many(keys[i:i + 100]))
    return got


def until(what, attempt, seconds=15, tries=300):
    """Runs attempt() until it returns a true value without raising, at most
    `tries` times and `seconds` seconds, 50 ms apart. Returns (value, tries used);
    value is None when it never succeeded."""
    deadline = time.monotonic() + seconds
    last = None
    for n in range(1, tries + 1):
        try:
            value = attempt()
            if value:
                return value, n
        except Exception as e:  # the proxy's SERVER_ERROR, a closed connection
            last = f"{type(e).__name__}: {e}"
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    print(f"     {what}: gave up after {n} tries (last error: {last})")
    return None, n


def main():
    ports = os.environ["SHARD_PORTS"].split(",")
    proxy_port = os.environ["NUTCRACKER_PORT"]
    proxy = client(proxy_port)
    nodes = [client(p) for p in ports]
    for name, c in zip("ABC", nodes):
        check(f"server {name} starts empty", curr_items(c), 0)

    # N keys through the proxy, values that differ in content and length.
    keys = [f"shard:{i:05d}" for i in range(N)]
    want = {k: (f"{i}:{k}|" * (1 + i % 17)).encode() for i, k in enumerate(keys)}
    check(f"{N} sets through the proxy", sum(proxy.set(k, v) for k, v in want.items()), N)
    got = get_all(proxy, keys)
    check(f"{N} values read back through the proxy", got == want, True)
    check("single gets through the proxy", all(proxy.get(k) == want[k] for k in keys[::50]), True)

    # Ketama put a share on every server; each key is on exactly one of them.
    counts = [curr_items(c) for c in nodes]
    print(f"     curr_items A/B/C: {counts}")
    for name, n in zip("ABC", counts):
        check(f"server {name} holds a share (> {N // 10})", n > N // 10, True)
    check(f"the servers hold {N} items in total", sum(counts), N)
    direct = [get_all(c, keys) for c in nodes]
    check("each server's keys match its curr_items", [len(d) for d in direct], counts)
    check("no key on two servers", sum(len(d) for d in direct) == len({k for d in direct for k in d}), True)
    check("the values on the servers are the proxy's", {**direct[0], **direct[1], **direct[2]} == want, True)
    on_c = sorted(direct[2])
    on_ab = {**direct[0], **direct[1]}

    # Kill C as a crash would; nutcracker ejects it at its first failure
    # (server_failure_limit 1) and rebuilds the ketama ring over A and B.
    os.kill(int(os.environ["SHARD_VICTIM_PID"]), signal.SIGKILL)
    nodes[2].close()
    started = time.monotonic()
    probe = on_c[0]

    def probe_misses():
        # A miss, not an error: the key now maps to A or B, which never had it.
        c = client(proxy_port)
        try:
            return c.get(probe) is None and c.set(probe, want[probe]) and c.get(probe) == want[probe]
        finally:
            c.close()

    ok, tries = until("ejection of C", probe_misses)
    check("the proxy ejects C and serves its keys from A or B", ok, True)
    print(f"     ejection seen after {tries} tries, {time.monotonic() - started:.2f} s")

    proxy.close()
    proxy = client(proxy_port)
    # C's keys now read as misses; A's and B's keys are intact, through the
    # proxy and directly.
    got = get_all(proxy, keys)
    check("C's keys read as misses through the proxy", sorted(k for k in on_c if k in got), [probe])
    check("A's and B's keys read back unchanged through the proxy",
          {k: v for k, v in got.items() if k != probe} == on_ab, True)
    check("A still holds its items", get_all(nodes[0], list(direct[0])) == direct[0], True)
    check("B still holds its items", get_all(nodes[1], list(direct[1])) == direct[1], True)

    # Refill C's keys through the proxy; every key is served again, from A and B.
    refilled = sum(proxy.set(k, want[k]) for k in on_c)
    check(f"{len(on_c)} refills through the proxy", refilled, len(on_c))
    check(f"all {N} keys read back through the proxy", get_all(proxy, keys) == want, True)
    counts = [curr_items(c) for c in nodes[:2]]
    print(f"     curr_items A/B after the refill: {counts}")
    check(f"A and B hold {N} items in total", sum(counts), N)
    moved = [get_all(c, on_c) for c in nodes[:2]]
    check("C's keys are split over A and B", all(len(m) > 0 for m in moved), True)
    check("A's and B's values are the proxy's", {**get_all(nodes[0], keys), **get_all(nodes[1], keys)} == want,
          True)

    # Writes of every kind keep working through the proxy with C gone.
    check("delete through the proxy", proxy.delete(on_c[1]), True)
    check("add through the proxy", proxy.add(on_c[1], b"again"), True)
    check("get after add", proxy.get(on_c[1]), b"again")
    proxy.set("shard:ctr", b"41")
    check("incr through the proxy", proxy.incr("shard:ctr", 1), 42)
    for c in [proxy, *nodes[:2]]:
        c.close()


if __name__ == "__main__":
    run("nutcracker_eject_test", main)

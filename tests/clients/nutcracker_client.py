#!/usr/bin/python3
"""The client half of nutcracker_test.sh: pymemcache through nutcracker on
127.0.0.1:$NUTCRACKER_PORT, and directly to the two servers behind it
($NUTCRACKER_BACKEND_A, $NUTCRACKER_BACKEND_B) to see where the keys landed.
Every expectation was verified against memcached 1.6.18. Exits 0 only if every
check passed.
"""
import os

import check_run
from check_run import check, curr_items, run
from pymemcache.exceptions import MemcacheServerError

MIB = 1024 * 1024


def client(port):
    return check_run.client(port, timeout=10)


def main():
    proxy = client(os.environ["NUTCRACKER_PORT"])
    a = client(os.environ["NUTCRACKER_BACKEND_A"])
    b = client(os.environ["NUTCRACKER_BACKEND_B"])
    check("backend A starts empty", curr_items(a), 0)
    check("backend B starts empty", curr_items(b), 0)

    # 1,200 keys written through the proxy, read back with one multi-get that
    # nutcracker splits per backend and merges.
    keys = [f"proxy:{i:05d}" for i in range(1200)]
    want = {k: (f"v{i}-" * (1 + i % 13)).encode() for i, k in enumerate(keys)}
    check("1,200 sets through the proxy", sum(proxy.set(k, v) for k, v in want.items()), 1200)
    got = proxy.get_many(keys + ["proxy:absent-1", "proxy:absent-2"])
    check("multi-get through the proxy returns the stored keys", sorted(got), sorted(want))
    check("multi-get values all match", sum(got.get(k) == v for k, v in want.items()), 1200)
    # Noreply sets through the proxy are applied too.
    nr = check_run.client(os.environ["NUTCRACKER_PORT"], default_noreply=True)
    for i in range(100):
        nr.set(f"proxy:nr:{i}", str(i).encode())
    check("noreply sets through the proxy", nr.get_many([f"proxy:nr:{i}" for i in range(100)]),
          {f"proxy:nr:{i}": str(i).encode() for i in range(100)})
    for i in range(100):
        nr.delete(f"proxy:nr:{i}")
    check("noreply deletes through the proxy", nr.get_many([f"proxy:nr:{i}" for i in range(100)]), {})
    nr.close()

    # Both backends hold a share; together exactly the 1,200 keys; each key is on
    # exactly one backend.
    on_a, on_b = curr_items(a), curr_items(b)
    check("backend A got keys", on_a > 100, True)
    check("backend B got keys", on_b > 100, True)
    check("backends hold 1,200 items in total", on_a + on_b, 1200)
    direct_a, direct_b = a.get_many(keys), b.get_many(keys)
    check("backend A's keys match its curr_items", len(direct_a), on_a)
    check("no key on both backends", set(direct_a) & set(direct_b), set())
    check("values on the backends are the proxy's", {**direct_a, **direct_b} == want, True)

    # delete / incr / decr / cas / add through the proxy.
    deleted = sum(proxy.delete(k) for k in keys[:100])
    check("100 deletes through the proxy", deleted, 100)
    check("delete of a missing key through the proxy", proxy.delete(keys[0]), False)
    check("backends hold 1,100 items after the deletes", curr_items(a) + curr_items(b), 1100)
    check("multi-get after deletes", len(proxy.get_many(keys)), 1100)
    proxy.set("proxy:ctr", b"10")
    check("incr through the proxy", proxy.incr("proxy:ctr", 5), 15)
    check("decr through the proxy", proxy.decr("proxy:ctr", 20), 0)
    check("incr of a missing key through the proxy", proxy.incr("proxy:ctr:absent", 1), None)
    check("add of an existing key through the proxy", proxy.add(keys[500], b"x"), False)
    value, token = proxy.gets(keys[500])
    check("gets through the proxy", value, want[keys[500]])
    check("cas through the proxy", proxy.cas(keys[500], b"new", token), True)
    check("stale cas through the proxy", proxy.cas(keys[500], b"newer", token), False)
    check("value after cas", proxy.get(keys[500]), b"new")

    # Large values through the proxy (it spreads them over many 16 KiB mbufs):
    # 1 MiB minus memcached's item overhead stores; 1 MiB + 1 gets the backend's
    # SERVER_ERROR back, and the proxy connection keeps working.
    key = "proxy:large"
    big = bytes((i * 7 + 3) % 251 for i in range(MIB - 48 - 8 - len(key) - 1 - 2))
    check("set 1 MiB minus overhead through the proxy", proxy.set(key, big), True)
    check("get 1 MiB minus overhead through the proxy", proxy.get(key) == big, True)
    try:
        proxy.set("proxy:large2", b"z" * (MIB + 1))
        check("set 1 MiB + 1 through the proxy fails", "stored", "MemcacheServerError")
    except MemcacheServerError as e:
        check("set 1 MiB + 1 through the proxy fails", e.args[0], b"object too large for cache")
    check("proxy connection works afterwards", proxy.get(keys[700]), want[keys[700]])

    for c in (proxy, a, b):
        c.close()


if __name__ == "__main__":
    run("nutcracker_test", main)

#!/usr/bin/python3
"""Debian's python3-pymemcache (3.5.2, text protocol only) against the server
on 127.0.0.1:$PORT (run it under with_server.sh).

Every expectation below was verified against Debian's memcached 1.6.18:
  MEMKV_TEST_TARGET=memcached bash tests/clients/with_server.sh \
      /usr/bin/python3 tests/clients/pymemcache_test.py
Run with /usr/bin/python3: the package installs into Debian's interpreter only.
Exits 0 only if every check passed; each failure is printed with its name.
"""
import os
import re
import time

from check_run import check, run
from pymemcache.client.base import Client
from pymemcache.exceptions import (MemcacheClientError, MemcacheServerError,
                                   MemcacheUnknownCommandError)

PORT = int(os.environ["PORT"])
MIB = 1024 * 1024


def expect_error(name, exc_type, text, fn):
    """fn() must raise exc_type whose message contains text (bytes)."""
    try:
        got = fn()
    except exc_type as e:
        msg = e.args[0] if e.args and isinstance(e.args[0], bytes) else str(e).encode()
        check(name, msg if text not in msg else text, text)
        return
    except Exception as e:  # a different error is a failure, not a crash
        check(name, f"{type(e).__name__}: {e}", f"{exc_type.__name__} {text!r}")
        return
    check(name, f"returned {got!r}", f"{exc_type.__name__} {text!r}")


def stats_group(c, group):
    """`stats <group>` as a dict, or None (a failure) if the server refused it."""
    try:
        return c.stats(group)
    except Exception as e:
        check(f"stats {group}", f"{type(e).__name__}: {e}", "STAT lines")
        return None


def client(**kw):
    # Bounded: no call may block for more than 10 s.
    return Client(("127.0.0.1", PORT), connect_timeout=10, timeout=10, **kw)


class FlagsSerde:
    """Stores values as given; reads them back as (value, flags)."""

    def serialize(self, key, value):
        return value, 0

    def deserialize(self, key, value, flags):
        return value, flags


def main():
    c = client()  # default_noreply=True, as pymemcache users get it
    r = client(default_noreply=False)

    # Default noreply: set/delete send " noreply" and return True without a reply;
    # the next command on the same connection must still see its own reply.
    check("noreply set returns True", c.set("nr:a", b"alpha"), True)
    check("get after noreply set", c.get("nr:a"), b"alpha")
    check("noreply add of an existing key is silently refused", c.add("nr:a", b"beta"), True)
    check("value unchanged after refused add", c.get("nr:a"), b"alpha")
    check("noreply delete", c.delete("nr:a"), True)
    check("get after noreply delete", c.get("nr:a"), None)
    # A burst of noreply sets followed by one get: all must have been applied in order.
    for i in range(200):
        c.set("nr:burst", str(i).encode())
    check("last of 200 pipelined noreply sets wins", c.get("nr:burst"), b"199")

    # get_many of 1,000+ keys (one `get k1 k2 ...` line), each value distinct.
    keys = [f"multi:{i:05d}" for i in range(1200)]
    want = {k: (f"v{i}-" * (1 + i % 13)).encode() for i, k in enumerate(keys)}
    for k, v in want.items():
        c.set(k, v)
    got = c.get_many(keys + ["multi:absent-1", "multi:absent-2"])
    check("get_many returns exactly the 1,200 stored keys", sorted(got), sorted(want))
    check("get_many values all match", sum(got.get(k) == v for k, v in want.items()), len(want))
    got = r.gets_many(keys[:1000])
    check("gets_many of 1,000 keys: values", sum(got[k][0] == want[k] for k in keys[:1000]), 1000)
    check("gets_many cas values are numbers",
          sum(bool(re.fullmatch(rb"[1-9]\d*", got[k][1])) for k in keys[:1000]), 1000)
    if os.environ.get("MEMKV_TEST_TARGET") == "memcached":
        # memcached draws every CAS from one global counter. memkv deliberately
        # counts CAS per vbucket (unique per key history only; docs/architecture.md).
        check("gets_many cas values are distinct (memcached only)",
              len({got[k][1] for k in keys[:1000]}), 1000)

    # Values are opaque bytes: protocol text inside a value, an empty value, every
    # byte value, and a 250-byte key (the longest memcached allows).
    tricky = {
        "bin:crlf": b"a\r\nEND\r\nVALUE x 0 1\r\nb\r\n",
        "bin:empty": b"",
        "bin:all-bytes": bytes(range(256)) * 4,
        "k" * 250: b"longest key",
    }
    for k, v in tricky.items():
        r.set(k, v)
    check("binary-safe values via get", {k: r.get(k) for k in tricky}, tricky)
    check("binary-safe values via get_many", r.get_many(list(tricky)), tricky)

    # Expiry: negative is already expired, a future unix time is absolute, a past
    # unix time (over 30 days, so absolute) is already expired.
    now = int(time.time())
    check("set with a negative expiry", r.set("exp:neg", b"x", expire=-1), True)
    check("negative expiry: already gone", r.get("exp:neg"), None)
    r.set("exp:abs-future", b"x", expire=now + 3600)
    check("absolute future expiry: present", r.get("exp:abs-future"), b"x")
    r.set("exp:abs-past", b"x", expire=now - 10)
    check("absolute past expiry: already gone", r.get("exp:abs-past"), None)
    r.set("exp:relative", b"x", expire=3600)
    check("relative expiry: present", r.get("exp:relative"), b"x")

    # flags round-trip: pymemcache's serde sees the flags word of every VALUE line.
    f = client(default_noreply=False, serde=FlagsSerde())
    check("set with flags", f.set("flags:k", b"v", flags=0xDEADBEEF), True)
    check("flags round-trip (32 bits)", f.get("flags:k"), (b"v", 0xDEADBEEF))
    f.close()

    # gets / cas.
    r.set("cas:k", b"one")
    value, token = r.gets("cas:k")
    check("gets value", value, b"one")
    check("gets cas is numeric", bool(re.fullmatch(rb"\d+", token)), True)
    check("cas with the current token stores", r.cas("cas:k", b"two", token), True)
    check("cas with a stale token is EXISTS (False)", r.cas("cas:k", b"three", token), False)
    check("value after failed cas", r.get("cas:k"), b"two")
    check("cas on a missing key is NOT_FOUND (None)", r.cas("cas:absent", b"x", b"1"), None)
    check("gets of a missing key", r.gets("cas:absent"), (None, None))
    _, token2 = r.gets("cas:k")
    check("cas token changes on every store", token2 != token, True)

    # incr / decr: 64-bit wrap, floor at 0, memcached's in-place width rule
    # (a shorter result is padded with spaces to the old length).
    r.set("ctr", b"10")
    check("incr 10+5", r.incr("ctr", 5), 15)
    check("decr 15-3", r.decr("ctr", 3), 12)
    check("decr floors at 0", r.decr("ctr", 100), 0)
    check("get after decr to 0 (space padded in place)", r.get("ctr"), b"0 ")
    r.set("ctr", b"18446744073709551615")
    check("incr wraps at 2^64", r.incr("ctr", 2), 1)
    check("get after wrap keeps the width", r.get("ctr"), b"1" + b" " * 19)
    r.set("ctr", b"100")
    check("decr 100-95", r.decr("ctr", 95), 5)
    check("get after decr 100-95", r.get("ctr"), b"5  ")
    check("incr grows the value", r.incr("ctr", 999), 1004)
    check("get after growing incr", r.get("ctr"), b"1004")
    check("incr on a missing key is None", r.incr("ctr:absent", 1), None)
    check("decr on a missing key is None", r.decr("ctr:absent", 1), None)
    r.set("ctr:text", b"abc")
    expect_error("incr of a non-numeric value", MemcacheClientError,
                 b"cannot increment or decrement non-numeric value", lambda: r.incr("ctr:text", 1))
    check("connection usable after CLIENT_ERROR", r.get("ctr:text"), b"abc")

    # add / replace / append / prepend with replies.
    r.delete("st:k")
    check("add of a new key", r.add("st:k", b"mid"), True)
    check("add of an existing key", r.add("st:k", b"other"), False)
    check("replace of an existing key", r.replace("st:k", b"MID"), True)
    check("replace of a missing key", r.replace("st:absent", b"x"), False)
    check("append", r.append("st:k", b">>"), True)
    check("prepend", r.prepend("st:k", b"<<"), True)
    check("value after append+prepend", r.get("st:k"), b"<<MID>>")
    check("append to a missing key", r.append("st:absent", b"x"), False)
    check("prepend to a missing key", r.prepend("st:absent", b"x"), False)
    check("missing key stays missing", r.get("st:absent"), None)

    # delete.
    check("delete existing (DELETED)", r.delete("st:k"), True)
    check("delete missing (NOT_FOUND)", r.delete("st:k"), False)
    check("get after delete", r.get("st:k"), None)

    # touch: TOUCHED / NOT_FOUND, and the new expiry takes effect.
    r.set("touch:k", b"t", expire=0)
    check("touch existing", r.touch("touch:k", 1, noreply=False), True)
    check("touch missing", r.touch("touch:absent", 100, noreply=False), False)
    deadline = time.monotonic() + 5
    while r.get("touch:k") is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    check("touched key expires within 5 s", r.get("touch:k"), None)

    # stats: counters a user reads, checked by their deltas.
    r.set("stats:k", b"v")
    before = r.stats()
    for _ in range(3):
        r.get("stats:k")
    r.get("stats:absent-1")
    r.get("stats:absent-2")
    after = r.stats()
    for name in (b"pid", b"uptime", b"version", b"curr_items", b"total_items", b"bytes",
                 b"curr_connections", b"cmd_get", b"cmd_set", b"get_hits", b"get_misses"):
        check(f"stats has {name.decode()}", name in after, True)
    check("get_hits delta", after[b"get_hits"] - before[b"get_hits"], 3)
    check("get_misses delta", after[b"get_misses"] - before[b"get_misses"], 2)
    check("cmd_get delta", after[b"cmd_get"] - before[b"cmd_get"], 5)
    check("stats version equals version()", after[b"version"], r.version())
    check("stats settings item_size_max", r.stats("settings").get(b"item_size_max"), MIB)
    check("version is 1.6.x", bool(re.fullmatch(rb"1\.6\.\d+", r.version())), True)

    # stats groups, as pymemcache parses them.
    settings = r.stats("settings")
    check("stats settings tcpport", settings.get(b"tcpport"), PORT)
    check("stats settings maxbytes (-m 64)", settings.get(b"maxbytes"), 64 * MIB)
    check("stats settings has maxconns", b"maxconns" in settings, True)
    check("cache_memlimit 128", r.cache_memlimit(128), True)
    check("stats settings maxbytes after cache_memlimit", r.stats("settings").get(b"maxbytes"), 128 * MIB)
    curr = r.stats()[b"curr_items"]
    items = stats_group(r, "items") or {}
    check("stats items names are items:<class>:<name>",
          bool(items) and all(re.fullmatch(rb"items:\d+:\w+", k) for k in items), True)
    check("stats items numbers add up to curr_items",
          sum(v for k, v in items.items() if k.endswith(b":number")), curr)
    slabs = stats_group(r, "slabs") or {}
    check("stats slabs has active_slabs and total_malloced",
          b"active_slabs" in slabs and b"total_malloced" in slabs, True)
    check("stats slabs per-class names are <class>:<name>",
          all(re.fullmatch(rb"\d+:\w+", k) for k in slabs if k not in (b"active_slabs", b"total_malloced")), True)
    check("stats sizes answers", stats_group(r, "sizes") is not None, True)
    conns = stats_group(r, "conns") or {}
    check("stats conns lists tcp connections",
          any(re.fullmatch(rb"\d+:addr", k) and v.startswith(b"tcp:127.0.0.1:") for k, v in conns.items()), True)
    expect_error("stats of an unknown group is ERROR", MemcacheUnknownCommandError, b"stats",
                 lambda: r.stats("bogus"))
    check("connection in sync after ERROR", r.get("stats:k"), b"v")

    # Large values: the largest value memcached 1.6.18 stores at -I 1m is 1 MiB minus
    # its item overhead (48 header + 8 cas + key + 1 + 2 for CRLF); one byte over 1 MiB
    # is refused with SERVER_ERROR object too large for cache.
    key = "large:value"
    big = bytes((i * 7 + 3) % 251 for i in range(MIB - 48 - 8 - len(key) - 1 - 2))
    check("set of 1 MiB minus overhead", r.set(key, big), True)
    check("get of 1 MiB minus overhead", r.get(key) == big, True)
    r.set("large:old", b"old value")
    expect_error("set of 1 MiB + 1 fails", MemcacheServerError, b"object too large for cache",
                 lambda: r.set("large:old", b"z" * (MIB + 1)))
    check("connection works after the refused set", r.get("large:value") == big, True)
    check("refused set dropped the old value", r.get("large:old"), None)
    # With default noreply the refusal is silent, and the connection stays in sync.
    c.set("large:nr", b"old")
    check("noreply too-large set returns True", c.set("large:nr", b"z" * (MIB + 1)), True)
    check("noreply too-large set dropped the old value", c.get("large:nr"), None)
    check("noreply connection still in sync", c.get(keys[7]), want[keys[7]])

    # flush_all (pymemcache sends `flush_all 0 noreply` by default).
    check("flush_all", c.flush_all(), True)
    check("get_many after flush_all", c.get_many(keys[:50]), {})
    check("flush_all with reply", r.flush_all(noreply=False), True)
    check("set after flush works", r.set("after:flush", b"x"), True)
    check("get after flush+set", r.get("after:flush"), b"x")

    c.close()
    r.close()


if __name__ == "__main__":
    run("pymemcache_test", main)

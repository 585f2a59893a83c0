#!/usr/bin/env python3
"""memkv-bench --protocol text against servers scripted here, so every reply a
real server could send (and some it should not) is tried without one:

- a tiny memcached (dict get/set) that sends its replies in 1..7 byte pieces,
  so every line, VALUE header and data block is split across reads;
- servers that answer every request with one fixed reply.

Usage: memkv_bench_text_test.py PATH/TO/memkv-bench. Exit 0 when every case
passes. Time bounds scale with MEMKV_TEST_TIME_SCALE (as tests/support does).
"""
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time

BENCH = sys.argv[1]
SCALE = float(os.environ.get("MEMKV_TEST_TIME_SCALE", "1"))


def serve(handler):
    """Starts a server on an ephemeral port; handler(conn) runs per connection."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)

    def accept():
        while True:
            c, _ = ls.accept()
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=handler, args=(c,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return ls.getsockname()[1]


def lines(conn):
    """Yields (request line, data block or None) until the client leaves."""
    buf = b""
    while True:
        while b"\n" not in buf:
            d = conn.recv(65536)
            if not d:
                return
            buf += d
        line, buf = buf.split(b"\n", 1)
        line = line.rstrip(b"\r")
        data = None
        if line.startswith(b"set "):
            n = int(line.split()[4]) + 2
            while len(buf) < n:
                d = conn.recv(65536)
                if not d:
                    return
                buf += d
            data, buf = buf[: n - 2], buf[n:]
        yield line, data


def mini_memcached(corrupt=False):
    store = {}
    lock = threading.Lock()

    def handler(conn):
        try:
            for line, data in lines(conn):
                words = line.split()
                out = b""
                if words[0] == b"set":
                    with lock:
                        store[words[1]] = (words[2], data)
                    out = b"STORED\r\n"
                elif words[0] == b"get":
                    for key in words[1:]:
                        with lock:
                            item = store.get(key)
                        if item:
                            value = item[1]
                            if corrupt and len(value) > 30:
                                value = value[:30] + bytes([value[30] ^ 1]) + value[31:]
                            out += b"VALUE %s %s %d\r\n%s\r\n" % (key, item[0], len(value), value)
                    out += b"END\r\n"
                i = 0
                while i < len(out):  # dribble
                    n = random.randint(1, 7)
                    conn.sendall(out[i : i + n])
                    i += n
        except OSError:
            pass

    return serve(handler)


def fixed_reply(reply):
    def handler(conn):
        try:
            for _ in lines(conn):
                conn.sendall(reply)
        except OSError:
            pass

    return serve(handler)


def closing():
    return serve(lambda conn: conn.close())


def silent():
    held = []
    return serve(lambda conn: held.append(conn))


def bench(port, *args):
    cmd = [BENCH, "--server", f"127.0.0.1:{port}", "--protocol", "text", "--conns", "2",
           "--json", *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60 * SCALE)
    return p.returncode, json.loads(p.stdout), p.stderr


failures = []


def check(name, ok, detail):
    print(("ok   " if ok else "FAIL ") + name)
    if not ok:
        failures.append(name)
        print("     " + detail)


def case_roundtrip():
    port = mini_memcached()
    rc, r, err = bench(port, "--keys", "300", "--value-size", "24-3000", "--prefill", "--verify",
                       "--multiget", "7", "--pipeline", "4", "--ratio", "3:1", "--duration", "1")
    get_requests = r["requests"] - r["sets"]
    ok = (rc == 0 and r["verify_failures"] == 0 and r["hits"] > 0 and r["misses"] == 0
          and r["gets"] == 7 * get_requests and r["prefill_sets"] == 300)
    check("multiget, pipelined, split replies: all verified", ok, f"rc={rc} {r} {err}")


def case_misses():
    port = mini_memcached()
    rc, r, err = bench(port, "--keys", "100000", "--multiget", "10", "--ratio", "1:0",
                       "--set-on-miss", "--verify", "--duration", "1")
    ok = rc == 0 and r["misses"] > 0 and r["hits"] + r["misses"] == r["gets"] and r["sets"] > 0
    check("misses are counted, and set-on-miss stores them", ok, f"rc={rc} {r} {err}")


def case_skip_large():
    port = mini_memcached()
    # Gets only, and a count of requests rather than a duration: a loaded
    # machine may run this slowly, never wrongly.
    rc, r, err = bench(port, "--keys", "20", "--value-size", "70k-90k", "--prefill",
                       "--multiget", "3", "--pipeline", "3", "--ratio", "1:0", "--requests", "6")
    ok = rc == 0 and r["hits"] > 0 and r["protocol_errors"] == 0
    check("large values skipped unbuffered across reads", ok, f"rc={rc} {r} {err}")


def case_corrupt():
    port = mini_memcached(corrupt=True)
    rc, r, err = bench(port, "--keys", "50", "--prefill", "--verify", "--duration", "0.5")
    ok = rc == 1 and r["verify_failures"] > 0 and r["verify_by_check"]["bad_fill"] > 0
    check("a corrupted value fails --verify", ok, f"rc={rc} {r} {err}")


def case_error_reply():
    port = fixed_reply(b"SERVER_ERROR out of memory storing object\r\n")
    rc, r, err = bench(port, "--keys", "10", "--ratio", "1:1", "--duration", "0.5")
    ok = (rc == 0 and r["protocol_errors"] == 0 and r["requests"] > 0
          and r["errors_by_reply"].get("SERVER_ERROR out of memory storing object", 0) > 0)
    check("error replies are counted and survived", ok, f"rc={rc} {r} {err}")


def case_protocol_error(name, reply, message):
    port = fixed_reply(reply)
    rc, r, err = bench(port, "--keys", "1", "--ratio", "1:0", "--duration", "0.5")
    ok = rc == 1 and r["protocol_errors"] == 2 and message in err
    check(name, ok, f"rc={rc} {r} {err}")


def case_closed():
    port = closing()
    started = time.monotonic()
    rc, r, err = bench(port, "--keys", "10", "--duration", "5")
    elapsed = time.monotonic() - started
    ok = rc == 1 and r["connection_errors"] == 2 and elapsed < 3 * SCALE
    check("a server that closes fails the run at once", ok, f"rc={rc} {elapsed:.1f}s {r} {err}")


def case_silent():
    port = silent()
    rc, r, err = bench(port, "--keys", "10", "--prefill", "--timeout", "1", "--duration", "5")
    ok = rc == 1 and r["timed_out"]
    check("a server that never answers fails the run at --timeout", ok, f"rc={rc} {r} {err}")


case_roundtrip()
case_misses()
case_skip_large()
case_corrupt()
case_error_reply()
case_protocol_error("VALUE for a key not asked", b"VALUE key:000000000099 0 3\r\nabc\r\nEND\r\n",
                    "VALUE for a key not asked")
case_protocol_error("a key answered twice", b"VALUE key:000000000000 0 1\r\na\r\n" * 2 + b"END\r\n",
                    "VALUE for a key not asked")
case_protocol_error("STORED to a get", b"STORED\r\n", "unexpected reply to a get")
case_protocol_error("data block not ended by CRLF", b"VALUE key:000000000000 0 3\r\nabcXY",
                    "data block not followed")
case_protocol_error("malformed VALUE line", b"VALUE key:000000000000 x 3\r\nabc\r\nEND\r\n",
                    "malformed VALUE line")
case_protocol_error("a reply nobody asked for", b"END\r\nEND\r\n", "no request in flight")
case_closed()
case_silent()
sys.exit(1 if failures else 0)

#!/usr/bin/env python3
"""memkv-bench --tls against real TLS servers: memcached -Z (the reference)
and memkv -Z, both started with the certificates tests/tls/make_certs.sh
makes in a temporary directory (no key is committed). Every case counts
requests (--requests), never a duration, so a loaded machine runs it slowly,
never wrongly:

- binary 32 B GET/SET, pipelined, --verify; TLS 1.3 and 1.2; verified against
  the test CA and unverified;
- binary 100-300 KiB values (many records per value, partial writes);
- the text protocol with multigets;
- --idle-conns (handshake, then one NOOP) and --handshakes (full handshakes
  on new connections);
- a server whose certificate the given CA did not sign fails the handshake;
- (no server needed) --tls against a server that never answers is bounded,
  and against a scripted slow TLS reader the client's SSL_write retries
  (WANT_WRITE mid-record) keep every byte: all values verify.

Usage: memkv_bench_tls_test.py MEMKV_BENCH MEMKV MAKE_CERTS [MEMCACHED].
MEMKV_TEST_TARGET=memkv|memcached runs one target only (default: both).
Exit 0 when every case passes. Time bounds scale with MEMKV_TEST_TIME_SCALE.
"""
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

from tool_test_lib import SCALE, check, failures, free_ports, wait_port

BENCH, MEMKV, MAKE_CERTS = sys.argv[1:4]
MEMCACHED = sys.argv[4] if len(sys.argv) > 4 else "/usr/bin/memcached"
TARGETS = [os.environ["MEMKV_TEST_TARGET"]] if os.environ.get("MEMKV_TEST_TARGET") else [
    "memcached", "memkv"]



def start(target, certs, work):
    """Starts TARGET with -Z; returns (process, port) or (process, None)."""
    tls = ["-Z", "-o", f"ssl_chain_cert={certs}/server.pem,ssl_key={certs}/server.key"]
    log = open(os.path.join(work, f"{target}.log"), "w")
    if target == "memkv":
        port_file = os.path.join(work, "memkv.port")
        proc = subprocess.Popen([MEMKV, "-l", "127.0.0.1", "-p", "0", "--port-file", port_file,
                                 "-m", "256", "-t", "2", *tls], stdout=log, stderr=log)
        deadline = time.monotonic() + 10 * SCALE
        while time.monotonic() < deadline and proc.poll() is None:
            if os.path.exists(port_file) and os.path.getsize(port_file) > 0:
                port = int(open(port_file).read().strip())
                return proc, port if wait_port(port, proc, 10) else None
            time.sleep(0.05)
        return proc, None
    port = free_ports(1)[0]
    proc = subprocess.Popen([MEMCACHED, "-u", "root", "-U", "0", "-l", "127.0.0.1", "-p",
                             str(port), "-m", "256", "-t", "2", *tls], stdout=log, stderr=log)
    return proc, port if wait_port(port, proc, 10) else None


def bench(port, *args, json_out=True):
    cmd = [BENCH, "--server", f"127.0.0.1:{port}", "--tls", "--timeout", str(60 * SCALE), *args]
    if json_out:
        cmd.append("--json")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120 * SCALE)
    result = {}
    if json_out:
        try:
            result = json.loads(p.stdout)
        except ValueError:
            result = {"unparsed": p.stdout}
    return p.returncode, result, p.stdout, p.stderr


def clean(r):
    return (r.get("verify_failures") == 0 and r.get("connection_errors") == 0
            and r.get("protocol_errors") == 0 and not r.get("timed_out")
            and r.get("errors_by_status") == {} and r.get("errors_by_reply") == {})


def run_target(target, certs, work):
    proc, port = start(target, certs, work)
    if port is None:
        proc.kill()
        proc.wait()
        log = open(os.path.join(work, f"{target}.log")).read()[-400:]
        check(f"{target}: starts with -Z -o ssl_chain_cert=...,ssl_key=...", False,
              f"did not come up; log: {log!r}")
        return
    ca = ["--tls-ca", f"{certs}/ca.pem"]
    try:
        rc, r, _, err = bench(port, *ca, "--keys", "200", "--prefill", "--verify", "--conns", "4",
                              "--pipeline", "8", "--ratio", "3:1", "--requests", "2000")
        check(f"{target}: TLS 1.3, 32 B, pipelined, verified values and server",
              rc == 0 and clean(r) and r["requests"] == 2000 and r["prefill_sets"] == 200
              and r["hits"] > 0 and r["tls_version"] == "1.3", f"rc={rc} {r} {err}")

        rc, r, _, err = bench(port, *ca, "--tls-version", "1.2", "--keys", "200", "--verify",
                              "--conns", "2", "--ratio", "1:1", "--requests", "400")
        check(f"{target}: TLS 1.2 offered alone", rc == 0 and clean(r) and r["requests"] == 400
              and r["tls_version"] == "1.2", f"rc={rc} {r} {err}")

        rc, r, _, err = bench(port, "--keys", "50", "--conns", "2", "--requests", "200")
        check(f"{target}: without --tls-ca (nothing verified)",
              rc == 0 and clean(r) and r["requests"] == 200, f"rc={rc} {r} {err}")

        rc, r, _, err = bench(port, *ca, "--keys", "8", "--value-size", "100k-300k", "--prefill",
                              "--verify", "--conns", "2", "--ratio", "1:1", "--requests", "60")
        check(f"{target}: 100-300 KiB values across many records, verified",
              rc == 0 and clean(r) and r["requests"] == 60 and r["hits"] > 0,
              f"rc={rc} {r} {err}")

        rc, r, _, err = bench(port, *ca, "--keys", "8", "--value-size", "100k-300k", "--verify",
                              "--conns", "2", "--pipeline", "4", "--ratio", "1:0",
                              "--requests", "60")
        check(f"{target}: pipelined GETs of 100-300 KiB values, verified",
              rc == 0 and clean(r) and r["requests"] == 60 and r["hits"] == 60,
              f"rc={rc} {r} {err}")

        # The client packs requests back to back, so a SET's value ends inside a
        # record that carries the next request too. memcached 1.6.18 -Z reads the
        # value's tail and leaves the rest inside its SSL until more bytes reach
        # the socket, which never happens: the pipeline stalls (seen here with
        # one SET of >= 16 KiB and a GET in one write). memkv must not.
        if target == "memcached":
            print("skip memcached: pipelined 100-300 KiB SETs (memcached 1.6.18 stalls)")
        else:
            rc, r, _, err = bench(port, *ca, "--keys", "8", "--value-size", "100k-300k",
                                  "--prefill", "--verify", "--conns", "2", "--pipeline", "4",
                                  "--ratio", "3:1", "--requests", "120")
            check(f"{target}: pipelined 100-300 KiB SETs and GETs (a request shares a record "
                  "with a value's tail)",
                  rc == 0 and clean(r) and r["requests"] == 120 and r["hits"] > 0,
                  f"rc={rc} {r} {err}")

        rc, r, _, err = bench(port, *ca, "--protocol", "text", "--keys", "300", "--prefill",
                              "--verify", "--multiget", "5", "--pipeline", "4", "--conns", "2",
                              "--ratio", "3:1", "--requests", "600")
        check(f"{target}: text protocol multigets over TLS",
              rc == 0 and clean(r) and r["requests"] == 600 and r["hits"] > 0,
              f"rc={rc} {r} {err}")

        rc, _, out, err = bench(port, *ca, "--idle-conns", "60", "--duration", "0",
                                json_out=False)
        check(f"{target}: 60 idle TLS connections (handshake, one NOOP each)",
              rc == 0 and "READY idle=60 stall=0 failed=0" in out
              and "DONE held=60 failed=0 closed_by_server=0" in out, f"rc={rc} {out} {err}")

        rc, r, _, err = bench(port, *ca, "--handshakes", "--conns", "4", "--requests", "40")
        check(f"{target}: 40 full handshakes on new connections",
              rc == 0 and clean(r) and r["handshakes"] == 40 and r["requests"] == 40
              and r["ops"] == 40, f"rc={rc} {r} {err}")

        rc, r, _, err = bench(port, "--tls-ca", f"{certs}/rogue-ca.pem", "--keys", "10",
                              "--requests", "10")
        check(f"{target}: a certificate the given CA did not sign fails the handshake",
              rc == 1 and r.get("connection_errors", 0) > 0 and "certificate verify failed" in err,
              f"rc={rc} {r} {err}")

        check(f"{target}: server still running after every case", proc.poll() is None,
              f"exit status {proc.poll()}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10 * SCALE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def slow_tls_memcached(certs):
    """A text-protocol memcached over TLS (Python's ssl) behind a 4 KiB receive
    buffer that reads nothing for a while after the handshake: the client's
    SSL_write meets a full socket mid-record and must retry by OpenSSL's
    rules."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(f"{certs}/server.pem", f"{certs}/server.key")
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    store = {}

    def handler(raw):
        try:
            conn = ctx.wrap_socket(raw, server_side=True)
            buf = b""
            # Nothing read at first: the client's queue fills while the
            # window is closed (few ACKs, so its send buffer stays small).
            time.sleep(0.3)

            def more():
                d = conn.recv(16384)
                if not d:
                    raise OSError("closed")
                return d

            while True:
                while b"\r\n" not in buf:
                    buf += more()
                line, buf = buf.split(b"\r\n", 1)
                words = line.split()
                if words[0] == b"set":
                    n = int(words[4]) + 2
                    while len(buf) < n:
                        buf += more()
                    store[words[1]] = (words[2], buf[: n - 2])
                    buf = buf[n:]
                    conn.sendall(b"STORED\r\n")
                elif words[0] == b"get":
                    out = b""
                    for key in words[1:]:
                        if key in store:
                            flags, value = store[key]
                            out += b"VALUE %s %s %d\r\n%s\r\n" % (key, flags, len(value), value)
                    conn.sendall(out + b"END\r\n")
        except (OSError, ssl.SSLError):
            pass

    def accept():
        while True:
            c, _ = ls.accept()
            threading.Thread(target=handler, args=(c,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return ls.getsockname()[1]


def case_slow_reader(certs):
    port = slow_tls_memcached(certs)
    # 24 SETs of 250 KiB in flight: 6 MiB, more than a loopback send buffer
    # holds while the window is shut (about 2.5 MiB on a fresh connection,
    # 4 MiB at most with Linux's default tcp_wmem).
    rc, r, _, err = bench(port, "--tls-ca", f"{certs}/ca.pem", "--protocol", "text", "--keys", "6",
                          "--value-size", "250k", "--verify", "--pipeline", "24", "--conns", "1",
                          "--ratio", "0:1", "--requests", "48")
    check("a slow reader: SSL_write retried after WANT_WRITE",
          rc == 0 and clean(r) and r["requests"] == 48 and r["tls_write_retries"] > 0,
          f"rc={rc} {r} {err}")
    # What those retried writes stored reads back intact.
    rc, r, _, err = bench(port, "--tls-ca", f"{certs}/ca.pem", "--protocol", "text", "--keys", "6",
                          "--value-size", "250k", "--verify", "--pipeline", "4", "--conns", "1",
                          "--ratio", "1:0", "--requests", "12")
    check("  ... and every value written that way reads back verified",
          rc == 0 and clean(r) and r["hits"] == 12, f"rc={rc} {r} {err}")


def case_silent_server():
    """A server that accepts and never answers: the handshake is bounded."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    held = []
    threading.Thread(target=lambda: held.extend(ls.accept() for _ in range(1)),
                     daemon=True).start()
    started = time.monotonic()
    rc, r, _, err = bench(ls.getsockname()[1], "--timeout", "1", "--conns", "1",
                          "--requests", "1")
    elapsed = time.monotonic() - started
    check("a silent server fails the TLS handshake at --timeout",
          rc == 1 and r.get("connection_errors") == 1 and "timed out" in err
          and elapsed < 10 * SCALE, f"rc={rc} {elapsed:.1f}s {r} {err}")
    ls.close()


with tempfile.TemporaryDirectory(prefix="memkv-bench-tls.") as work:
    certs = os.path.join(work, "certs")
    subprocess.run(["bash", MAKE_CERTS, certs], check=True, capture_output=True,
                   timeout=60 * SCALE)
    case_silent_server()
    case_slow_reader(certs)
    for target in TARGETS:
        run_target(target, certs, work)

if failures:
    print(f"{len(failures)} case(s) failed: " + "; ".join(failures))
sys.exit(1 if failures else 0)

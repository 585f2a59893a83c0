"""Shared harness of the TLS protocol tests (tests/tls/*_test.py).

Each case starts its own server on ephemeral ports, talks to it with real,
independent TLS peers (openssl s_client, gnutls-cli, Python's ssl module) and
stops it again, checking it exits cleanly.

Environment:
  MEMKV_TEST_TARGET      memkv (default) or memcached (Debian's memcached -Z,
                         to validate the tests themselves).
  MEMKV_BIN              the memkv binary (CTest sets it).
  MEMCACHED_BIN          reference server (default /usr/bin/memcached).
  TLS_CERTS              directory made by make_certs.sh (CTest's fixture).
  MEMKV_TEST_TIME_SCALE  multiplier for every time bound (as tests/support);
                         else MEMKV_TLS_DEFAULT_SCALE (CTest sets it per build
                         type), else 1.

A test script calls main({name: function}) and runs the cases named on its
command line (all when none); each case gets a fresh Server.
"""
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

TARGET = os.environ.get("MEMKV_TEST_TARGET", "memkv")
SCALE = float(os.environ.get("MEMKV_TEST_TIME_SCALE") or
              os.environ.get("MEMKV_TLS_DEFAULT_SCALE") or "1")
CERTS = os.environ.get("TLS_CERTS", "")
HOST = "127.0.0.1"


def scaled(seconds):
    return seconds * SCALE


def cert(name):
    return os.path.join(CERTS, name)


class Skip(Exception):
    """A case that does not apply to this target (e.g. memkv-only flags)."""


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def memkv_only():
    if TARGET != "memkv":
        raise Skip("memkv only")


def wait_until(pred, timeout, interval=0.02):
    """Polls pred() until it is truthy or `timeout` (already scaled) passes."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _accepts(port):
    try:
        socket.create_connection((HOST, port), timeout=1).close()
        return True
    except OSError:
        return False


class Server:
    """A memkv or memcached process with TLS on.

    mode "Z": -Z, every listener speaks TLS; self.port is the TLS port.
    mode "tls_port" (memkv only): a plain port plus --tls-port 0; self.plain_port
      and self.tls_port (= self.port).
    mode "notls" : -Z with `-l notls:HOST:P1,HOST:P2`; self.plain_port = P1,
      self.tls_port = self.port = P2.
    ssl_opts: extra `-o` options (dict); chain/key default to certs server.pem/key.
    """

    def __init__(self, mode="Z", ssl_opts=None, extra=(), chain=None, key=None):
        self.mode = mode
        self.workdir = tempfile.mkdtemp(prefix="memkv-tls-test.")
        self.log_path = os.path.join(self.workdir, "server.log")
        self.chain = chain or cert("server.pem")
        self.key = key or cert("server.key")
        opts = {"ssl_chain_cert": self.chain, "ssl_key": self.key}
        opts.update(ssl_opts or {})
        self.opts = ",".join("%s=%s" % kv for kv in opts.items())
        self.extra = list(extra)
        self.proc = None
        self.plain_port = None
        self.tls_port = None
        try:
            self._start()
        except BaseException:
            self.cleanup()  # a server that started but failed a check is killed
            raise
        self.port = self.tls_port

    # -- lifecycle -----------------------------------------------------------
    def _spawn(self, argv):
        self.argv = argv
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()

    def _start(self):
        if TARGET == "memkv":
            self._start_memkv()
        elif TARGET == "memcached":
            self._start_memcached()
        else:
            raise SystemExit("MEMKV_TEST_TARGET must be memkv or memcached")

    def _wait_port_file(self, path):
        def read():
            if self.proc.poll() is not None:
                raise AssertionError("server exited (%s) at start:\n%s" %
                                     (self.proc.returncode, self.log()))
            try:
                with open(path) as f:
                    text = f.read()
                return int(text) if text.endswith("\n") else None
            except (OSError, ValueError):
                return None

        port = wait_until(read, scaled(10))
        check(port, "no port in %s within 10 s:\n%s" % (path, self.log()))
        return port

    def _start_memkv(self):
        binary = os.environ.get("MEMKV_BIN", "")
        if not os.access(binary, os.X_OK):
            raise SystemExit("MEMKV_BIN is not set to an executable (or use "
                             "MEMKV_TEST_TARGET=memcached)")
        pf = os.path.join(self.workdir, "port")
        base = [binary, "-t", "2"]
        if self.mode == "Z":
            self._spawn(base + ["-p", "0", "--port-file", pf, "-l", HOST, "-Z",
                                "-o", self.opts] + self.extra)
            self.tls_port = self._wait_port_file(pf)
        elif self.mode == "tls_port":
            tpf = os.path.join(self.workdir, "tls-port")
            self._spawn(base + ["-p", "0", "--port-file", pf, "-l", HOST, "--tls-port", "0",
                                "--tls-port-file", tpf, "-o", self.opts] + self.extra)
            self.plain_port = self._wait_port_file(pf)
            self.tls_port = self._wait_port_file(tpf)
        else:
            self._start_fixed(base)
            return
        check(wait_until(lambda: _accepts(self.tls_port), scaled(10)),
              "port %d does not accept connections" % self.tls_port)

    def _start_memcached(self):
        binary = os.environ.get("MEMCACHED_BIN", "/usr/bin/memcached")
        # -u root: the tests run as root in CI; temp dirs are private to root.
        base = [binary, "-u", "root", "-U", "0", "-t", "2"]
        if self.mode == "notls":
            self._start_fixed(base)
            return
        if self.mode != "Z":
            raise Skip("memcached has no --tls-port")
        for _ in range(5):
            port = free_port()
            self._spawn(base + ["-l", HOST, "-p", str(port), "-Z", "-o", self.opts] + self.extra)
            if wait_until(lambda: self.proc.poll() is not None or _accepts(port), scaled(10)) \
                    and self.proc.poll() is None:
                self.tls_port = port
                return
            self._kill()
        raise AssertionError("memcached did not start:\n" + self.log())

    def _start_fixed(self, base):
        # Both ports are chosen here (no port file names a notls listener); a
        # start that loses a race for a port is retried.
        for _ in range(5):
            p1, p2 = free_port(), free_port()
            listen = "notls:%s:%d,%s:%d" % (HOST, p1, HOST, p2)
            self._spawn(base + ["-p", str(p2), "-l", listen, "-Z", "-o", self.opts] + self.extra)
            ok = wait_until(lambda: self.proc.poll() is not None or
                            (_accepts(p1) and _accepts(p2)), scaled(10))
            if ok and self.proc.poll() is None:
                self.plain_port, self.tls_port = p1, p2
                return
            self._kill()
        raise AssertionError("server did not start with -l notls:...:\n" + self.log())

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-40:])
        except OSError:
            return ""

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM; the server must still be running and exit with 0 in time."""
        check(self.alive(), "server died during the test (status %s):\n%s" %
              (self.proc.returncode, self.log()))
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=scaled(20))
        except subprocess.TimeoutExpired:
            self._kill()
            raise AssertionError("server ignored SIGTERM for 20 s")
        check(rc == 0, "server exited with %s on SIGTERM:\n%s" % (rc, self.log()))

    def cleanup(self):
        self._kill()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- talking to it ---------------------------------------------------------
    def connect(self, **kw):
        """A verified TLS connection to the TLS port (see tls_connect)."""
        return tls_connect(self.tls_port, **kw)

    def control(self):
        """A connection for stats: plain when a plain port exists, else TLS."""
        if self.plain_port:
            return socket.create_connection((HOST, self.plain_port), timeout=scaled(10))
        return self.connect()

    def stats(self, group=""):
        s = self.control()
        try:
            return text_stats(s, group)
        finally:
            s.close()

    def stat(self, name):
        v = self.stats().get(name)
        check(v is not None, "stats has no %s" % name)
        return int(v)


def tls_context(minv=None, maxv=None, certfile=None, keyfile=None, verify=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        ctx.load_verify_locations(cert("ca.pem"))
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if minv:
        ctx.minimum_version = minv
    if maxv:
        ctx.maximum_version = maxv
    if certfile:
        ctx.load_cert_chain(certfile, keyfile)
    return ctx


def tls_connect(port, timeout=None, **ctx_kw):
    """Handshakes with the server on `port`, verifying its chain against ca.pem
    and its SAN against 127.0.0.1; raises on failure."""
    ctx = tls_context(**ctx_kw)
    raw = socket.create_connection((HOST, port), timeout=timeout or scaled(10))
    try:
        return ctx.wrap_socket(raw, server_hostname=HOST)
    except BaseException:
        raw.close()
        raise


def read_until(sock, end, limit=64 << 20):
    """Reads until the data ends with `end` (one reply at a time is pending)."""
    buf = bytearray()
    while not buf.endswith(end):
        d = sock.recv(1 << 20)
        check(d, "connection closed after %d bytes, waiting for %r" % (len(buf), end))
        buf += d
        check(len(buf) <= limit, "reply longer than %d bytes" % limit)
    return bytes(buf)


def read_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        d = sock.recv(min(n - len(buf), 1 << 20))
        check(d, "connection closed after %d of %d bytes" % (len(buf), n))
        buf += d
    return bytes(buf)


def text_cmd(sock, line, end=b"\r\n"):
    sock.sendall(line)
    return read_until(sock, end)


def text_stats(sock, group=""):
    cmd = ("stats %s" % group).strip().encode() + b"\r\n"
    out = {}
    for ln in text_cmd(sock, cmd, b"END\r\n").decode().split("\r\n"):
        parts = ln.split(" ", 2)
        if len(parts) == 3 and parts[0] == "STAT":
            out[parts[1]] = parts[2]
    return out


def set_value(sock, key, value):
    hdr = b"set %s 0 0 %d\r\n" % (key, len(value))
    check(text_cmd(sock, hdr + value + b"\r\n") == b"STORED\r\n", "set %r failed" % key)


def value_bytes(size, tag=b"memkv"):
    """Deterministic, position-dependent bytes (a shifted or repeated chunk shows)."""
    out = bytearray()
    i = 0
    while len(out) < size:
        out += b"%s:%08d;" % (tag, i)
        i += 1
    return bytes(out[:size])


def get_reply(key, value):
    return b"VALUE %s 0 %d\r\n%s\r\nEND\r\n" % (key, len(value), value)


def is_closed(sock, timeout):
    """True when the peer closes (EOF, reset or a TLS alert) within `timeout`;
    any data received first is discarded."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sock.recv(65536):
                return True
    except (ConnectionError, ssl.SSLError):
        return True
    except (socket.timeout, TimeoutError):
        return False
    return False


# -- MCBP (binary protocol) --------------------------------------------------
MAGIC_REQ, MAGIC_RES = 0x80, 0x81
OP_GET, OP_SET, OP_NOOP, OP_VERSION = 0x00, 0x01, 0x0A, 0x0B


def mcbp_req(opcode, key=b"", value=b"", extras=b"", opaque=0):
    body = extras + key + value
    return struct.pack(">BBHBBHIIQ", MAGIC_REQ, opcode, len(key), len(extras), 0, 0,
                       len(body), opaque, 0) + body


def mcbp_read(sock):
    """One response: (opcode, status, opaque, key, value)."""
    h = read_exact(sock, 24)
    magic, opcode, keylen, extlen, _dt, status, bodylen, opaque, _cas = \
        struct.unpack(">BBHBBHIIQ", h)
    check(magic == MAGIC_RES, "response magic 0x%02x" % magic)
    body = read_exact(sock, bodylen)
    return opcode, status, opaque, body[extlen:extlen + keylen], body[extlen + keylen:]


# -- external peers (s_client, gnutls-cli) -----------------------------------
class Peer:
    """A TLS client process: stdin is ours, stdout and stderr are collected by
    threads so the process never blocks on a full pipe unless pause() asks."""

    def __init__(self, argv):
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.out = bytearray()
        self.err = bytearray()
        self.cv = threading.Condition()
        self.reading = threading.Event()
        self.reading.set()
        self.threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.out, True),
                             daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.err, False),
                             daemon=True)]
        for t in self.threads:
            t.start()

    def _pump(self, f, buf, gated):
        while True:
            if gated:
                self.reading.wait()
            d = f.read1(65536)
            with self.cv:
                if not d:
                    self.cv.notify_all()
                    return
                buf += d
                self.cv.notify_all()

    def pause(self):
        """Stops reading stdout (after the read in progress): the pipe fills,
        the peer stops reading its socket, the server's sends back up."""
        self.reading.clear()

    def resume(self):
        self.reading.set()

    def send(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close_stdin(self):
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass

    def wait_out(self, pred, timeout, what):
        """Waits until pred(stdout so far, a bytearray: do not keep it) holds;
        fails with both streams shown."""
        deadline = time.monotonic() + timeout
        with self.cv:
            while not pred(self.out):
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and
                                 not any(t.is_alive() for t in self.threads[:1])):
                    raise AssertionError("%s: %s not seen within %.1f s; %s" %
                                         (self.argv[0], what, timeout, self.describe()))
                self.cv.wait(min(left, 0.1))

    def wait_err(self, text, timeout):
        """Waits until stderr holds `text` (its pump runs apart from stdout's,
        so stderr written first may be read later); returns whether it did."""
        deadline = time.monotonic() + timeout
        with self.cv:
            while text not in self.err:
                left = deadline - time.monotonic()
                if left <= 0 or not self.threads[1].is_alive():
                    return text in self.err
                self.cv.wait(min(left, 0.1))
            return True

    def wait_exit(self, timeout):
        """The exit status, once both output streams are read to their end;
        None if the process is still running after `timeout`."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self.reading.set()
        for t in self.threads:
            t.join(timeout=5)
        return rc

    def describe(self):
        return "rc=%s stdout(last 400)=%r stderr(last 1500)=%r" % (
            self.proc.poll(), bytes(self.out[-400:]),
            bytes(self.err[-1500:]).decode("utf-8", "replace"))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.reading.set()
        for t in self.threads:
            t.join(timeout=5)


def s_client(port, *args, brief=True):
    """openssl s_client verifying against ca.pem; -brief keeps stdout to the
    server's bytes (session details go to stderr) and leaves the interactive
    commands (R, k, K, Q) on."""
    argv = ["openssl", "s_client", "-connect", "%s:%d" % (HOST, port), "-CAfile",
            cert("ca.pem"), "-verify_return_error", "-crlf"]
    if brief:
        argv.append("-brief")
    return Peer(argv + list(args))


def gnutls_cli(port, *args):
    return Peer(["gnutls-cli", "--x509cafile", cert("ca.pem"), "-p", str(port), HOST] + list(args))


def server_send_queue(port):
    """Largest Send-Q (bytes the kernel holds unsent or unacknowledged) of the
    established sockets whose local port is `port`: the server's side. A value
    above 0 while the client does not read means the server is mid-response."""
    out = subprocess.run(["ss", "-Htn", "state", "established", "( sport = :%d )" % port],
                         capture_output=True, text=True, timeout=10, check=True).stdout
    # Without a State column: Recv-Q Send-Q Local Peer.
    return max((int(ln.split()[1]) for ln in out.splitlines() if ln.strip()), default=0)


def wait_stuck_sending(port, timeout):
    """True once the server's send queue on `port` stays above 0 for 0.2 s
    (a reply held up by a client that does not read, not bytes in flight)."""
    def stuck():
        for i in range(3):
            if i:
                time.sleep(0.1)
            if server_send_queue(port) == 0:
                return False
        return True

    return wait_until(stuck, timeout, 0.05)


def version_line():
    return re.compile(rb"VERSION [0-9][^\r\n]*\r\n")


def count(pattern, data):
    return len(re.findall(pattern, data))


# -- runner ---------------------------------------------------------------------
def main(cases):
    """Runs the named cases (argv[1:], default all); exit status 1 if any fails."""
    if not CERTS or not os.path.exists(cert("ca.pem")):
        raise SystemExit("TLS_CERTS must name a directory made by tests/tls/make_certs.sh")
    names = sys.argv[1:] or list(cases)
    failed = []
    for name in names:
        if name not in cases:
            raise SystemExit("unknown case %s (have: %s)" % (name, " ".join(cases)))
        t0 = time.monotonic()
        try:
            cases[name]()
            print("PASS %s (%s, %.1f s)" % (name, TARGET, time.monotonic() - t0), flush=True)
        except Skip as e:
            print("SKIP %s (%s): %s" % (name, TARGET, e), flush=True)
        except Exception:  # noqa: BLE001 - every failure is reported, then the next case runs
            failed.append(name)
            print("FAIL %s (%s)\n%s" % (name, TARGET, traceback.format_exc()), flush=True)
    sys.exit(1 if failed else 0)


class running:
    """with running(...) as srv: starts a Server, stops it (clean exit checked)
    when the body passed, kills it otherwise; always removes its files."""

    def __init__(self, *args, **kw):
        self.args, self.kw = args, kw

    def __enter__(self):
        self.srv = Server(*self.args, **self.kw)
        return self.srv

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.srv.stop()
            elif self.srv.proc.poll() is None:
                sys.stderr.write("server log:\n" + self.srv.log())
        finally:
            self.srv.cleanup()
        return False

"""What the Python tool tests share: the time scale, checks that record
failures instead of stopping, ports the kernel hands out, waiting for a
server to listen, and a memcached text-protocol connection."""
import os
import socket
import time

SCALE = float(os.environ.get("MEMKV_TEST_TIME_SCALE", "1"))
failures = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name, flush=True)
    if not ok:
        failures.append(name)
        print("     " + detail, flush=True)


def free_ports(n):
    """n different ports, all held until every one is picked, then released."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def wait_port(port, proc, seconds):
    """True once 127.0.0.1:port accepts, false if proc exits or time runs out."""
    deadline = time.monotonic() + seconds * SCALE
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Text:
    """A memcached text-protocol connection (writes pipelined with noreply)."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=60 * SCALE)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise RuntimeError("server closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def stats(self, group=""):
        self.send(("stats %s\r\n" % group).encode())
        out = {}
        while True:
            line = self.line()
            if line == "END":
                return out
            _, name, value = line.split(" ", 2)
            out[name] = value

    def sync(self):
        self.send(b"version\r\n")
        self.line()

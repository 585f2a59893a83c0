"""What the Python tool tests share: the time scale, checks that record
failures instead of stopping, ports the kernel hands out, and waiting for a
server to listen."""
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

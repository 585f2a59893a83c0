"""What the Python client tests share: named checks that record failures
instead of stopping, pymemcache clients with bounded timeouts, and the run
that turns an exception into a failure and the failures into an exit status.
"""
import sys
import time

from pymemcache.client.base import Client

failures = []


def check(name, got, want):
    if got == want:
        print(f"ok   {name}")
    else:
        failures.append(name)
        print(f"FAIL {name}: got {got!r}, want {want!r}")


def client(port, timeout=10, default_noreply=False, **kw):
    # Bounded: no call may block for more than `timeout` seconds.
    return Client(("127.0.0.1", int(port)), connect_timeout=timeout, timeout=timeout,
                  default_noreply=default_noreply, **kw)


def curr_items(c):
    return int(c.stats()[b"curr_items"])


def run(name, main):
    """Runs main(); exits 0 only if no check failed and nothing was raised."""
    started = time.monotonic()
    try:
        main()
    except Exception as e:  # a client exception fails the run with its name
        failures.append(f"exception {type(e).__name__}: {e}")
        print(f"FAIL exception {type(e).__name__}: {e}")
    print(f"{name}: {len(failures)} failure(s) in {time.monotonic() - started:.1f} s")
    sys.exit(1 if failures else 0)

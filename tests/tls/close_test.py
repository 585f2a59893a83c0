#!/usr/bin/env python3
"""How TLS connections end, and what the server keeps afterwards:

  abrupt_close       clients that vanish without close_notify (FIN or RST, idle
                     or in the middle of a multi-MiB response, a killed s_client)
                     and clients that send close_notify (s_client Q, an SSL
                     shutdown): the server keeps serving, no connection is left
                     behind (curr_connections back to where it was).
  handshake_timeout  memkv only: a client that connects and sends nothing, or
                     half a ClientHello, or trickles one byte by byte, or never
                     answers the server's flight, is closed after
                     --tls-handshake-timeout (1 s here) and counted in
                     tls_handshake_timeouts; a client that finished its
                     handshake may stay idle.

Usage: close_test.py [CASE...] (see tlslib.py for the environment).
"""
import socket
import ssl
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tlslib import (  # noqa: E402
    HOST, TARGET, check, get_reply, is_closed, main, memkv_only, read_exact, running, s_client,
    scaled, set_value, text_cmd, tls_context, value_bytes, version_line,
    wait_stuck_sending, wait_until)

V12, V13 = ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3
BIG = value_bytes((1 << 20) - 4096, b"big")
GETS = b"get big big big big big big big big\r\n"  # 8 copies of BIG in one reply


def conn_counts(srv):
    st = srv.stats()
    return int(st["curr_connections"]), int(st.get("tls_curr_connections", -1))


def check_no_leftovers(srv, baseline, what):
    """curr_connections (and memkv's tls_curr_connections) return to baseline:
    the server closed its side of every connection the client abandoned."""
    last = [None]

    def back():
        last[0] = conn_counts(srv)
        return last[0] == baseline

    check(wait_until(back, scaled(5), 0.05),
          "%s: (curr_connections, tls_curr_connections) %s, expected %s" %
          (what, last[0], baseline))


def check_bystander(srv, s):
    check(srv.alive(), "server died:\n" + srv.log())
    check(version_line().fullmatch(text_cmd(s, b"version\r\n")), "the bystander got no VERSION")


def abandon(s, how):
    """Ends a TLS connection without close_notify: FIN, or RST (linger 0)."""
    if how == "rst":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # SSLSocket.close() frees the SSL without SSL_shutdown: no close_notify.
    s.close()


def abrupt_close():
    with running() as srv:
        bystander = srv.connect()
        set_value(bystander, b"big", BIG)
        baseline = conn_counts(srv)
        reply = get_reply(b"big", BIG)

        for how, v in (("fin", V12), ("fin", V13), ("rst", V12), ("rst", V13)):
            # Idle, after a command.
            s = srv.connect(minv=v, maxv=v)
            check(text_cmd(s, b"version\r\n").startswith(b"VERSION "), "version")
            abandon(s, how)
            check_bystander(srv, bystander)
            # In the middle of an 8 MiB response: 64 KiB read, the rest pending.
            s = srv.connect(minv=v, maxv=v)
            s.sendall(GETS)
            head = read_exact(s, 65536)
            check(head == reply[:65536], "start of the get reply")
            abandon(s, how)
            check_bystander(srv, bystander)
            check_no_leftovers(srv, baseline, "abandoned (%s, %s) mid-response" % (how, v.name))
            # Right after the handshake, before any request.
            abandon(srv.connect(minv=v, maxv=v), how)
            check_no_leftovers(srv, baseline, "abandoned (%s, %s) after the handshake" %
                               (how, v.name))

        # A raw TCP close in the middle of the handshake.
        raw = socket.create_connection((HOST, srv.port), timeout=scaled(10))
        raw.sendall(client_hello())
        raw.recv(1)  # the server's first flight has started
        raw.close()
        check_no_leftovers(srv, baseline, "closed during the handshake")

        # s_client killed (SIGKILL) while the server is stuck sending to it.
        p = s_client(srv.port)
        try:
            p.send(b"version\n")
            p.wait_out(lambda o: version_line().search(o), scaled(10), "VERSION")
            p.pause()
            p.send(GETS.replace(b"\r\n", b"\n"))
            check(wait_stuck_sending(srv.port, scaled(5)),
                  "the server was not stuck sending to the paused s_client")
        finally:
            p.kill()
        check_bystander(srv, bystander)
        check_no_leftovers(srv, baseline, "s_client killed mid-response")

        # close_notify: s_client's Q command, then Python's SSL shutdown.
        p = s_client(srv.port)
        try:
            p.send(b"version\n")
            p.wait_out(lambda o: version_line().search(o), scaled(10), "VERSION")
            p.send(b"Q\n")
            check(p.wait_exit(scaled(10)) == 0, "s_client Q did not end cleanly; " + p.describe())
        finally:
            p.kill()
        check_no_leftovers(srv, baseline, "s_client Q (close_notify)")
        s = srv.connect()
        check(text_cmd(s, b"version\r\n").startswith(b"VERSION "), "version")
        raw = s.unwrap()  # sends close_notify, waits for the server's
        check(raw.recv(1) == b"", "the server kept the TCP connection after close_notify")
        raw.close()
        check_no_leftovers(srv, baseline, "SSL shutdown (close_notify both ways)")
        # close_notify while a large response is pending: the server drops it.
        s = srv.connect()
        s.sendall(GETS)
        check(read_exact(s, 65536) == reply[:65536], "start of the get reply")
        obj = s._sslobj  # noqa: SLF001 - SSL_shutdown without unwrap()'s wait
        try:
            obj.shutdown()
        except (ssl.SSLError, OSError):
            pass
        s.close()
        check_bystander(srv, bystander)
        check_no_leftovers(srv, baseline, "close_notify mid-response")
        bystander.close()


def client_hello():
    """The ClientHello a real handshake sends first (from a memory BIO)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = tls_context().wrap_bio(incoming, outgoing, server_hostname=HOST)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    check(len(hello) > 100 and hello[0] == 0x16, "ClientHello %r" % hello[:8])
    return hello


def trickle(s, data, stop):
    """Sends `data` one byte per 0.2 s until done, stopped or refused: a client
    that keeps sending but never finishes its handshake."""
    for b in data:
        if stop.wait(0.2):
            return
        try:
            s.sendall(bytes([b]))
        except OSError:
            return


def handshake_timeout():
    memkv_only()
    with running(extra=["--tls-handshake-timeout=1"]) as srv:
        bystander = srv.connect()
        before = srv.stat("tls_handshake_timeouts")
        hello = client_hello()
        stop = threading.Event()
        clients = []  # (what, socket, connected at)

        def open_client(what):
            s = socket.create_connection((HOST, srv.port), timeout=scaled(10))
            clients.append((what, s, time.monotonic()))
            return s

        open_client("silent client")
        open_client("half ClientHello").sendall(hello[:len(hello) // 2])
        # A whole ClientHello, then nothing: the server's flight goes unanswered.
        open_client("no Finished").sendall(hello)
        trickler = threading.Thread(target=trickle, args=(open_client("trickling ClientHello"),
                                                          hello, stop), daemon=True)
        trickler.start()
        done = srv.connect()  # finished its handshake: the timeout is not for it
        t_done = time.monotonic()
        try:
            for what, s, t0 in clients:
                left = t0 + scaled(6) - time.monotonic()
                check(is_closed(s, max(left, 0.1)), "%s still open after %.1f s" %
                      (what, time.monotonic() - t0))
                took = time.monotonic() - t0
                check(took >= 0.9, "%s closed after %.2f s, before the 1 s timeout" % (what, took))
                s.close()
        finally:
            stop.set()
            trickler.join(timeout=5)
        time.sleep(max(0.0, t_done + 1.5 - time.monotonic()))
        check(version_line().fullmatch(text_cmd(done, b"version\r\n")),
              "a connection idle for 1.5 s after its handshake was closed")
        check_bystander(srv, bystander)
        check(wait_until(lambda: srv.stat("tls_handshake_timeouts") == before + len(clients),
                         scaled(5)),
              "tls_handshake_timeouts %d -> %d, expected +%d" %
              (before, srv.stat("tls_handshake_timeouts"), len(clients)))
        done.close()
        bystander.close()
    if TARGET == "memkv":
        # The default (10 s) does not close a silent client within 2 s.
        with running() as srv:
            s = socket.create_connection((HOST, srv.port), timeout=scaled(10))
            check(not is_closed(s, 2.0), "silent client closed within 2 s at the default timeout")
            s.close()


if __name__ == "__main__":
    main({"abrupt_close": abrupt_close, "handshake_timeout": handshake_timeout})

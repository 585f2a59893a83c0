#!/usr/bin/env python3
"""Renegotiation and TLS 1.3 KeyUpdate, driven through the interactive commands
of real clients (openssl s_client's R/k/K, gnutls-cli's ^renegotiate^/^rekey^):

  renegotiation  TLS 1.2 renegotiation is refused: no second handshake; the
                 connection stays usable or is closed cleanly (the client does
                 not hang); the server keeps serving others.
  key_update     TLS 1.3 KeyUpdate (local, and with an update requested from
                 the server) between commands and while 4-8 MiB of
                 pipelined get responses are streaming; every byte arrives intact, the
                 connection keeps working.

Usage: rekey_test.py [CASE...] (see tlslib.py for the environment).
"""
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tlslib import (  # noqa: E402
    check, count, get_reply, gnutls_cli, main, running, s_client, scaled, set_value,
    text_cmd, value_bytes, version_line, wait_stuck_sending, wait_until)

BIG = value_bytes((1 << 20) - 4096, b"big")  # ~1 MiB: fits the default 1 MiB item limit
# s_client: 8 pipelined gets of BIG, more than the socket buffers hold while the
# client pauses. gnutls-cli reads about 1 MB/s here, so 4 keep the server
# sending for seconds.
S_CLIENT_GETS, GNUTLS_GETS = 8, 4


def check_served(srv):
    check(srv.alive(), "server died:\n" + srv.log())
    s = srv.connect()
    try:
        check(version_line().fullmatch(text_cmd(s, b"version\r\n")),
              "a fresh client got no VERSION")
    finally:
        s.close()


def versions_seen(p):
    return count(rb"VERSION [^\r\n]*\r\n", bytes(p.out))


def ask_version(p, n):
    """Sends `version`, waits for the n-th VERSION reply on the peer's stdout."""
    p.send(b"version\r\n" if p.argv[0] == "gnutls-cli" else b"version\n")
    p.wait_out(lambda o: count(rb"VERSION [^\r\n]*\r\n", o) >= n, scaled(10),
               "VERSION reply #%d" % n)


def after_refusal(p, what):
    """After a refused renegotiation: either the client exits (closed cleanly,
    without hanging) or its connection still answers. Returns which."""
    # The refusal is an alert round trip away: a client that gives up ends soon.
    if p.wait_exit(scaled(1)) is None:
        try:
            ask_version(p, 2)
            return "usable"
        except (AssertionError, BrokenPipeError):
            pass
    rc = p.wait_exit(scaled(10))
    check(rc is not None, "%s: the client neither works nor ends after the refusal; %s" %
          (what, p.describe()))
    return "closed (rc %s)" % rc


def renegotiation():
    with running() as srv:
        # openssl: R on a TLS 1.2 connection; -msg logs every handshake message.
        msgs = srv.workdir + "/s_client.msg"
        p = s_client(srv.port, "-tls1_2", "-msg", "-msgfile", msgs)
        try:
            ask_version(p, 1)
            p.send(b"R\n")
            p.wait_out(lambda o: b"RENEGOTIATING" in p.err or p.proc.poll() is not None,
                       scaled(10), "s_client taking the R command")
            outcome = after_refusal(p, "s_client R")
            p.close_stdin()  # s_client flushes its -msgfile when it ends
            check(p.wait_exit(scaled(10)) is not None, "s_client did not end; " + p.describe())
            with open(msgs, "rb") as f:
                log = f.read()
            check(count(rb"<<< TLS 1\.2, Handshake \[[^\]]*\], ServerHello\n", log) == 1,
                  "the server answered a second ClientHello (%s):\n%s" % (outcome, log.decode()))
            check(count(rb">>> TLS 1\.2, Handshake \[[^\]]*\], ClientHello\n", log) == 2,
                  "s_client sent no renegotiating ClientHello:\n" + log.decode())
        finally:
            p.kill()
        check_served(srv)

        # gnutls: ^renegotiate^ (its own retry loop, then it gives up).
        g = gnutls_cli(srv.port, "--inline-commands", "--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.2")
        try:
            ask_version(g, 1)
            g.send(b"^renegotiate^\n")
            # gnutls-cli retries on each no_renegotiation warning, then gives up.
            wait_until(lambda: g.proc.poll() is not None or b"ReHandshake" in g.err or
                       b"Rehandshake" in g.out, scaled(10))
            outcome = after_refusal(g, "gnutls-cli ^renegotiate^")
            text = (bytes(g.out) + bytes(g.err)).decode("utf-8", "replace")
            check("ReHandshake was completed" not in text,
                  "gnutls-cli renegotiated (%s): %s" % (outcome, g.describe()))
        finally:
            g.kill()
        check_served(srv)


def key_update():
    with running() as srv:
        s = srv.connect()
        set_value(s, b"big", BIG)
        s.close()
        check_s_client_key_update(srv, get_reply(b"big", BIG) * S_CLIENT_GETS)
        check_served(srv)
        check_gnutls_rekey(srv, get_reply(b"big", BIG) * GNUTLS_GETS)
        check_served(srv)


def check_mid_stream(srv):
    """The server's socket holds unsent reply bytes: it is stuck mid-response."""
    check(wait_stuck_sending(srv.port, scaled(5)),
          "the server's send queue stayed empty: the reply was not held up")


def big_gets(newline, n):
    return b"".join(b"get big" + newline for _ in range(n))


def check_s_client_key_update(srv, reply):
    p = s_client(srv.port, "-tls1_3")
    try:
        ask_version(p, 1)
        n = 1
        for cmd in (b"k\n", b"K\n"):
            keyupdates = count(b"KEYUPDATE", bytes(p.err))
            p.send(cmd)
            p.wait_out(lambda o: count(b"KEYUPDATE", bytes(p.err)) > keyupdates, scaled(10),
                       "s_client taking %r" % cmd)
            n += 1
            ask_version(p, n)
        for cmd in (b"k\n", b"K\n"):
            # Stop reading s_client's stdout: its pipe, then the socket buffers
            # fill, the server is stuck mid-response when the KeyUpdate comes.
            start = len(p.out)
            p.pause()
            p.send(big_gets(b"\n", S_CLIENT_GETS))
            check_mid_stream(srv)
            p.send(cmd)
            p.resume()
            p.wait_out(lambda o: len(o) >= start + len(reply), scaled(30),
                       "%d bytes of get replies" % len(reply))
            got = bytes(p.out[start:])
            check_bytes(got, reply, "KeyUpdate %r mid-stream" % cmd)
            n += 1
            ask_version(p, n)
        p.close_stdin()
        check(p.wait_exit(scaled(10)) == 0, "s_client did not end cleanly; " + p.describe())
        check(count(b"KEYUPDATE", bytes(p.err)) == 4, "4 KeyUpdates made; %s" % p.describe())
    finally:
        p.kill()


def check_gnutls_rekey(srv, reply):
    g = gnutls_cli(srv.port, "--inline-commands", "--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.3")
    try:
        ask_version(g, 1)
        n = 1
        for cmd in (b"^rekey1^\n", b"^rekey^\n"):
            done = count(b"Rekey was completed", bytes(g.out))
            g.send(cmd)
            g.wait_out(lambda o: count(b"Rekey was completed", o) > done, scaled(10),
                       "gnutls-cli %r" % cmd)
            n += 1
            ask_version(g, n)
        for cmd in (b"^rekey1^\n", b"^rekey^\n"):
            start = len(g.out)
            g.pause()
            g.send(big_gets(b"\r\n", GNUTLS_GETS))
            check_mid_stream(srv)
            g.send(cmd)
            g.resume()
            # gnutls-cli prints "- Rekey was completed" into the same stdout.
            note = b"- Rekey was completed\n"
            g.wait_out(lambda o: len(o) >= start + len(reply) + len(note) and note in o[start:],
                       scaled(30), "%d bytes of get replies and the rekey note" % len(reply))
            got = bytes(g.out[start:]).replace(note, b"", 1)
            check_bytes(got, reply, "rekey %r mid-stream" % cmd)
            n += 1
            ask_version(g, n)
        g.close_stdin()
        check(g.wait_exit(scaled(10)) is not None, "gnutls-cli did not end; " + g.describe())
    finally:
        g.kill()


def check_bytes(got, want, what):
    if got == want:
        return
    i = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]), None)
    where = "the end" if i is None else "%d (%r vs %r)" % (i, got[i:i + 40], want[i:i + 40])
    raise AssertionError("%s: %d bytes (%d expected), first difference at %s" %
                         (what, len(got), len(want), where))


if __name__ == "__main__":
    main({"renegotiation": renegotiation, "key_update": key_update})

#!/usr/bin/env python3
"""TLS handshakes as a user sees them, with openssl s_client, gnutls-cli and
Python's ssl module as independent peers:

  versions      TLS 1.2 and 1.3 handshakes; text `version` and MCBP NOOP/VERSION
                answered; the certificate chains to ca.pem, subject "memkv test server";
                values of 0 B to ~1 MiB and pipelined commands come back byte for byte.
  min_version   ssl_min_version=3 refuses a TLS 1.2 client; the default refuses
                TLS 1.0/1.1; refusals leave the server serving others.
  ciphers       ssl_ciphers limits TLS 1.2 suites (a client offering none of them
                is refused), TLS 1.3 unaffected.
  no_resumption memkv only: no session tickets, no resumed sessions (TLS 1.2, 1.3).
  garbage       plaintext or random bytes instead of a ClientHello: closed, other
                connections unaffected, ssl_handshake_errors grows.
  client_certs  ssl_verify_mode=2 + ssl_ca_cert: no client certificate or one from
                another CA is refused, client-app's certificate works; with
                ssl_verify_mode=1 no certificate is fine, a rogue one is refused.

Usage: handshake_test.py [CASE...] (see tlslib.py for the environment).
"""
import os
import socket
import ssl
import struct
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tlslib import (  # noqa: E402
    HOST, OP_GET, OP_NOOP, OP_VERSION, TARGET, Peer, cert, check, count, get_reply, gnutls_cli,
    is_closed, main, mcbp_read, mcbp_req, memkv_only, read_exact, running, s_client, scaled,
    set_value, text_cmd, tls_connect, value_bytes, version_line, wait_until)

V12, V13 = ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3


def text_version(port, **kw):
    """The VERSION line a fresh TLS connection gets; raises when refused."""
    s = tls_connect(port, **kw)
    try:
        return text_cmd(s, b"version\r\n")
    finally:
        s.close()


def s_client_version(port, *args):
    """Runs s_client with `args`, sends `version`; returns (peer, stdout)."""
    p = s_client(port, *args)
    try:
        p.send(b"version\n")
        p.wait_out(lambda o: version_line().search(o), scaled(10), "a VERSION reply")
        p.close_stdin()
        rc = p.wait_exit(scaled(10))
        check(rc == 0, "s_client %s exited with %s after stdin closed; %s" %
              (" ".join(args), rc, p.describe()))
        return p, bytes(p.out)
    finally:
        p.kill()


def s_client_refused(port, *args):
    """s_client with `args` must not get a VERSION reply and must exit non-zero."""
    p = s_client(port, *args)
    try:
        try:
            p.send(b"version\n")
        except BrokenPipeError:
            pass  # s_client already gave up: the refusal came first
        rc = p.wait_exit(scaled(10))
        check(rc is not None, "s_client %s still connected after 10 s; %s" % (" ".join(args),
                                                                              p.describe()))
        check(rc != 0 and not version_line().search(bytes(p.out)),
              "s_client %s was served (rc %s); %s" % (" ".join(args), rc, p.describe()))
        return bytes(p.err).decode("utf-8", "replace")
    finally:
        p.kill()


def check_served(srv):
    """Another client still gets answers, the server process is alive."""
    check(srv.alive(), "server died:\n" + srv.log())
    check(version_line().fullmatch(text_version(srv.port)), "a fresh client got no VERSION")


def versions():
    with running() as srv:
        expected = text_version(srv.port)
        check(version_line().fullmatch(expected), "version reply %r" % expected)
        for flag, name, gname in (("-tls1_2", "TLSv1.2", "TLS1.2"),
                                  ("-tls1_3", "TLSv1.3", "TLS1.3")):
            # openssl: protocol, verified chain, subject; the text reply.
            p, out = s_client_version(srv.port, flag)
            err = bytes(p.err).decode("utf-8", "replace")
            check(out == expected, "s_client %s got %r, expected %r" % (flag, out, expected))
            for want in ("Protocol version: " + name, "Verification: OK",
                         "Peer certificate: CN = memkv test server"):
                check(want in err, "s_client %s: no %r in %r" % (flag, want, err))
            # gnutls: a different TLS stack, its own chain check against ca.pem.
            g = gnutls_cli(srv.port, "--priority", "NORMAL:-VERS-ALL:+VERS-" + gname)
            try:
                g.send(b"version\r\n")
                g.wait_out(lambda o: version_line().search(o), scaled(10), "a VERSION reply")
                out = bytes(g.out).decode("utf-8", "replace")
                for want in ("The certificate is trusted", "subject `CN=memkv test server'",
                             "issuer `CN=memkv test CA'", "Description: (%s-X.509)" % gname):
                    check(want in out, "gnutls-cli %s: no %r in %r" % (gname, want, out))
                check(count(rb"VERSION [^\r\n]*\r\n", bytes(g.out)) == 1, "one VERSION reply")
                g.close_stdin()
                check(g.wait_exit(scaled(10)) is not None, "gnutls-cli did not exit")
            finally:
                g.kill()
            # Binary protocol through s_client (bytes piped as they are).
            check_mcbp_via_s_client(srv.port, flag, expected)
        for v in (V12, V13):
            check_python_client(srv.port, v, expected)
            check_values(srv.port, v)


def check_mcbp_via_s_client(port, flag, expected):
    """NOOP and VERSION as raw MCBP bytes piped through s_client -quiet (no
    -crlf: it would turn NOOP's opcode byte 0x0a into "\\r\\n")."""
    p = Peer(["openssl", "s_client", "-connect", "%s:%d" % (HOST, port), "-CAfile",
              cert("ca.pem"), "-verify_return_error", "-quiet", flag])
    try:
        p.send(mcbp_req(OP_NOOP, opaque=1) + mcbp_req(OP_VERSION, opaque=2))
        version = expected[len(b"VERSION "):-2]
        n = 24 + 24 + len(version)
        p.wait_out(lambda o: len(o) >= n, scaled(10), "two MCBP responses")
        out = bytes(p.out)
        check(len(out) == n, "%d bytes of responses, expected %d: %r" % (len(out), n, out))
        noop = struct.unpack(">BBHBBHIIQ", out[:24])
        check(noop == (0x81, OP_NOOP, 0, 0, 0, 0, 0, 1, 0), "NOOP response %r" % (noop,))
        ver = struct.unpack(">BBHBBHIIQ", out[24:48])
        check(ver[:8] == (0x81, OP_VERSION, 0, 0, 0, 0, len(version), 2) and out[48:] == version,
              "VERSION response %r %r (expected %r)" % (ver, out[48:], version))
    finally:
        p.kill()


def check_python_client(port, v, expected):
    s = tls_connect(port, minv=v, maxv=v)
    try:
        check(s.version() == {V12: "TLSv1.2", V13: "TLSv1.3"}[v], "negotiated %s" % s.version())
        subject = dict(x[0] for x in s.getpeercert()["subject"])
        check(subject.get("commonName") == "memkv test server", "subject %r" % subject)
        s.sendall(mcbp_req(OP_NOOP, opaque=7) + mcbp_req(OP_VERSION, opaque=8))
        op, st, opq, _, _ = mcbp_read(s)
        check((op, st, opq) == (OP_NOOP, 0, 7), "NOOP -> op %x status %x opaque %d" % (op, st, opq))
        op, st, opq, _, val = mcbp_read(s)
        check((op, st, opq) == (OP_VERSION, 0, 8) and b"VERSION " + val + b"\r\n" == expected,
              "VERSION -> op %x status %x opaque %d value %r" % (op, st, opq, val))
    finally:
        s.close()


def check_values(port, v):
    """Values of 0 B to ~1 MiB, stored over text and read back over text and
    MCBP, byte for byte; 200 small commands pipelined in one write."""
    tag = b"v12" if v == V12 else b"v13"
    sizes = (0, 1, 16383, 16384, 16385, 100000, (1 << 20) - 4096)
    t = tls_connect(port, minv=v, maxv=v)
    b = tls_connect(port, minv=v, maxv=v)
    try:
        for n in sizes:
            key = b"%s-%d" % (tag, n)
            value = value_bytes(n, key)
            set_value(t, key, value)
            check(text_cmd(t, b"get " + key + b"\r\n", b"END\r\n") == get_reply(key, value),
                  "text get of %d bytes" % n)
            b.sendall(mcbp_req(OP_GET, key=key, opaque=n))
            op, st, opq, _, got = mcbp_read(b)
            check((op, st, opq) == (OP_GET, 0, n) and got == value,
                  "MCBP GET of %d bytes -> status %x, %d bytes" % (n, st, len(got)))
        batch = b"".join(b"set %s-p%d 0 0 3\r\nabc\r\nget %s-p%d\r\n" % (tag, i, tag, i)
                         for i in range(100))
        want = b"".join(b"STORED\r\n" + get_reply(b"%s-p%d" % (tag, i), b"abc")
                        for i in range(100))
        t.sendall(batch)
        check(read_exact(t, len(want)) == want, "pipelined replies differ")
    finally:
        t.close()
        b.close()


def check_errors_grew(srv, before, n):
    """ssl_handshake_errors grew by n. memcached 1.6.18 has the stat but counts
    only some failed handshakes (not version refusals, plaintext only at times),
    so there it is only read."""
    if TARGET == "memcached":
        srv.stat("ssl_handshake_errors")
        return
    check(wait_until(lambda: srv.stat("ssl_handshake_errors") >= before + n, scaled(5)),
          "ssl_handshake_errors did not grow by %d (%d -> %d)" %
          (n, before, srv.stat("ssl_handshake_errors")))


def min_version():
    with running(ssl_opts={"ssl_min_version": 3}) as srv:
        errors0 = srv.stat("ssl_handshake_errors")
        err = s_client_refused(srv.port, "-tls1_2")
        check("alert protocol version" in err, "no protocol_version alert: %r" % err)
        try:
            text_version(srv.port, maxv=V12)
            raise AssertionError("a TLS 1.2-only Python client was served")
        except ssl.SSLError:
            pass
        check_served(srv)
        s_client_version(srv.port, "-tls1_3")
        check_errors_grew(srv, errors0, 2)
    with running() as srv:
        errors0 = srv.stat("ssl_handshake_errors")
        for flag in ("-tls1", "-tls1_1"):
            # SECLEVEL=0 lets OpenSSL 3's client offer TLS 1.0/1.1 at all, so
            # the refusal seen is the server's.
            err = s_client_refused(srv.port, flag, "-cipher", "DEFAULT@SECLEVEL=0")
            check("alert protocol version" in err, "%s: no protocol_version alert: %r" %
                  (flag, err))
            check_served(srv)
        s_client_version(srv.port, "-tls1_2")
        check_errors_grew(srv, errors0, 2)


def ciphers():
    # ssl_ciphers is the TLS <= 1.2 list (OpenSSL's cipher_list), as in memcached.
    with running(ssl_opts={"ssl_ciphers": "ECDHE-ECDSA-AES128-GCM-SHA256"}) as srv:
        err = s_client_refused(srv.port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384")
        check("alert handshake failure" in err, "no handshake_failure alert: %r" % err)
        check_served(srv)
        p, _ = s_client_version(srv.port, "-tls1_2", "-cipher",
                                "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256")
        err = bytes(p.err).decode("utf-8", "replace")
        check("Ciphersuite: ECDHE-ECDSA-AES128-GCM-SHA256" in err, "negotiated: %r" % err)
        p, _ = s_client_version(srv.port, "-tls1_3")
        check("Protocol version: TLSv1.3" in bytes(p.err).decode("utf-8", "replace"),
              "TLS 1.3 after ssl_ciphers")


def no_resumption():
    """memkv turns tickets and the session cache off (as kv_engine): a client
    that offers its last session gets a full handshake."""
    memkv_only()
    with running() as srv:
        p = Peer(["openssl", "s_client", "-connect", "%s:%d" % (HOST, srv.port), "-CAfile",
                  cert("ca.pem"), "-verify_return_error", "-tls1_2", "-reconnect"])
        try:
            p.close_stdin()
            check(p.wait_exit(scaled(20)) is not None, "s_client -reconnect hung")
            out = bytes(p.out).decode("utf-8", "replace")
            check(out.count("\nNew, TLSv1.2") == 6 and "Reused," not in out,
                  "TLS 1.2 session resumed or not 6 handshakes: %s" % p.describe())
        finally:
            p.kill()
        sess = srv.workdir + "/session.pem"
        for args in (("-sess_out", sess), ("-sess_in", sess)):
            if args[0] == "-sess_in" and not os.path.exists(sess):
                break  # TLS 1.3 saves a session only when a ticket arrives: none did
            p = s_client(srv.port, "-tls1_3", *args, brief=False)
            try:
                p.send(b"version\n")
                p.wait_out(lambda o: version_line().search(o), scaled(10), "VERSION")
                p.close_stdin()
                check(p.wait_exit(scaled(10)) is not None, "s_client did not exit")
                out = bytes(p.out).decode("utf-8", "replace")
                check("New Session Ticket" not in out, "the server sent a session ticket")
                check("Reused," not in out, "TLS 1.3 session resumed: %s" % p.describe())
            finally:
                p.kill()


def garbage():
    with running() as srv:
        bystander = srv.connect()
        check(text_cmd(bystander, b"version\r\n").startswith(b"VERSION "), "bystander version")
        errors0 = srv.stat("ssl_handshake_errors")
        junk = [b"get foo\r\n",
                bytes((i * 37 + 11) % 256 for i in range(1, 300)),  # not 0x16 at the start
                b"\x16\x03\x01\x00\x10" + b"\xff" * 16,  # a handshake record holding nonsense
                b"\x15\x03\x03\x00\x02\x02\x28"]  # a fatal alert before any hello
        for data in junk:
            s = socket.create_connection((HOST, srv.port), timeout=scaled(10))
            try:
                s.sendall(data)
                check(is_closed(s, scaled(5)), "server kept the connection after %r" % data[:16])
            finally:
                s.close()
            check(text_cmd(bystander, b"version\r\n").startswith(b"VERSION "),
                  "bystander broken after %r" % data[:16])
        check_served(srv)
        check_errors_grew(srv, errors0, len(junk))
        bystander.close()


ROGUE = ("-cert", cert("rogue-client.pem"), "-key", cert("rogue-client.key"))
APP = ("-cert", cert("client-app.pem"), "-key", cert("client-app.key"))


def client_certs():
    opts = {"ssl_verify_mode": 2, "ssl_ca_cert": cert("ca.pem")}
    with running(ssl_opts=opts) as srv:
        for flag, v in (("-tls1_2", V12), ("-tls1_3", V13)):
            s_client_refused(srv.port, flag)
            s_client_refused(srv.port, flag, *ROGUE)
            check(python_refused(srv.port, v), "no certificate, served over %s" % v)
            check(python_refused(srv.port, v, certfile=ROGUE[1], keyfile=ROGUE[3]),
                  "rogue CA's certificate served over %s" % v)
            check_served_with_cert(srv)
            s_client_version(srv.port, flag, *APP)
        g = gnutls_cli(srv.port, "--x509certfile", cert("client-app.pem"), "--x509keyfile",
                       cert("client-app.key"))
        try:
            g.send(b"version\r\n")
            g.wait_out(lambda o: version_line().search(o), scaled(10), "VERSION with a client cert")
        finally:
            g.kill()
    # ssl_verify_mode=1: a certificate is asked for, not required; one sent must verify.
    opts = {"ssl_verify_mode": 1, "ssl_ca_cert": cert("ca.pem")}
    with running(ssl_opts=opts) as srv:
        for flag, v in (("-tls1_2", V12), ("-tls1_3", V13)):
            s_client_version(srv.port, flag)
            s_client_version(srv.port, flag, *APP)
            s_client_refused(srv.port, flag, *ROGUE)
            check(python_refused(srv.port, v, certfile=ROGUE[1], keyfile=ROGUE[3]),
                  "rogue CA's certificate served over %s (mode 1)" % v)


def python_refused(port, v, **kw):
    """True when the server refuses: the handshake fails, or (TLS 1.3, where the
    client finishes first) the first read gets an alert or EOF instead of data."""
    try:
        s = tls_connect(port, minv=v, maxv=v, **kw)
    except (ssl.SSLError, ConnectionError):
        return True
    try:
        s.sendall(b"version\r\n")
        return is_closed(s, scaled(5))
    except (ssl.SSLError, ConnectionError):
        return True
    finally:
        s.close()


def check_served_with_cert(srv):
    s = tls_connect(srv.port, certfile=cert("client-app.pem"), keyfile=cert("client-app.key"))
    try:
        check(text_cmd(s, b"version\r\n").startswith(b"VERSION "), "client-app refused")
    finally:
        s.close()


if __name__ == "__main__":
    main({"versions": versions, "min_version": min_version, "ciphers": ciphers,
          "no_resumption": no_resumption, "garbage": garbage,
          "client_certs": client_certs})

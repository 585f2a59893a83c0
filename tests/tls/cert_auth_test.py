#!/usr/bin/env python3
"""--tls-cert-auth (memkv only): a verified client certificate's subject CN
names the user its connection acts as, with that user's roles, and nothing
more: a read-only user's certificate reads but cannot write; a certificate
naming no user closes the connection; no certificate means SASL as usual;
and the text protocol stays refused with a users file (its commands carry no
privilege checks), certificate or not.

  cert_auth_test.py [cert_auth]
"""
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tlslib import (  # noqa: E402
    OP_GET, OP_SET, cert, check, is_closed, main, mcbp_read, mcbp_req, memkv_only, running,
    scaled, text_cmd, tls_connect)

STATUS_SUCCESS, STATUS_NOT_FOUND, STATUS_AUTH_ERROR, STATUS_NO_ACCESS = 0x00, 0x01, 0x20, 0x24
SET_EXTRAS = b"\0" * 8  # flags, expiry


def users_file(workdir):
    """app may read and write `default`; admin (despite the name) only read."""
    admin_bin = os.environ.get("MEMKV_ADMIN_BIN") or os.path.join(
        os.path.dirname(os.environ["MEMKV_BIN"]), "memkv-admin")
    path = os.path.join(workdir, "users.json")
    for name, roles in (("app", "read[default],write[default]"), ("admin", "read[default]")):
        subprocess.run([admin_bin, "add-user", "--users-file", path, "--name", name,
                        "--roles", roles, "--iterations", "4096"],
                       input=b"password-%s\n" % name.encode(), check=True,
                       stdout=subprocess.DEVNULL, timeout=scaled(30))
    return path


def call(sock, opcode, key, value=b"", extras=b""):
    sock.sendall(mcbp_req(opcode, key, value, extras))
    _op, status, _opaque, _key, body = mcbp_read(sock)
    return status, body


def cert_auth():
    memkv_only()
    import tempfile
    workdir = tempfile.mkdtemp(prefix="memkv-cert-auth.")
    users = users_file(workdir)
    opts = {"ssl_ca_cert": cert("ca.pem"), "ssl_verify_mode": "1"}
    with running("Z", ssl_opts=opts, extra=["--users-file", users, "--tls-cert-auth"]) as srv:
        client = lambda name: {"certfile": cert("client-%s.pem" % name),  # noqa: E731
                               "keyfile": cert("client-%s.key" % name)}
        # app's certificate: app's rights, no SASL.
        s = tls_connect(srv.port, **client("app"))
        check(call(s, OP_SET, b"k", b"by-cert", SET_EXTRAS)[0] == STATUS_SUCCESS,
              "SET as app (certificate) failed")
        status, body = call(s, OP_GET, b"k")
        check(status == STATUS_SUCCESS and body == b"by-cert",
              "GET as app (certificate): status 0x%02x, %r" % (status, body))
        s.close()
        # A read-only user's certificate reads, and cannot write.
        s = tls_connect(srv.port, **client("admin"))
        status, body = call(s, OP_GET, b"k")
        check(status == STATUS_SUCCESS and body == b"by-cert",
              "GET as a read-only certificate user: status 0x%02x" % status)
        status, _ = call(s, OP_SET, b"k", b"overwritten", SET_EXTRAS)
        check(status == STATUS_NO_ACCESS,
              "SET as a read-only certificate user: status 0x%02x, want NO_ACCESS" % status)
        s.close()
        # A certificate whose CN names no user: the connection closes.
        s = tls_connect(srv.port, **client("nobody"))
        s.sendall(mcbp_req(OP_GET, b"k"))
        check(is_closed(s, scaled(5)), "a certificate naming no user kept its connection")
        s.close()
        # No certificate: not authenticated (SASL would be next).
        s = tls_connect(srv.port)
        status, _ = call(s, OP_GET, b"k")
        check(status in (STATUS_AUTH_ERROR, STATUS_NO_ACCESS),
              "GET without a certificate or SASL: status 0x%02x" % status)
        s.close()
        # Text: refused with a users file, even for a certificate user.
        s = tls_connect(srv.port, **client("app"))
        reply = text_cmd(s, b"set k 0 0 5\r\ntext!\r\n")
        check(reply.startswith(b"CLIENT_ERROR unauthenticated"),
              "text set as a certificate user: %r" % reply)
        s.close()
        s = tls_connect(srv.port, **client("app"))
        status, body = call(s, OP_GET, b"k")
        check(status == STATUS_SUCCESS and body == b"by-cert",
              "the value after the refused writes: %r" % body)
        s.close()


if __name__ == "__main__":
    main({"cert_auth": cert_auth})

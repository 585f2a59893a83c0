#!/usr/bin/env python3
"""Which port speaks what, and certificate reload:

  tls_port     memkv only: --tls-port beside the plain port: text and MCBP in
               the clear on the plain port, over TLS on the TLS port (found via
               --tls-port-file); each port refuses the other kind of client.
  notls        -Z with `-l notls:HOST:P1,HOST:P2`: P1 stays plain, P2 is TLS
               (memcached 1.6.18 has the same prefix: run on both).
  cert_reload  after server.pem/server.key are replaced by server2's, SIGHUP or
               `refresh_certs` makes new connections see CN "memkv test server2";
               an existing connection keeps working;
               time_since_server_cert_refresh starts again.
  bad_reload   memkv only: a reload from broken files (key mismatch, no PEM)
               is refused (refresh_certs answers ERROR) and the old
               certificate stays in service.

Usage: listeners_test.py [CASE...] (see tlslib.py for the environment).
"""
import os
import shutil
import signal
import socket
import ssl
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tlslib import (  # noqa: E402
    HOST, OP_NOOP, OP_VERSION, TARGET, cert, check, is_closed, main, mcbp_read, mcbp_req,
    memkv_only, running, s_client, scaled, text_cmd, tls_connect, version_line, wait_until)


def check_speaks(s, what):
    """Text `version`, then (on a second connection made by the caller) MCBP."""
    check(version_line().fullmatch(text_cmd(s, b"version\r\n")), "%s: no VERSION reply" % what)


def check_mcbp(s, what):
    s.sendall(mcbp_req(OP_NOOP, opaque=3) + mcbp_req(OP_VERSION, opaque=4))
    op, st, opq, _, _ = mcbp_read(s)
    check((op, st, opq) == (OP_NOOP, 0, 3), "%s: NOOP -> %x/%x/%d" % (what, op, st, opq))
    op, st, opq, _, val = mcbp_read(s)
    check((op, st, opq) == (OP_VERSION, 0, 4) and val, "%s: VERSION -> %x/%x/%d %r" %
          (what, op, st, opq, val))


def check_plain_port(port):
    for check_fn in (check_speaks, check_mcbp):
        s = socket.create_connection((HOST, port), timeout=scaled(10))
        try:
            check_fn(s, "plain port %d" % port)
        finally:
            s.close()
    # A TLS client on the plain port gets no TLS session (the ClientHello is
    # not a request: an error reply or a close, within the bound).
    try:
        s = tls_connect(port, timeout=scaled(5))
        s.close()
        raise AssertionError("a TLS handshake succeeded on the plain port %d" % port)
    except (ssl.SSLError, ConnectionError, socket.timeout, TimeoutError):
        pass


def check_tls_port(port):
    for check_fn in (check_speaks, check_mcbp):
        s = tls_connect(port)
        try:
            check_fn(s, "TLS port %d" % port)
        finally:
            s.close()
    # Plaintext on the TLS port: closed, not answered.
    s = socket.create_connection((HOST, port), timeout=scaled(10))
    try:
        s.sendall(b"version\r\n")
        check(is_closed(s, scaled(5)), "plaintext on the TLS port %d was not closed" % port)
    finally:
        s.close()


def tls_port():
    memkv_only()
    with running(mode="tls_port") as srv:
        check(srv.plain_port != srv.tls_port, "one port for both")
        check_plain_port(srv.plain_port)
        check_tls_port(srv.tls_port)
        settings = srv.stats("settings")
        check(settings.get("tls_port") == str(srv.tls_port),
              "stats settings tls_port %r, bound %d" % (settings.get("tls_port"), srv.tls_port))
        check_plain_port(srv.plain_port)  # still plain after TLS clients came and went


def notls():
    with running(mode="notls") as srv:
        check_plain_port(srv.plain_port)
        check_tls_port(srv.tls_port)


def subject_cn(port):
    s = tls_connect(port)
    try:
        return dict(x[0] for x in s.getpeercert()["subject"]).get("commonName")
    finally:
        s.close()


def replace_certs(workdir, name):
    """Atomically puts <name>.pem/.key where the server's files are."""
    for ext in ("pem", "key"):
        tmp = os.path.join(workdir, "new." + ext)
        shutil.copyfile(cert("%s.%s" % (name, ext)), tmp)
        os.replace(tmp, os.path.join(workdir, "server." + ext))


def cert_reload():
    reload_once("refresh_certs")
    # memcached 1.6.18 reloads only on refresh_certs (SIGHUP leaves its certificate).
    if TARGET == "memkv":
        reload_once("sighup")


def reload_once(trigger):
    tmp = tempfile.mkdtemp(prefix="memkv-tls-certs.")
    try:
        for ext in ("pem", "key"):
            shutil.copyfile(cert("server." + ext), os.path.join(tmp, "server." + ext))
        with running(chain=os.path.join(tmp, "server.pem"), key=os.path.join(tmp, "server.key")) \
                as srv:
            existing = srv.connect()
            check(dict(x[0] for x in existing.getpeercert()["subject"])["commonName"] ==
                  "memkv test server", "initial subject")
            check(subject_cn(srv.port) == "memkv test server", "initial subject (fresh conn)")
            # time_since_server_cert_refresh counts seconds: let it reach 2.
            check(wait_until(lambda: srv.stat("time_since_server_cert_refresh") >= 2,
                             scaled(5), 0.2), "time_since_server_cert_refresh does not advance")
            replace_certs(tmp, "server2")
            # Not reloaded yet: files changed on disk do not matter by themselves.
            check(subject_cn(srv.port) == "memkv test server", "certificate changed before %s"
                  % trigger)
            if trigger == "sighup":
                srv.proc.send_signal(signal.SIGHUP)
            else:
                check(text_cmd(existing, b"refresh_certs\r\n") == b"OK\r\n", "refresh_certs reply")
            check(wait_until(lambda: subject_cn(srv.port) == "memkv test server2", scaled(5), 0.05),
                  "new connections still see %r after %s" % (subject_cn(srv.port), trigger))
            check(version_line().fullmatch(text_cmd(existing, b"version\r\n")),
                  "the existing connection broke on %s" % trigger)
            since = srv.stat("time_since_server_cert_refresh")
            check(since <= 1, "time_since_server_cert_refresh %d after %s" % (since, trigger))
            # An independent client agrees, and its chain check against ca.pem passes.
            p = s_client(srv.port)
            try:
                p.send(b"version\n")
                p.wait_out(lambda o: version_line().search(o), scaled(10), "VERSION")
                for want in (b"Peer certificate: CN = memkv test server2", b"Verification: OK"):
                    check(p.wait_err(want, scaled(5)), "s_client after reload: no %r; %s" %
                          (want, p.describe()))
            finally:
                p.kill()
            existing.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def full_log(srv):
    with open(srv.log_path, errors="replace") as f:
        return f.read()


def bad_reload():
    """memkv only: a reload that cannot load the new files keeps the old
    certificate in service (memcached 1.6.18 answers refresh_certs with the
    error but then fails every new handshake after a key mismatch)."""
    memkv_only()
    tmp = tempfile.mkdtemp(prefix="memkv-tls-certs.")
    try:
        for ext in ("pem", "key"):
            shutil.copyfile(cert("server." + ext), os.path.join(tmp, "server." + ext))
        with running(chain=os.path.join(tmp, "server.pem"), key=os.path.join(tmp, "server.key")) \
                as srv:
            existing = srv.connect()
            # server2's chain with server's key (a mismatch), then a file that is no PEM.
            for broken in ("mismatch", "garbage"):
                path = os.path.join(tmp, "server.pem")
                if broken == "mismatch":
                    shutil.copyfile(cert("server2.pem"), path)
                else:
                    with open(path, "w") as f:
                        f.write("not a certificate\n")
                reply = text_cmd(existing, b"refresh_certs\r\n")
                check(reply != b"OK\r\n" and reply.startswith(b"ERROR"),
                      "refresh_certs with a %s answered %r" % (broken, reply))
                # SIGHUP is handled asynchronously: wait for memkv's log line.
                fails = full_log(srv).count("reload failed")
                srv.proc.send_signal(signal.SIGHUP)
                check(wait_until(lambda: full_log(srv).count("reload failed") > fails, scaled(5)),
                      "no 'reload failed' logged after SIGHUP:\n" + srv.log())
                check(subject_cn(srv.port) == "memkv test server",
                      "after a failed reload (%s) new connections see %r" %
                      (broken, subject_cn(srv.port)))
                check(version_line().fullmatch(text_cmd(existing, b"version\r\n")),
                      "the existing connection broke after a failed reload (%s)" % broken)
            existing.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main({"tls_port": tls_port, "notls": notls, "cert_reload": cert_reload,
          "bad_reload": bad_reload})

#!/usr/bin/env python3
"""memkv's text replies against memcached 1.6.18's, byte for byte.

  bench/text_reply_diff.py [MEMKV_BIN] [MEMCACHED_BIN]

Starts both servers (-t 1) on 127.0.0.1, sends each the same fixed command
streams (classic commands, multigets with misses, keys of 250/251 bytes,
values around 4 KiB and 16 KiB and of 100 KiB, noreply, errors, split
delivery, an HTTP probe), each on a fresh connection ended by "mn", and
prints `same` or the first differing bytes per stream. Exit status 1 on any
difference. A check to run after changing the text parser or reply writer;
not part of `make test`.

Not covered (memcached 1.6.18 itself is odd there): two gets rejected for a
key over 250 bytes back to back in one read; memcached answers only the first.
"""
import os, socket, subprocess, sys, random, time

def val(n, seed):
    r = random.Random(seed)
    return bytes(r.choice(b'abcdefghijklmnopqrstuvwxyz0123456789') for _ in range(n))

def build_cases():
    cases = []
    big = val(100 * 1024, 1)
    v4095, v4096, v5000, v16k = val(4095, 2), val(4096, 3), val(5000, 4), val(16 * 1024, 5)
    setup = b''
    for i in range(120):
        v = val(32 + (i % 7) * 500, 100 + i)
        setup += b'set k%d %d 0 %d\r\n' % (i, i, len(v)) + v + b'\r\n'
    cases.append(('setup', [setup]))
    cases.append(('classic', [b'get k1\r\nget nokey\r\nget k1 k2 nokey k3\r\nget nokey k1\r\nget k1 nokey\r\n'
                              b'bget k5\r\nget\r\nget \r\nget   k1   k2   \r\n   get k4\r\n\r\n'
                              b'gets\r\nfoo bar\r\nGET k1\r\n']))
    keys = b' '.join(b'k%d' % i for i in range(100))
    cases.append(('multiget100', [b'get ' + keys + b'\r\n']))
    keys2 = b' '.join(b'k%d' % (i * 7 % 130) for i in range(300))
    cases.append(('multiget300-misses', [b'get ' + keys2 + b'\r\n']))
    cases.append(('longkey', [b'get ' + b'x' * 250 + b'\r\nget ' + b'x' * 251 + b'\r\nget k0\r\nget k1 ' + b'x' * 251 + b' k2\r\n'
                              b'get k3\r\nget k1 k2 ' + b'y' * 300 + b'\r\nget k5\r\nget ' + b'z' * 251 + b' ' + b'k1 ' * 200 + b'\r\nget k4\r\n'
                              b'get ' + b'k1 ' * 200 + b'z' * 251 + b'\r\nget k4\r\nset ' + b'x' * 251 + b' 0 0 1\r\na\r\n'
                              b'set ' + b'x' * 250 + b' 0 0 1\r\na\r\nget ' + b'x' * 250 + b'\r\n']))
    cases.append(('values', [b'set v4095 1 0 4095\r\n' + v4095 + b'\r\nset v4096 2 0 4096\r\n' + v4096 + b'\r\n'
                             b'set v5000 3 0 5000\r\n' + v5000 + b'\r\nset v16k 4294967295 0 16384\r\n' + v16k + b'\r\n'
                             b'set big 5 0 102400\r\n' + big + b'\r\n'
                             b'get v4095\r\nget v4096\r\nget v5000\r\nget v16k\r\nget big\r\n'
                             b'get v4095 v4096 v5000 v16k big v4095 nokey\r\nget big big big nokey big\r\n'
                             b'get v16k v16k v16k v16k\r\nget v4095 v4095 v4095 v4095 v4095\r\n'
                             b'set empty 0 0 0\r\n\r\nget empty\r\nget empty empty v4096 empty\r\n']))
    cases.append(('storage', [b'add k1 0 0 1\r\nx\r\nadd new1 0 0 1\r\nx\r\nreplace nokey 0 0 1\r\nx\r\n'
                              b'replace new1 7 0 2\r\nyy\r\nappend new1 0 0 2\r\nzz\r\nprepend new1 0 0 2\r\naa\r\n'
                              b'get new1\r\nappend nokey 0 0 1\r\nq\r\n'
                              b'set nr 0 0 3 noreply\r\nabc\r\nget nr\r\nset nr 0 0 3 noreply\r\nabcde\r\n'
                              b'set bad 0 0 3\r\nabcde\r\nset bad 0 0 -1\r\nset bad 0 0 abc\r\nset bad abc 0 1\r\n'
                              b'set bad 0 0\r\nset bad 0 0 1 2 3\r\nset bad 0 0 1 junk\r\nx\r\n'
                              b'set  spaced   0  0   1  \r\ns\r\nget spaced\r\n'
                              b'set sg -1 0 1\r\nx\r\nget sg\r\nset neg 0 -1 1\r\nx\r\nget neg\r\n'
                              b'cas k1 0 0 1\r\nx\r\ncas nokey 0 0 1 5\r\nx\r\ncas k1 0 0 1 0\r\nx\r\n'
                              b'cas k1 0 0 1 abc\r\n']))
    cases.append(('other', [b'delete k2\r\ndelete k2\r\ndelete k3 0\r\ndelete k4 noreply\r\ndelete k5 1\r\n'
                            b'delete k6 0 noreply\r\ndelete\r\n'
                            b'set n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 100\r\nincr n abc\r\nincr nokey 1\r\n'
                            b'incr k1 1\r\nincr n 18446744073709551615\r\nincr n 1 noreply\r\nget n\r\n'
                            b'touch k7 100\r\ntouch nokey 100\r\ntouch k7 abc\r\n'
                            b'gat 100 k8 k9 nokey\r\ngat abc k8\r\ngat 100\r\ngat\r\n'
                            b'verbosity 1\r\nverbosity\r\nversionx\r\nflush_all noreply\r\nget k1\r\n'
                            b'quitx\r\n' + b'get ' + b' '.join(b'k%d' % i for i in range(200)) + b'\r\n']))
    # sizes around the 16 KiB output buffer: many 3000 B values in one multiget
    s = b''
    for i in range(40):
        v = val(3000 + i * 13, 900 + i)
        s += b'set m%d 0 0 %d\r\n' % (i, len(v)) + v + b'\r\n'
    s += b'get ' + b' '.join(b'm%d' % i for i in range(40)) + b'\r\n'
    s += b'get ' + b' '.join(b'm%d' % i for i in range(40)) + b' nokey\r\n'
    cases.append(('boundaries', [s]))
    # small values of every size 0..300
    s = b''
    for i in range(301):
        s += b'set s%d %d 0 %d\r\n' % (i, i * 1000003, i) + val(i, 5000 + i) + b'\r\n'
    for i in range(0, 301, 30):
        s += b'get ' + b' '.join(b's%d' % j for j in range(i, min(i + 30, 301))) + b'\r\n'
    cases.append(('small-sizes', [s]))
    # split delivery: the same stream byte by byte in chunks of 7
    st = b'get k10 k11\r\nset split 0 0 10\r\n0123456789\r\nget split k12\r\n'
    cases.append(('split', [st[i:i + 7] for i in range(0, len(st), 7)]))
    cases.append(('http', [b'GET / HTTP/1.1\r\n']))
    return cases

def run(port, cases):
    out = []
    for name, chunks in cases:
        s = socket.create_connection(('127.0.0.1', port))
        s.settimeout(10)
        for c in chunks:
            s.sendall(c)
        try:
            s.sendall(b'mn\r\n')
        except OSError:
            pass
        buf = b''
        while not buf.endswith(b'MN\r\n'):
            try:
                d = s.recv(1 << 20)
            except (socket.timeout, ConnectionResetError):
                buf += b'<TIMEOUT/RESET>'
                break
            if not d:
                buf += b'<EOF>'
                break
            buf += d
        s.close()
        out.append((name, buf))
    return out

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]

def start(argv, port):
    proc = subprocess.Popen(argv + ['-t', '1', '-m', '256', '-l', '127.0.0.1', '-p', str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit('text_reply_diff: %s did not start' % argv[0])

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
memkv = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, 'build/release/memkv')
memcached = sys.argv[2] if len(sys.argv) > 2 else '/usr/bin/memcached'
pa, pb = free_port(), free_port()
servers = [start([memkv], pa), start([memcached, '-U', '0'] + (['-u', 'root'] if os.getuid() == 0 else []), pb)]
cases = build_cases()
try:
    a = run(pa, cases)
    b = run(pb, cases)
finally:
    for p in servers:
        p.terminate()
        p.wait()
bad = 0
for (n, x), (_, y) in zip(a, b):
    if x != y:
        bad += 1
        i = next((k for k in range(min(len(x), len(y))) if x[k] != y[k]), min(len(x), len(y)))
        print('DIFF %s at byte %d: memkv=%r memcached=%r' % (n, i, x[max(0, i - 60):i + 80], y[max(0, i - 60):i + 80]))
    else:
        print('same %s (%d bytes)' % (n, len(x)))
sys.exit(1 if bad else 0)

#!/usr/bin/env python3
"""Writes the seed corpus of the memkv fuzzers into fuzz/corpus/<target>/.

Seeds are small valid and invalid MCBP request streams (the classic request
header is 24 bytes, big-endian: magic 0x80, opcode, key length(2), extras
length, datatype, vbucket(2), body length(4), opaque(4), cas(8)). The
connection fuzzer's seeds put a config byte and the client's script (when
to send, read and run the loop) in front of the stream, and some run with a
users file: authentication, privileges, range scans and a client that does
not read. Run from anywhere; it rewrites only the seed-* files, never
regress-* (crash inputs kept as regression tests).
"""
import base64
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

# Opcodes (kv_engine include/mcbp/protocol/opcode.h).
GET, SET, ADD, REPLACE, DELETE, INCR, DECR, QUIT, FLUSH, GETQ, NOOP, VERSION = range(0x0C)
GETK, GETKQ, APPEND, PREPEND, STAT, SETQ, ADDQ, REPLACEQ, DELETEQ = range(0x0C, 0x15)
INCRQ, DECRQ, QUITQ, FLUSHQ, APPENDQ, PREPENDQ, VERBOSITY, TOUCH, GAT, GATQ = range(0x15, 0x1F)


def req(opcode, key=b"", extras=b"", value=b"", opaque=0, cas=0, magic=0x80,
        keylen=None, extlen=None, bodylen=None, datatype=0, vbucket=0):
    """One request frame; the *len arguments let a seed lie in the header."""
    body = extras + key + value
    header = struct.pack(
        ">BBHBBHIIQ", magic, opcode,
        len(key) if keylen is None else keylen,
        len(extras) if extlen is None else extlen,
        datatype, vbucket,
        len(body) if bodylen is None else bodylen,
        opaque, cas)
    return header + body


def alt_req(opcode, frame_infos, key=b"", extras=b"", value=b"", opaque=0, cas=0):
    """An alternative-format request (magic 0x08): byte 2 is the framing
    extras length, byte 3 the key length; the body starts with frame infos
    ([id:4|len:4][data]...)."""
    body = frame_infos + extras + key + value
    return struct.pack(">BBBBBBHIIQ", 0x08, opcode, len(frame_infos), len(key), len(extras), 0, 0,
                       len(body), opaque, cas) + body


HELLO, SASL_LIST_MECHS, SASL_AUTH = 0x1F, 0x20, 0x21
CREATE_BUCKET, DELETE_BUCKET, LIST_BUCKETS, SELECT_BUCKET = 0x85, 0x86, 0x87, 0x89
GET_LOCKED, UNLOCK, GET_CLUSTER_CONFIG, GET_COLLECTION_ID, GET_ERROR_MAP = 0x94, 0x95, 0xB5, 0xBB, 0xFE


def features(*codes):
    return b"".join(struct.pack(">H", c) for c in codes)


def store_extras(flags=0, expiry=0):
    return struct.pack(">II", flags, expiry)


def counter_extras(delta=1, initial=0, expiry=0):
    return struct.pack(">QQI", delta, initial, expiry)


def expiry_extras(expiry):
    return struct.pack(">I", expiry)


STREAMS = {
    "get-miss": req(GET, b"k", opaque=1),
    "getk-miss": req(GETK, b"key", opaque=2),
    "set-get": req(SET, b"k", store_extras(7, 0), b"value", 1) + req(GET, b"k", opaque=2),
    "set-getk-getq-noop": (req(SET, b"ab", store_extras(), b"v" * 10, 1) + req(GETK, b"ab", opaque=2)
                           + req(GETQ, b"missing", opaque=3) + req(GETKQ, b"ab", opaque=4)
                           + req(NOOP, opaque=5)),
    "set-large-get": req(SET, b"big", store_extras(), b"x" * 5000, 1) + req(GET, b"big", opaque=2),
    "add-replace": (req(ADD, b"a", store_extras(), b"1", 1) + req(ADD, b"a", store_extras(), b"2", 2)
                    + req(REPLACE, b"a", store_extras(), b"3", 3)
                    + req(REPLACE, b"zz", store_extras(), b"4", 4)),
    "append-prepend": (req(SET, b"a", store_extras(), b"mid", 1) + req(APPEND, b"a", value=b">", opaque=2)
                       + req(PREPEND, b"a", value=b"<", opaque=3) + req(APPEND, b"no", value=b"x", opaque=4)
                       + req(GET, b"a", opaque=5)),
    "delete": (req(SET, b"d", store_extras(), b"v", 1) + req(DELETE, b"d", opaque=2)
               + req(DELETE, b"d", opaque=3) + req(DELETEQ, b"d", opaque=4) + req(NOOP, opaque=5)),
    "cas": (req(SET, b"c", store_extras(), b"v", 1) + req(SET, b"c", store_extras(), b"w", 2, cas=12345)
            + req(SET, b"nokey", store_extras(), b"w", 3, cas=1) + req(DELETE, b"c", opaque=4, cas=99)),
    "incr-decr": (req(INCR, b"n", counter_extras(5, 10), opaque=1) + req(INCR, b"n", counter_extras(5), opaque=2)
                  + req(DECR, b"n", counter_extras(100), opaque=3)
                  + req(INCR, b"m", counter_extras(1, 0, 0xFFFFFFFF), opaque=4)
                  + req(SET, b"s", store_extras(), b"abc", 5) + req(INCR, b"s", counter_extras(), opaque=6)
                  + req(SET, b"w", store_extras(), b"18446744073709551615", 7)
                  + req(INCR, b"w", counter_extras(1), opaque=8)
                  + req(INCRQ, b"n", counter_extras(), opaque=9) + req(DECRQ, b"n", counter_extras(), opaque=10)),
    "touch-gat": (req(SET, b"t", store_extras(1, 100), b"v", 1) + req(TOUCH, b"t", expiry_extras(5), opaque=2)
                  + req(GAT, b"t", expiry_extras(0), opaque=3) + req(GATQ, b"none", expiry_extras(1), opaque=4)
                  + req(TOUCH, b"none", expiry_extras(1), opaque=5) + req(GET, b"t", opaque=6)),
    "expiry": (req(SET, b"e", store_extras(0, 1), b"v", 1) + req(SET, b"f", store_extras(0, 1700000001), b"v", 2)
               + req(GET, b"e", opaque=3) + req(GET, b"f", opaque=4)),
    "stat": req(STAT, opaque=1),
    "stat-groups": (req(STAT, b"settings", opaque=1) + req(STAT, b"reset", opaque=2)
                    + req(STAT, b"bogus", opaque=3) + req(NOOP, opaque=4)),
    "flush": (req(SET, b"a", store_extras(), b"v", 1) + req(FLUSH, opaque=2) + req(GET, b"a", opaque=3)
              + req(FLUSH, extras=expiry_extras(2), opaque=4) + req(FLUSHQ, opaque=5) + req(NOOP, opaque=6)),
    "quiet-ops": (req(SETQ, b"q", store_extras(), b"v", 1) + req(ADDQ, b"q", store_extras(), b"v", 2)
                  + req(REPLACEQ, b"q", store_extras(), b"w", 3) + req(APPENDQ, b"q", value=b"x", opaque=4)
                  + req(PREPENDQ, b"q", value=b"y", opaque=5) + req(GETKQ, b"q", opaque=6)
                  + req(NOOP, opaque=7)),
    "version-verbosity": req(VERSION, opaque=1) + req(VERBOSITY, extras=expiry_extras(1), opaque=2),
    "quit": req(NOOP, opaque=1) + req(QUIT, opaque=2) + req(NOOP, opaque=3),
    "quitq": req(QUITQ, opaque=1) + req(NOOP, opaque=2),
    "unknown-opcode": req(0x42, b"k", b"ex", b"body", 1) + req(0xFF, opaque=2) + req(NOOP, opaque=3),
    "unknown-opcode-partial-body": req(0x42, value=b"v" * 40, opaque=1)[:40],
    "bad-magic": req(NOOP, opaque=1) + req(NOOP, opaque=2, magic=0x81),
    "bad-lengths": req(GET, b"k", opaque=1, bodylen=0),
    "bad-extras": req(GET, b"k", b"\0\0\0\0", opaque=1) + req(NOOP, opaque=2),
    "key-on-noop": req(NOOP, b"k", opaque=1),
    "key-too-long": req(GET, b"k" * 251, opaque=1),
    "set-too-large": (req(SET, b"big", store_extras(), b"v", 1)
                      + req(SET, b"big", store_extras(), opaque=2, bodylen=8 + 3 + (64 << 10) + 1)
                      + b"\0" * 100),
    "body-over-max": req(SET, b"k", store_extras(), opaque=1, bodylen=0xFFFFFFF0),
    "partial-header": req(GET, b"k", opaque=1)[:13],
    # Frame infos: barrier 0x00, durability 0x11 + level, preserve TTL 0x50,
    # an id memkv does not know (9), and an overrunning length.
    "alt-frame-infos": (alt_req(SET, b"\x00\x11\x01\x50", b"a", store_extras(), b"v", 1)
                        + alt_req(GET, b"\x00", b"a", opaque=2) + alt_req(GET, b"\x50", b"a", opaque=3)
                        + alt_req(GET, b"\x90", b"a", opaque=4) + alt_req(GET, b"\x13\x01", b"a", opaque=5)
                        + req(NOOP, opaque=6)),
    "alt-bad-lengths": alt_req(GET, b"\x00", b"k", opaque=1)[:8] + struct.pack(">I", 1) + bytes(12),
    # Couchbase's session layer: HELLO (collections, JSON, seqnos, xerror),
    # collection-prefixed keys, JSON datatype, locks, buckets, cluster map.
    "couchbase-session": (req(HELLO, b"agent", value=features(0x03, 0x04, 0x07, 0x0B, 0x12, 0x0A), opaque=1)
                          + req(GET_ERROR_MAP, value=b"\x00\x02", opaque=2)
                          + req(SET, b"\x00doc", store_extras(2), b'{"a":[1,2]}', 3, datatype=1)
                          + req(SET, b"\x00bad", store_extras(2), b'{"a":', 4, datatype=1)
                          + req(GET, b"\x00doc", opaque=5) + req(GET, b"\x08doc", opaque=6)
                          + req(GETK, b"\x80", opaque=7) + req(INCR, b"\x00n", counter_extras(1, 1), opaque=8)
                          + req(GET_LOCKED, b"\x00doc", expiry_extras(5), opaque=9)
                          + req(SET, b"\x00doc", store_extras(), b"x", 10)
                          + req(UNLOCK, b"\x00doc", opaque=11, cas=1)
                          + req(GET_CLUSTER_CONFIG, opaque=12)
                          + req(GET_COLLECTION_ID, value=b"_default._default", opaque=13)
                          + req(HELLO, value=b"\x00", opaque=14) + req(NOOP, opaque=15)),
    "buckets": (req(CREATE_BUCKET, b"b1", value=b'{"memory_limit":1048576}', opaque=1)
                + req(CREATE_BUCKET, b"b1", opaque=2) + req(CREATE_BUCKET, b"b2", value=b"{", opaque=3)
                + req(LIST_BUCKETS, opaque=4) + req(SELECT_BUCKET, b"b1", opaque=5)
                + req(SET, b"k", store_extras(), b"v", 6) + req(DELETE_BUCKET, b"b1", opaque=7)
                + req(GET, b"k", opaque=8) + req(SELECT_BUCKET, b"default", opaque=9)
                + req(DELETE_BUCKET, b"default", opaque=10) + req(GET, b"k", opaque=11)
                + req(SASL_LIST_MECHS, opaque=12) + req(SASL_AUTH, b"PLAIN", value=b"\0a\0b", opaque=13)),
}

# Connection fuzzer: [config][preload][n][n script steps][stream] (see
# connection_input_fuzzer.cc). Preload: (b & 15) * 8 documents "doc-<i>" in
# vbucket 0, values of 10 bytes (b >> 4 = 0) or (b >> 4) * 4 KiB. Config: bit 0 users file, bits 1-2 requests
# per event {1, 3, 20, 1000}, bits 3-4 watermarks {4K, 16K, 64K, 1M}, bit 5
# 16 KiB of memory, bit 6 no CAS, bit 7 no eviction.
USERS = 0x01
RPE_1, RPE_3, RPE_20, RPE_1000 = 0x00, 0x02, 0x04, 0x06
WM_4K, WM_16K, WM_64K, WM_1M = 0x00, 0x08, 0x10, 0x18
SMALL_MEMORY, NO_CAS, NO_EVICT = 0x20, 0x40, 0x80
DEFAULT = RPE_20 | WM_16K


# Script steps: kind in the low 2 bits, argument above. SEND/READ sizes:
# 0 = everything, 1..31 bytes, 32..63 = (a - 31) KiB (READ: times 16).
def SEND(a=0):
    return bytes([a << 2 | 0])


def READ(a=0):
    return bytes([a << 2 | 1])


def RUN(iterations=1, clock=0):
    return bytes([((clock << 3) | (iterations - 1)) << 2 | 2])


WAIT = bytes([3])

SASL_STEP, STAT_VB = 0x22, b"vbucket-details"
RANGE_SCAN_CREATE, RANGE_SCAN_CONTINUE, RANGE_SCAN_CANCEL = 0xDA, 0xDB, 0xDC
JSON = 0x01


def plain(user, password):
    return req(SASL_AUTH, b"PLAIN", value=b"\0" + user + b"\0" + password, opaque=0x5A51)


def vbucket_of(key):
    return ((zlib.crc32(key) >> 16) & 0x7FFF) % 1024


def keys_in_vbucket(vb, count):
    keys, i = [], 0
    while len(keys) < count:
        k = b"scan-%d" % i
        if vbucket_of(k) == vb:
            keys.append(k)
        i += 1
    return keys


def b64(b):
    return base64.b64encode(b)


SCAN_VB = vbucket_of(b"scan-0")
SCAN_KEYS = keys_in_vbucket(SCAN_VB, 6)
# The harness writes the last created scan's id over extras starting with a
# zero byte (16 zero bytes here).
NO_ID = bytes(16)


def scan_create(opaque, key_only=False):
    body = (b'{"key_only":true,' if key_only else b"{") + b'"range":{"start":"' + b64(b"scan") \
        + b'","end":"' + b64(b"scan\xff") + b'"}}'
    return req(RANGE_SCAN_CREATE, value=body, opaque=opaque, datatype=JSON, vbucket=SCAN_VB)


def scan_continue(opaque, items=0, ms=0, nbytes=0, scan_id=NO_ID):
    return req(RANGE_SCAN_CONTINUE, extras=scan_id + struct.pack(">III", items, ms, nbytes),
               opaque=opaque, vbucket=SCAN_VB)


def scan_cancel(opaque, scan_id=NO_ID):
    return req(RANGE_SCAN_CANCEL, extras=scan_id, opaque=opaque, vbucket=SCAN_VB)


def send_exact(n):
    """Script steps that send exactly n bytes, letting the server read
    between 4 KiB pieces (the sockets' buffers are small)."""
    steps = b""
    while n >= 1024:
        kib = min(n // 1024, 4)
        steps += SEND(31 + kib) + RUN(2)
        n -= kib * 1024
    while n:
        steps += SEND(min(n, 31))
        n -= min(n, 31)
    return steps


def scan_session(value_size, prefix=b"", read=READ()):
    """(script, stream): documents, then scans; like a client, the script
    waits for each CREATE's answer before it sends what uses the scan id."""
    sets = b"".join(req(SET, k, store_extras(), bytes([0x61 + i]) * value_size, i + 1, vbucket=SCAN_VB)
                    for i, k in enumerate(SCAN_KEYS))
    parts = [prefix + sets + scan_create(20),
             scan_continue(21, items=2) + scan_continue(22) + scan_create(23, key_only=True),
             scan_cancel(24) + scan_continue(25) + scan_continue(26, scan_id=b"\x01" * 16)
             + req(NOOP, opaque=28)]
    script = b"".join(send_exact(len(p)) + RUN(2) + WAIT + read for p in parts[:-1])
    return script, b"".join(parts)


def preloaded_keys(count):
    keys, i = [], 0
    while len(keys) < count:
        k = b"doc-%d" % i
        if vbucket_of(k) == 0:
            keys.append(k)
        i += 1
    return keys


def preload_scan():
    """A scan of more than one 32 KiB frame over preloaded documents, read
    slowly: the background producer meets the Inbox budget and pauses."""
    create = req(RANGE_SCAN_CREATE, value=b'{"range":{"start":"' + b64(b"doc") + b'","end":"'
                 + b64(b"doc\xff") + b'"}}', opaque=1, datatype=JSON, vbucket=0)
    rest = (req(RANGE_SCAN_CONTINUE, extras=NO_ID + struct.pack(">III", 0, 0, 0), opaque=2, vbucket=0)
            + req(NOOP, opaque=3))
    script = (send_exact(len(create)) + RUN(2) + WAIT + READ() + SEND() + RUN(8) + WAIT + READ(3)
              + RUN(8) + WAIT + RUN(8) + READ(40) + RUN(8) + WAIT + READ(1))
    return script, create + rest


DCP_OPEN, DCP_CLOSE_STREAM, DCP_STREAM_REQ, DCP_BUFFER_ACK, DCP_CONTROL = 0x50, 0x52, 0x53, 0x5D, 0x5E


def preload_dcp_stream():
    """A DCP producer streaming vbucket 0's preloaded documents under a
    small window, acknowledged once, then the stream closed."""
    opened = (req(DCP_OPEN, b"fuzz", extras=struct.pack(">II", 0, 1), opaque=1)
              + req(DCP_CONTROL, b"connection_buffer_size", value=b"2048", opaque=2))
    stream = req(DCP_STREAM_REQ, extras=struct.pack(">IIQQQQQ", 0, 0, 0, 2**64 - 1, 0, 0, 0),
                 opaque=3, vbucket=0)
    rest = (req(DCP_BUFFER_ACK, extras=struct.pack(">I", 2048), opaque=4)
            + req(DCP_CLOSE_STREAM, opaque=5, vbucket=0) + req(NOOP, opaque=6))
    script = (send_exact(len(opened) + len(stream)) + RUN(4) + WAIT + READ(3) + RUN(8) + READ(20)
              + SEND() + RUN(8) + WAIT + READ(40) + RUN(8) + READ(40))
    return script, opened + stream + rest


BIG = 20000  # a value larger than a pool buffer, below -I
# (config, script, stream[, preload])
CONNECTION_ONLY = {
    "preload-range-scan": (RPE_20 | WM_4K, *preload_scan(), 0x1F),
    "preload-dcp-stream": (RPE_20 | WM_4K, *preload_dcp_stream(), 0x1F),
    "preload-range-scan-authenticated": (RPE_3 | WM_16K | USERS, SEND(0) + RUN(2) + WAIT + READ(),
                                         plain(b"reader", b"readerpw") + preload_scan()[1], 0x2F),
    "preload-large-gets": (RPE_20 | WM_16K, SEND() + RUN(8) + READ(1) + RUN(8) + READ(40) + RUN(8),
                           b"".join(req(GET, k, opaque=i) for i, k in enumerate(preloaded_keys(8)))
                           + req(GETK, preloaded_keys(1)[0], opaque=9) + req(NOOP, opaque=10), 0xF1),
    "auth-plain-ok": (DEFAULT | USERS, b"", req(SASL_LIST_MECHS, opaque=1) + plain(b"alice", b"alicepw")
                      + req(SET, b"k", store_extras(), b"v", 3) + req(GET, b"k", opaque=4)
                      + req(FLUSH, opaque=5) + req(STAT, opaque=6) + req(DELETE, b"k", opaque=7)),
    "auth-plain-ok-stepwise": (DEFAULT | USERS, SEND(30) + RUN() + SEND(0) + WAIT + READ(3) + RUN(4) + READ(),
                               plain(b"alice", b"alicepw") + req(GET, b"k", opaque=2)
                               + req(SET, b"k", store_extras(), b"v", 3) + req(GET, b"k", opaque=4)),
    "auth-plain-fail": (DEFAULT | USERS, b"", plain(b"alice", b"wrong") + req(GET, b"k", opaque=2)
                        + plain(b"nobody", b"pw") + req(SASL_STEP, b"PLAIN", value=b"x", opaque=3)
                        + plain(b"alice", b"") + req(SELECT_BUCKET, b"default", opaque=4)
                        + req(NOOP, opaque=5)),
    "auth-anonymous": (DEFAULT | USERS, b"", req(GET, b"k", opaque=1) + req(SET, b"k", store_extras(), b"v", 2)
                       + req(HELLO, b"agent", value=features(0x0B, 0x12), opaque=3)
                       + req(LIST_BUCKETS, opaque=4) + req(STAT, opaque=5) + req(NOOP, opaque=6)),
    "auth-preauth-too-large": (DEFAULT | USERS, b"", req(SET, b"k", store_extras(), b"v" * 17000, 1)
                               + req(NOOP, opaque=2)),
    "auth-admin-buckets": (DEFAULT | USERS, b"", plain(b"admin", b"adminpw")
                           + req(CREATE_BUCKET, b"b1", value=b'{"memory_limit":1048576}', opaque=2)
                           + req(SELECT_BUCKET, b"b1", opaque=3) + req(SET, b"k", store_extras(), b"v", 4)
                           + req(LIST_BUCKETS, opaque=5) + req(SELECT_BUCKET, b"default", opaque=6)
                           + req(DELETE_BUCKET, b"b1", opaque=7) + req(VERBOSITY, extras=expiry_extras(1), opaque=8)
                           + req(SELECT_BUCKET, b"b1", opaque=9) + req(GET, b"k", opaque=10)),
    "auth-reader": (DEFAULT | USERS, b"", plain(b"reader", b"readerpw") + req(GET, b"k", opaque=2)
                    + req(SET, b"k", store_extras(), b"v", 3) + req(FLUSH, opaque=4)
                    + req(SELECT_BUCKET, b"default", opaque=5) + req(CREATE_BUCKET, b"b2", opaque=6)
                    + plain(b"alice", b"alicepw") + req(SET, b"k", store_extras(), b"v", 7)),
    "auth-scram-start": (DEFAULT | USERS, b"", req(SASL_AUTH, b"SCRAM-SHA512", value=b"n,,n=alice,r=abcdefgh", opaque=1)
                         + req(SASL_STEP, b"SCRAM-SHA512", value=b"c=biws,r=abcdefgh,p=AAAA", opaque=2)
                         + req(SASL_AUTH, b"SCRAM-SHA256", value=b"n,,n=ghost,r=xyz", opaque=3)
                         + req(SASL_STEP, b"SCRAM-SHA1", value=b"c=biws", opaque=4) + req(GET, b"k", opaque=5)),
    "range-scan": (DEFAULT, *scan_session(10)),
    "range-scan-authenticated": (DEFAULT | USERS, *scan_session(10, plain(b"alice", b"alicepw"))),
    "range-scan-slow-reader": (RPE_3 | WM_4K, *scan_session(
        3000, read=READ(12) + RUN(4) + WAIT + READ(0) + RUN(4) + WAIT + READ(0))),
    "stat-vbucket-details": (DEFAULT, SEND(0) + WAIT + READ(), req(STAT, STAT_VB, opaque=1)
                             + req(STAT, b"settings", opaque=2) + req(GET, b"k", opaque=3)),
    "large-gets-not-read": (RPE_20 | WM_16K, SEND(0) + RUN(8) + RUN(8) + READ(1) + RUN(8) + SEND(0) + RUN(8)
                            + READ(40) + RUN(8, clock=1),
                            req(SET, b"big", store_extras(), b"x" * BIG, 1)
                            + b"".join(req(GET, b"big", opaque=i) for i in range(2, 40))
                            + req(GETK, b"big", opaque=40) + req(NOOP, opaque=41)),
    "large-gets-1m-watermark": (RPE_1000 | WM_1M, SEND(0) + RUN(8) + READ(33) + RUN(8),
                                req(SET, b"big", store_extras(), b"x" * BIG, 1)
                                + b"".join(req(GETQ, b"big", opaque=i) for i in range(2, 40))
                                + req(NOOP, opaque=41)),
    "small-memory-evict": (DEFAULT | SMALL_MEMORY, b"", b"".join(
        req(SET, b"k%d" % i, store_extras(), b"v" * 3800, i) for i in range(5)) + req(GET, b"k0", opaque=99)),
    "small-memory-enomem": (DEFAULT | SMALL_MEMORY, b"", req(SET, b"huge", store_extras(), b"h" * 17000, 1)
                            + req(GET, b"huge", opaque=2)),
    "small-memory-noevict": (DEFAULT | SMALL_MEMORY | NO_EVICT, b"", b"".join(
        req(SET, b"k%d" % i, store_extras(), b"v" * 3800, i) for i in range(5))),
    "no-cas": (DEFAULT | NO_CAS, b"", STREAMS["cas"] + STREAMS["flush"]),
    "clock-30-days": (DEFAULT, SEND(0) + RUN(1, clock=3) + WAIT, STREAMS["expiry"] + STREAMS["touch-gat"]),
    "large-frame-split": (DEFAULT, SEND(31) + RUN() + SEND(40) + RUN(2) + SEND(45) + RUN(),
                          req(SET, b"big", store_extras(), b"y" * 30000, 1) + req(GET, b"big", opaque=2)),
}

# Stream variants: how the client cuts and reads (config, script).
CONNECTION_VARIANTS = {
    "": (DEFAULT, b""),
    "-bytewise": (DEFAULT, (SEND(1) + RUN()) * 60),
    "-split": (RPE_3 | WM_4K, SEND(5) + RUN() + SEND(17) + READ(3) + SEND(32) + RUN(3) + READ(1) + SEND(0)),
    "-rpe1": (RPE_1 | WM_4K, SEND(0) + RUN(2) + READ(2) + RUN(2)),
}


def write(target, name, data):
    directory = os.path.join(CORPUS, target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "seed-" + name), "wb") as f:
        f.write(data)


# memcached text/meta streams (protocol/text_request.h): pipelines, errors,
# data blocks, the 2048-byte rule and HTTP probes.
TEXT_STREAMS = {
    "storage": b"set k 1 0 5\r\nhello\r\nadd k 0 0 0 noreply\r\n\r\nappend k 0 0 1\r\nx\r\n"
               b"prepend k 0 0 1\r\ny\r\nreplace k 0 -1 2\r\nab\r\ncas k 0 0 1 99\r\nz\r\n",
    "retrieval": b"get a b c\r\ngets a\r\ngat 10 a b\r\ngats -1 a\r\nbget a\nget  a  \r\n",
    "multiget": b"get" + b"".join(b" key%d" % i for i in range(400)) + b"\r\n",
    "counters": b"incr n 1\r\ndecr n +5 noreply\r\ntouch k 30\r\ndelete k 0 noreply\r\n"
                b"delete k\r\nincr n -1\r\n",
    "admin": b"flush_all 0 noreply\r\nflush_all \r\nversion\r\nverbosity 1\r\nstats items\r\n"
             b"cache_memlimit 64\r\nshutdown graceful\r\nquit\r\n",
    "bad-chunk": b"set k 0 0 3\r\nabcde\r\nset k 0 0 2 noreply\r\nab\r\r\nget k\r\n",
    "bad-lines": b"\r\n \r\nx\r\nset k 0 0\r\nset k -1 0 1\r\na\r\ndelete k 10\r\n"
                 b"get " + b"k" * 251 + b"\r\nverbosity noreply\r\n",
    "meta": b"ms foo 2 T90 F5 c k\r\nhi\r\nmg foo v f t s c O7 k q\r\nmd foo I T30\r\n"
            b"ma cnt N0 J10 D3 MD v t\r\nme foo\r\nmg Zm9v b k v\r\nmn\r\n",
    "meta-errors": b"mg k q q\r\nmg k y\r\nms k 2 MX\r\nzz\r\nms k 2 Fx MSS\r\nzz\r\n"
                   b"md k Cx\r\nma k Mi\r\nmg k O" + b"1" * 40 + b"\r\nms k 2 q\r\nabcd\r\n",
    "meta-too-many-flags": b"mg k a b c d e f g h i j k l m n o p q r\r\n"
                           b"ms k 2 s v t c f k h l u O1 T1 N1 R1 P1 L1 F1 C1\r\nab\r\n",
    "http-probe": b"GET / HTTP/1.0\r\nHost: x\r\n\r\n",
    "long-get-line": b"get " + b" " * 2100 + b"manyspaces\r\n",
    "long-set-line": b"set " + b"k" * 2100,
}


def main():
    for target in ("frame_parser_fuzzer", "text_parser_fuzzer", "connection_input_fuzzer"):
        directory = os.path.join(CORPUS, target)
        if os.path.isdir(directory):  # seeds no longer made here must go
            for name in os.listdir(directory):
                if name.startswith("seed-"):
                    os.remove(os.path.join(directory, name))
    for name, stream in STREAMS.items():
        write("frame_parser_fuzzer", name, stream)
    for name, stream in TEXT_STREAMS.items():
        write("text_parser_fuzzer", name, stream)
    for name, stream in STREAMS.items():
        write("connection_input_fuzzer", name, bytes([DEFAULT, 0, 0]) + stream)
    for name in ("set-get", "set-getk-getq-noop", "incr-decr", "stat-groups", "quiet-ops",
                 "unknown-opcode", "set-too-large", "alt-frame-infos", "couchbase-session"):
        for suffix, (config, script) in CONNECTION_VARIANTS.items():
            if suffix:
                write("connection_input_fuzzer", name + suffix,
                      bytes([config, 0, len(script)]) + script + STREAMS[name])
    # The text streams over a real connection too: its first byte makes it a
    # text connection, checked by the text reply oracle.
    for name, stream in TEXT_STREAMS.items():
        write("connection_input_fuzzer", "text-" + name, bytes([DEFAULT, 0x13, 0]) + stream)
        for suffix in ("-bytewise", "-split"):
            config, script = CONNECTION_VARIANTS[suffix]
            write("connection_input_fuzzer", "text-" + name + suffix,
                  bytes([config, 0x13, len(script)]) + script + stream)
    write("connection_input_fuzzer", "text-large-values",
          bytes([RPE_20 | WM_4K, 0, 0]) + b"set big 0 0 20000\r\n" + b"y" * 20000
          + b"\r\nget big big\r\nmg big v s\r\nset huge 0 0 70000\r\n" + b"z" * 10 + b"\r\nmn\r\n")
    for name, (config, script, stream, *preload) in CONNECTION_ONLY.items():
        assert len(script) < 256, name
        data = bytes([config, preload[0] if preload else 0, len(script)]) + script + stream
        assert len(data) <= 32768, name  # the Makefile's FUZZ_MAX_LEN
        write("connection_input_fuzzer", name, data)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the seed corpus of the memkv fuzzers into fuzz/corpus/<target>/.

Seeds are small valid and invalid MCBP request streams (the classic request
header is 24 bytes, big-endian: magic 0x80, opcode, key length(2), extras
length, datatype, vbucket(2), body length(4), opaque(4), cas(8)). Run from
anywhere; it rewrites only the seed-* files, never regress-* (crash inputs
kept as regression tests).
"""
import os
import struct

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

# Connection fuzzer: [config][n][n segment sizes][stream] (see
# connection_input_fuzzer.cc): config bits 0-1 requests per event, 2 no
# eviction, 3 16 KiB of memory, 4 no CAS, 5 no flush, 6-7 clock step.
CONNECTION_VARIANTS = {
    "": (0x02, b""),            # 20 requests per event, one segment
    "-bytewise": (0x02, b"\x01"),
    "-split": (0x01, b"\x05\x11\x80"),
    "-budget1": (0x40, b"\x18"),
}
CONNECTION_ONLY = {
    "small-memory-evict": (0x0A, b"", b"".join(
        req(SET, b"k%d" % i, store_extras(), b"v" * 3800, i) for i in range(5)) + req(GET, b"k0", opaque=99)),
    "small-memory-enomem": (0x0A, b"", req(SET, b"huge", store_extras(), b"h" * 17000, 1)
                            + req(GET, b"huge", opaque=2)),
    "small-memory-noevict": (0x0E, b"", b"".join(
        req(SET, b"k%d" % i, store_extras(), b"v" * 3800, i) for i in range(5))),
    "no-cas-no-flush": (0x32, b"", STREAMS["cas"] + STREAMS["flush"]),
    "clock-30-days": (0xC2, b"\x30", STREAMS["expiry"] + STREAMS["touch-gat"]),
    "output-full": (0x03, b"", req(SET, b"big", store_extras(), b"x" * 8000, 1)
                    + b"".join(req(GET, b"big", opaque=i) for i in range(2, 20))),
}

# Response round trip: the ResponseHeader fields, packed in host order.
RESPONSE_SEEDS = {
    "zero": bytes(23),
    "get-hit": struct.pack("<BHBHIIQB", GET, 0, 4, 0, 9, 7, 0x1122334455667788, 1),
    "all-ones": b"\xff" * 23,
    "bad-parts": struct.pack("<BHBHIIQB", STAT, 0x81, 200, 0xFFFF, 10, 1, 0, 0),
}


def write(target, name, data):
    directory = os.path.join(CORPUS, target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "seed-" + name), "wb") as f:
        f.write(data)


def main():
    for target in ("frame_parser_fuzzer", "connection_input_fuzzer", "response_roundtrip_fuzzer"):
        directory = os.path.join(CORPUS, target)
        if os.path.isdir(directory):  # seeds no longer made here must go
            for name in os.listdir(directory):
                if name.startswith("seed-"):
                    os.remove(os.path.join(directory, name))
    for name, stream in STREAMS.items():
        write("frame_parser_fuzzer", name, stream)
    for name in ("set-get", "set-getk-getq-noop", "incr-decr", "stat-groups", "quiet-ops",
                 "unknown-opcode", "set-too-large", "alt-frame-infos", "couchbase-session"):
        for suffix, (config, sizes) in CONNECTION_VARIANTS.items():
            write("connection_input_fuzzer", name + suffix,
                  bytes([config, len(sizes)]) + sizes + STREAMS[name])
    for name, stream in STREAMS.items():
        write("connection_input_fuzzer", name, bytes([0x02, 0]) + stream)
    for name, (config, sizes, stream) in CONNECTION_ONLY.items():
        write("connection_input_fuzzer", name, bytes([config, len(sizes)]) + sizes + stream)
    for name, fields in RESPONSE_SEEDS.items():
        assert len(fields) == 23, name
        write("response_roundtrip_fuzzer", name, fields)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""tests/fuzz/seeds.py - writes the binary seeds of the fuzz targets into
tests/fuzz/corpus/TARGET/ (the configuration seeds are plain INI files,
kept as they are).  The layout of a record is fz_rec_read() in fuzz.h.

usage: seeds.py [CORPUS_DIR]
"""

import os
import struct
import sys


def u16(n):
    return struct.pack(">H", n)


def blob(b):
    return u16(len(b)) + b


def zz(n):
    """An Avro long: zigzag, then a varint."""
    u = (n << 1) ^ (n >> 63)
    out = b""
    while u > 0x7F:
        out += bytes([(u & 0x7F) | 0x80])
        u >>= 7
    return out + bytes([u])


def astr(b):
    return zz(len(b)) + b


def record(topic=b"t", partition=0, ts=1700000000000, key=b"k",
           value=b'{"a":1}', headers=()):
    flags = 0
    if key is None:
        flags |= 1
    if value is None:
        flags |= 2
    if ts is None:
        flags |= 4
    flags |= (len(headers) & 7) << 3
    out = bytes([flags]) + blob(topic) + bytes([partition])
    if ts is not None:
        out += struct.pack(">Q", ts)[2:]
    out += blob(key or b"") + blob(value or b"")
    for name, val in headers:
        out += bytes([1 if val is None else 0]) + blob(name) + \
            blob(val or b"")
    return out


RECORDS = [
    record(),
    record(key=None, value=None, ts=None),
    record(key=b"\xff\x00\xfe", value=b"not json\n\x01\x1f\"\\"),
    record(value=b'  {"b": [1, 2.5e3, true, null, '
           b'"\\u00e9\\ud83d\\ude00"]}\r\n'),
    record(value=b"\xc3\xa9t\xc3\xa9 \xed\xa0\x80 \xf4\x90\x80\x80",
           headers=((b"trace", b"42"), (b"bin", b"\x00\xff"),
                    (b"none", None), (b"\xff", b"a\x00b"))),
    record(topic=b"orders.v1-x_y", partition=3, value=b"[[[[[]]]]]"),
    record(value=b'"just a string"', key=b"123"),
]


def manifest(fmt=b"value", extra=b""):
    return (b"ksink-file-manifest 1\n"
            b"# ksink file sink manifest, see ksink-file(7); replaced "
            b"atomically, do not edit\n"
            b"connector fz\npattern out.txt\nformat " + fmt + b"\n"
            b"sequence 3\n" + extra)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus")
    seeds = {}

    seeds["envelope"] = [struct.pack(">Q", 7 + i) + r
                         for i, r in enumerate(RECORDS)]

    # fuzz_http_body: 0 bodies (format, count-1, records), 1 next_offset,
    # 2 header, 3 URL, 4 retry status, 5 response quoting.
    http = []
    for fmt in range(3):
        http.append(bytes([0, fmt, 3]) + b"".join(RECORDS[1:5]))
        http.append(bytes([0, fmt, 0]) + RECORDS[0])
    for text in (b'{"next_offset": 42}', b'{"next_offset":null,"x":[1]}',
                 b'{"next_offset": 01}', b' {"a":{"next_offset":1},'
                 b'"next_offset":9223372036854775807} '):
        http.append(bytes([1]) + text)
    for h in (b"X-Trace: abc", b"Content-Type: text/plain",
              b"Authorization: Bearer x", b"Bad Name: v", b"X: a\nb"):
        http.append(bytes([2]) + blob(h))
    for url in (b"https://user@example.com:8443/p?q=secret#f",
                b"http://[::1]:80/a/b", b"ftp://x/", b"http//x",
                b"http://h/%zz"):
        http.append(bytes([3]) + blob(url))
    http.append(bytes([4]) + blob(b"409, 425,500"))
    http.append(bytes([5]) + b"error\r\nline two\x00\xff" + b"x" * 300)
    seeds["http_body"] = http

    # fuzz_sqlite_bind: 0 records (count-1, records), 1 statement text.
    sq = [bytes([0, 3]) + b"".join(RECORDS[1:5]),
          bytes([0, 0]) + RECORDS[0],
          bytes([0, 2]) + b"".join(RECORDS[4:7])]
    for stmt in (b"INSERT INTO kv VALUES (:key, :value)",
                 b"INSERT INTO kv VALUES (@key, $value); "
                 b"UPDATE kv SET v = :headers WHERE k = :topic",
                 b"/* c */ -- d\n BEGIN", b"INSERT INTO kv VALUES (?, :x)",
                 b"INSERT INTO kv VALUES (:offset, :partition) /* open",
                 b"; ;", b"DELETE FROM kv WHERE k = :timestamp"):
        sq.append(bytes([1]) + blob(stmt))
    seeds["sqlite_bind"] = sq

    # fuzz_file_manifest: flags, data file, count, records (each after a
    # 2-byte offset), manifest body (the target adds the crc32 line).
    # flags: 1 json, 2 raw (no crc32 added), 4 {topic}-{partition}.txt,
    # 8 data file exists, 16 rotate at 40 bytes, 32 no manifest.
    fm = []
    recs = bytes([3]) + b"".join(u16(5 + i) + r
                                 for i, r in enumerate(RECORDS[:3]))
    fm.append(bytes([32]) + blob(b"") + recs)
    fm.append(bytes([33]) + blob(b"") + recs)
    fm.append(bytes([48]) + blob(b"") + recs)
    fm.append(bytes([8]) + blob(b"abc\ndef\nxyz") + recs +
              manifest(extra=b"file out.txt 8 t 0 0 2 1700000000000\n"
                       b"offset t 0 4\n"))
    fm.append(bytes([8]) + blob(b"abc\n") + recs +
              manifest(extra=b"close out.txt 4 out.t+0+0000000000000000002"
                       b".txt\noffset t 0 4\n"))
    fm.append(bytes([9]) + blob(b"{}\n") + recs +
              manifest(fmt=b"json", extra=b"file out.txt 3 t 0 0 1 17\n"))
    fm.append(bytes([0]) + blob(b"") + recs +
              manifest(extra=b"file out.txt 0 - - - - -\noffset t 0 0\n"
                       b"offset t 2 99\n"))
    fm.append(bytes([2]) + blob(b"") + recs + manifest() +
              b"crc32 00000000\n")
    fm.append(bytes([0]) + blob(b"") + recs +
              b"ksink-file-manifest 2\n")
    fm.append(bytes([4]) + blob(b"") + recs +
              b"ksink-file-manifest 1\nconnector fz\npattern "
              b"{topic}-{partition}.txt\nformat value\nfile t-0.txt 0 - - - "
              b"- -\nfile %2e%2e%2fx 0 - - - - -\n")
    seeds["file_manifest"] = fm

    # fuzz_avro: a schema of the target's table (its index), then a body.
    seeds["avro"] = [
        bytes([0]) + zz(-1), bytes([0]) + zz(2 ** 63 - 1),
        bytes([1]) + astr("h\u00e9\n\"".encode()),
        bytes([2]) + zz(0), bytes([2]) + zz(1) + zz(-7),
        bytes([2]) + zz(2) + struct.pack("<d", 2.5),
        bytes([2]) + zz(3) + astr(b"s"), bytes([2]) + zz(4) + astr(b"\xff"),
        bytes([2]) + zz(5) + b"\x01", bytes([2]) + zz(6) + b"\0\0\xc0\x7f",
        bytes([3]) + astr(b"\xfb\x32") + zz(1) + astr(b"\x00") + zz(0),
        bytes([4]) + zz(-1) + zz(49500123) + zz(0) + zz(-1) +
        zz(1709214300123456) + zz(0) +
        astr(b"0b0e9c2a-4f6e-4d3b-9a1c-2f3e4d5c6b7a") + b"\xff" * 9,
        bytes([5]) + zz(1) + zz(2) + astr(b"k") + zz(1) + zz(2) +
        astr(b"n") + zz(0) + zz(0) + zz(0),
        bytes([6]) + zz(-2) + zz(2) + zz(0) + zz(1) + zz(0),
        bytes([7]) + zz(0),
        bytes([8]) + struct.pack("<f", 0.1) + struct.pack("<d", -0.0) +
        bytes(range(16)) + astr(b"\x00\x01"),
        bytes([0xff]) + blob(b'{"type":"enum","name":"E","symbols":'
                              b'["A","B"]}') + zz(1),
    ]

    for target, items in seeds.items():
        d = os.path.join(root, target)
        os.makedirs(d, exist_ok=True)
        for i, data in enumerate(items):
            with open(os.path.join(d, "seed-%02d" % i), "wb") as fp:
                fp.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())

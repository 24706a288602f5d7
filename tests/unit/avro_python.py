#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""tests/unit/avro_python.py - the avro converter's decoder (src/avrodec.c,
through tests/unit/avrocat) against Python's Avro library, which encodes
random records of every type and logical type; each rendering
ksink-converters(7) gives is computed here from the value Python wrote,
independently of the decoder.  A body without its last byte must be
POISON.

usage: avro_python.py AVROCAT WORKDIR [COUNT]
"""

import base64
import datetime
import decimal
import io
import json
import math
import random
import struct
import subprocess
import sys
import uuid

import avro.io
import avro.schema

SCHEMA = {"type": "record", "name": "R", "namespace": "ks", "fields": [
    {"name": "b", "type": "boolean"},
    {"name": "i", "type": "int"},
    {"name": "l", "type": "long"},
    {"name": "f", "type": "float"},
    {"name": "d", "type": "double"},
    {"name": "s", "type": "string"},
    {"name": "by", "type": "bytes"},
    {"name": "e", "type": {"type": "enum", "name": "E",
                           "symbols": ["A", "B", "C"]}},
    {"name": "fx", "type": {"type": "fixed", "name": "FX", "size": 3}},
    {"name": "a", "type": {"type": "array", "items": "long"}},
    {"name": "m", "type": {"type": "map", "values": ["null", "string"]}},
    {"name": "o", "type": ["null", "int"]},
    {"name": "u", "type": ["null", "long", "string"]},
    {"name": "dec", "type": {"type": "bytes", "logicalType": "decimal",
                             "precision": 38, "scale": 4}},
    {"name": "fdec", "type": {"type": "fixed", "name": "FD", "size": 8,
                              "logicalType": "decimal", "precision": 18,
                              "scale": 2}},
    {"name": "date", "type": {"type": "int", "logicalType": "date"}},
    {"name": "tm", "type": {"type": "int", "logicalType": "time-millis"}},
    {"name": "tu", "type": {"type": "long", "logicalType": "time-micros"}},
    {"name": "tsm", "type": {"type": "long",
                             "logicalType": "timestamp-millis"}},
    {"name": "tsu", "type": {"type": "long",
                             "logicalType": "timestamp-micros"}},
    {"name": "uu", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "n", "type": {"type": "record", "name": "N", "fields": [
        {"name": "x", "type": ["null", "N"]}]}},
]}

UTC = datetime.timezone.utc


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def record(rnd):
    def blob(n):
        return bytes(rnd.randrange(256) for _ in range(n))

    def dec(digits, scale):
        v = rnd.randint(-10 ** digits + 1, 10 ** digits - 1)
        return decimal.Decimal(v).scaleb(-scale)

    return {
        "b": rnd.random() < 0.5,
        "i": rnd.randint(-2 ** 31, 2 ** 31 - 1),
        "l": rnd.randint(-2 ** 63, 2 ** 63 - 1),
        "f": rnd.uniform(-1e6, 1e6),
        "d": rnd.choice([rnd.uniform(-1e300, 1e300), 0.1, -0.0, 5e-324]),
        "s": "".join(rnd.choice("a\u00e9\"\\\n\b\f\x01\u20ac\U0001f600z")
                     for _ in range(rnd.randint(0, 8))),
        "by": blob(rnd.randint(0, 7)),
        "e": rnd.choice("ABC"),
        "fx": blob(3),
        "a": [rnd.randint(-2 ** 63, 2 ** 63 - 1)
              for _ in range(rnd.randint(0, 4))],
        "m": {str(j): rnd.choice([None, "v"])
              for j in range(rnd.randint(0, 3))},
        "o": rnd.choice([None, rnd.randint(-5, 5)]),
        "u": rnd.choice([None, rnd.randint(-2 ** 63, 2 ** 63 - 1), "str"]),
        "dec": dec(38, 4),
        "fdec": dec(18, 2),
        "date": datetime.date(1, 1, 1) +
        datetime.timedelta(days=rnd.randint(0, 3652058)),
        "tm": datetime.time(rnd.randint(0, 23), rnd.randint(0, 59),
                            rnd.randint(0, 59), rnd.randint(0, 999) * 1000),
        "tu": datetime.time(rnd.randint(0, 23), rnd.randint(0, 59),
                            rnd.randint(0, 59), rnd.randint(0, 999999)),
        "tsm": datetime.datetime(1, 1, 1, tzinfo=UTC) + datetime.timedelta(
            milliseconds=rnd.randint(0, 315537897599999)),
        "tsu": datetime.datetime(1, 1, 1, tzinfo=UTC) + datetime.timedelta(
            microseconds=rnd.randint(0, 315537897599999999)),
        "uu": str(uuid.UUID(int=rnd.getrandbits(128))),
        "n": {"x": rnd.choice([None, {"x": None}])},
    }


def rendering(r):
    """What ksink-converters(7) says the decoder prints, as Python values
    (json.loads of the decoder's line must equal it)."""
    def dec(v, scale):
        return format(v.quantize(decimal.Decimal(1).scaleb(-scale)), "f")

    def ts(t, digits):
        s = "%04d-" % t.year + t.strftime("%m-%dT%H:%M:%S.%f")
        return (s if digits == 6 else s[:-3]) + "Z"

    return {
        "b": r["b"], "i": r["i"], "l": r["l"], "f": f32(r["f"]),
        "d": r["d"], "s": r["s"],
        "by": base64.b64encode(r["by"]).decode(), "e": r["e"],
        "fx": base64.b64encode(r["fx"]).decode(), "a": r["a"],
        "m": r["m"], "o": r["o"], "u": r["u"],
        "dec": dec(r["dec"], 4), "fdec": dec(r["fdec"], 2),
        "date": "%04d-" % r["date"].year + r["date"].strftime("%m-%d"),
        "tm": r["tm"].strftime("%H:%M:%S.%f")[:-3],
        "tu": r["tu"].strftime("%H:%M:%S.%f"),
        "tsm": ts(r["tsm"], 3), "tsu": ts(r["tsu"], 6), "uu": r["uu"],
        "n": r["n"],
    }


def same(key, got, want, line):
    if key == "f":
        return struct.pack("<f", got) == struct.pack("<f", want)
    if key == "d" and want == 0:
        # json.loads reads "-0" as the integer 0: look at the text.
        return got == 0 and ('"d":-0' in line) == (math.copysign(1, want) < 0)
    return got == want


def main():
    avrocat, work = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 300
    decimal.getcontext().prec = 100
    rnd = random.Random(14)
    schema = avro.schema.parse(json.dumps(SCHEMA))
    with open(work + "/schema.json", "w") as f:
        json.dump(SCHEMA, f)
    records, files = [], []
    for k in range(count):
        r = record(rnd)
        buf = io.BytesIO()
        avro.io.DatumWriter(schema).write(r, avro.io.BinaryEncoder(buf))
        body = buf.getvalue()
        for name, data in (("%s/b%04d" % (work, k), body),
                           ("%s/t%04d" % (work, k), body[:-1])):
            with open(name, "wb") as f:
                f.write(data)
            files.append(name)
        records.append(r)
    out = subprocess.run([avrocat, work + "/schema.json"] + files,
                         capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    if len(lines) != len(files):
        print("FAIL: %d lines for %d bodies" % (len(lines), len(files)))
        return 1
    bad = 0
    for k, r in enumerate(records):
        line, cut = lines[2 * k], lines[2 * k + 1]
        if not cut.startswith("POISON: "):
            print("FAIL: record %d without its last byte: %s" % (k, cut))
            bad += 1
        if line.startswith("POISON"):
            print("FAIL: record %d: %s" % (k, line))
            bad += 1
            continue
        got, want = json.loads(line), rendering(r)
        if list(got) != list(want):
            print("FAIL: record %d: fields %s" % (k, list(got)))
            bad += 1
        for key in want:
            if not same(key, got.get(key), want[key], line):
                print("FAIL: record %d: %s is %r, Python wrote %r" %
                      (k, key, got.get(key), want[key]))
                bad += 1
    print("%d records of Python's Avro decoded, %d mismatches" %
          (count, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

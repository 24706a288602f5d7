#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The oracle of an Avro topic: every committed record (a read_committed
reading, as tests/kafka/oracle does), its key and value decoded with
python3-avro from the writer schemas the registry gives by id, rendered
as ksink-converters(7) says a converter renders them.

usage: avrooracle.py -b BOOTSTRAP -t TOPIC (-g REGISTRY_URL | -C)
           [-w SECONDS]

-C: the keys and values are Kafka Connect's JSON with schema (tests/
kafka/avroproducer.py -C), decoded by tests/kafka/cjsonlib.py; the ids
are null.

Prints one JSON object per record on stdout, in partition then offset
order:
  {"part": P, "off": O,
   "key": RENDERING, "key_id": ID,
   "value": RENDERING, "value_id": ID,
   "raw": HEX,              the value's bytes (null for a tombstone)
   "key_raw": HEX,          the key's bytes (null for a null key)
   "poison": WHY}           present when the value does not decode
A null key or value renders as null; a key that is not Avro is an error.

The checkers import this module (sys.path: this directory):
  read(path)         [dict] of an oracle file
  good(records)      the records whose value decodes (tombstones too)
  poison(records)    those whose value does not
  last_values(records)
                     {key JSON text: rendered value} of the good records,
                     a tombstone removing its key: what a table upserted
                     by key with deletes holds
  report(prog, kind, items)  the first problems, on stderr (oracle.py's)
"""

import argparse
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import avrolib  # noqa: E402
import cjsonlib  # noqa: E402
from oracle import report  # noqa: E402,F401


def key_text(k):
    return json.dumps(k, sort_keys=True, separators=(",", ":"))


def read(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def good(records):
    return [r for r in records if "poison" not in r]


def poison(records):
    return [r for r in records if "poison" in r]


def last_values(records):
    out = {}
    for r in good(sorted(records, key=lambda r: (r["part"], r["off"]))):
        if r["key"] is None:
            continue
        k = key_text(r["key"])
        if r["value"] is None:
            out.pop(k, None)
        else:
            out[k] = r["value"]
    return out


def decode_one(reg, data, hid):
    sid, datum = avrolib.decode(reg, data, hid)
    return sid, avrolib.render(reg.schema(sid), datum)


def main():
    ap = argparse.ArgumentParser(prog="avrooracle")
    ap.add_argument("-b", required=True, dest="bootstrap")
    ap.add_argument("-t", required=True, dest="topic")
    ap.add_argument("-g", default=None, dest="registry")
    ap.add_argument("-C", action="store_true", dest="cjson")
    ap.add_argument("-w", type=int, default=120, dest="wait")
    o = ap.parse_args()
    if (o.registry is None) == (not o.cjson):
        ap.error("give -g REGISTRY_URL or -C")
    if o.cjson:
        def decode(data, hid):
            return None, cjsonlib.render(data)
    else:
        reg = avrolib.Registry(o.registry)

        def decode(data, hid):
            return decode_one(reg, data, hid)
    out = sys.stdout
    for part, off, key, value, headers in avrolib.read_committed(
            o.bootstrap, o.topic, o.wait):
        r = {"part": part, "off": off, "key": None, "key_id": None,
             "value": None, "value_id": None,
             "raw": None if value is None else value.hex(),
             "key_raw": None if key is None else key.hex()}
        if key is not None:
            try:
                r["key_id"], r["key"] = decode(
                    key, avrolib.header_id(headers, "__key_schema_id"))
            except avrolib.Poison as e:
                raise SystemExit("avrooracle: partition %d offset %d: key: "
                                 "%s" % (part, off, e.why))
        if value is not None:
            try:
                r["value_id"], r["value"] = decode(
                    value,
                    avrolib.header_id(headers, "__value_schema_id"))
            except avrolib.Poison as e:
                r["poison"] = e.why
                r["value_id"] = e.schema_id
        out.write(json.dumps(r, ensure_ascii=False, separators=(",", ":"))
                  + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

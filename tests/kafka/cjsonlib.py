# SPDX-License-Identifier: BSD-2-Clause
"""Kafka Connect's JSON with schema (JsonConverter, schemas.enable=true),
for the end-to-end tests of the converters: the envelopes
tests/kafka/avroproducer.py -C writes, and their decoding by the schema
each carries into the JSON renderings of ksink-converters(7), computed
here in Python (never with ksink's code), so that what a sink stored can
be compared with an independent decoding.

Functions:
  value_schema(version)     the Connect schema of the values, 1 or 2 (2
                            adds the optional field "channel")
  KEY_SCHEMAS               {"record": ..., "string": ...}
  payload(avro_datum, rnd)  the Connect payload of the same content as
                            avroproducer's Avro datum, with the Connect
                            types Avro lacks (int8, int16, float32, a
                            decimal without precision, bytes, an array,
                            maps with string and with int keys)
  envelope(schema, payload, ascii)
                            the bytes {"schema": S, "payload": P}
  render(data)              the rendering of an envelope's payload by its
                            schema; raises avrolib.Poison when it is not
                            one or does not match its schema

Standard library and tests/kafka/avrolib.py.
"""

import base64
import datetime
import decimal
import json
import math
import struct

import avrolib

CONNECT = "org.apache.kafka.connect.data."
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
INT_RANGE = {"int8": 8, "int16": 16, "int32": 32, "int64": 64}


def _f(field, typ, optional=False, **more):
    s = {"type": typ, "optional": optional, "field": field}
    s.update(more)
    return s


def _logical(field, typ, logical, **params):
    s = _f(field, typ, name=CONNECT + logical, version=1)
    if params:
        s["parameters"] = {k.replace("_", "."): str(v)
                           for k, v in params.items()}
    return s


_V1_FIELDS = [
    _f("id", "string"),
    _f("user", "string"),
    _logical("amount", "bytes", "Decimal", scale=2,
             connect_decimal_precision=12),
    _logical("fee", "bytes", "Decimal", scale=4),
    _logical("ts", "int64", "Timestamp"),
    _logical("day", "int32", "Date"),
    _logical("at", "int32", "Time"),
    _f("txid", "string"),
    _f("note", "string", True),
    {"type": "struct", "optional": False, "name": "ksink.test.Place",
     "field": "place", "fields": [_f("city", "string"),
                                  _f("zip", "int32")]},
    _f("status", "string"),
    _f("score", "float64"),
    _f("ratio", "float32"),
    _f("seq", "int64"),
    _f("tiny", "int8"),
    _f("small", "int16"),
    _f("paid", "boolean"),
    _f("blob", "bytes"),
    _f("tags", "array", items={"type": "string", "optional": False}),
    _f("attrs", "map", keys={"type": "string", "optional": False},
       values={"type": "int32", "optional": True}),
    _f("codes", "map", True, keys={"type": "int32", "optional": False},
       values={"type": "string", "optional": False}),
]


def value_schema(version=1):
    fields = list(_V1_FIELDS)
    if version >= 2:
        fields.append(_f("channel", "string", True))
    return {"type": "struct", "fields": fields, "optional": False,
            "name": "ksink.test.Payment", "version": version}


KEY_SCHEMAS = {
    "record": {"type": "struct", "optional": False,
               "name": "ksink.test.PaymentKey",
               "fields": [_f("user", "string")]},
    "string": {"type": "string", "optional": False},
}


def _unscaled(d, scale):
    """The unscaled value of decimal d as Java's BigInteger.toByteArray:
    the fewest big-endian two's complement bytes."""
    n = int(d.scaleb(scale))
    size = (n + (n < 0)).bit_length() // 8 + 1
    return n.to_bytes(size, "big", signed=True)


def _b64(b):
    return base64.b64encode(b).decode()


def payload(v, rnd):
    """The Connect payload of avroproducer's Avro datum v (the fields a
    Connect schema has), plus the fields only value_schema has, drawn
    from rnd."""
    p = dict(v)
    p.pop("tsu")
    p["amount"] = _b64(_unscaled(v["amount"], 2))
    fee = decimal.Decimal(rnd.randrange(-10**9, 10**9)).scaleb(-4)
    p["fee"] = _b64(_unscaled(fee, 4))
    p["ts"] = (v["ts"] - EPOCH) // datetime.timedelta(milliseconds=1)
    p["day"] = (v["day"] - datetime.date(1970, 1, 1)).days
    t = v["at"]
    p["at"] = ((t.hour * 60 + t.minute) * 60 + t.second) * 1000 + \
        t.microsecond // 1000
    if isinstance(p["score"], float) and not math.isfinite(p["score"]):
        p["score"] = str(p["score"]).replace("inf", "Infinity") \
            .replace("nan", "NaN")
    r = struct.unpack("f", struct.pack("f", rnd.uniform(-1e6, 1e6)))[0]
    # The float's every digit (as a double), or six: a reader rounds
    # either to a float.
    p["ratio"] = r if rnd.randrange(2) else float("%.6g" % r)
    p["tiny"] = rnd.choice([-128, 127, rnd.randrange(-128, 128)])
    p["small"] = rnd.choice([-32768, 32767, rnd.randrange(-32768, 32768)])
    p["blob"] = _b64(bytes(rnd.randrange(256)
                           for _ in range(rnd.randrange(12))))
    p["tags"] = [rnd.choice(["a", "b\"q", "c\\d", "\u00e9t\u00e9",
                             "\U0001f600"]) for _ in range(rnd.randrange(4))]
    p["attrs"] = {"k%d" % i: None if rnd.randrange(5) == 0 else
                  rnd.randrange(-1000, 1000)
                  for i in range(rnd.randrange(3))}
    p["codes"] = None if rnd.randrange(4) == 0 else \
        [[rnd.randrange(-99, 100), "c%d" % i] for i in range(rnd.randrange(3))]
    if p["note"] is None and rnd.randrange(2):
        del p["note"]           # a missing optional field is null
    return p


def envelope(schema, payload, ascii=False):
    return json.dumps({"schema": schema, "payload": payload},
                      ensure_ascii=ascii, separators=(",", ":")).encode()


# ---- decoding (the oracle) ----

def _poison(path, why):
    raise avrolib.Poison("field %s: %s" % (".".join(path) or "(top)", why))


def _float32(x):
    f = struct.unpack("f", struct.pack("f", x))[0]
    if not math.isfinite(f):
        return f
    for digits in range(1, 10):
        s = "%.*g" % (digits, f)
        if struct.unpack("f", struct.pack("f", float(s)))[0] == f:
            return float(s)
    return f


def _int(schema, p, path):
    t = schema["type"]
    if not isinstance(p, int) or isinstance(p, bool):
        _poison(path, "not an integer: %r" % (p,))
    bits = INT_RANGE[t]
    if not -(1 << (bits - 1)) <= p < 1 << (bits - 1):
        _poison(path, "%d out of %s" % (p, t))
    return p


def _real(schema, p, path):
    if isinstance(p, str) and p in ("NaN", "Infinity", "-Infinity"):
        return p
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        _poison(path, "not a number: %r" % (p,))
    x = float(p)
    if schema["type"] == "float32":
        x = _float32(x)
    return avrolib.render_float(x)


def _bytes(p, path):
    if not isinstance(p, str):
        _poison(path, "not a base64 string")
    try:
        return base64.b64decode(p.encode(), validate=True)
    except (ValueError, UnicodeEncodeError):
        _poison(path, "not base64: %r" % p)


def _decode(schema, p, path):
    """The rendering of payload p by Connect schema schema."""
    if not isinstance(schema, dict) or "type" not in schema:
        _poison(path, "no schema")
    t = schema["type"]
    name = schema.get("name", "")
    if p is None:
        if schema.get("default") is not None:
            return _decode(schema, schema["default"], path)
        if schema.get("optional"):
            return None
        _poison(path, "null, and not optional")
    if name == CONNECT + "Decimal" and t == "bytes":
        scale = int(schema["parameters"]["scale"])
        n = int.from_bytes(_bytes(p, path), "big", signed=True)
        return format(decimal.Decimal(n).scaleb(-scale), "f")
    if name == CONNECT + "Date" and t == "int32":
        days = _int(schema, p, path)
        d = datetime.date(1970, 1, 1) + datetime.timedelta(days=days)
        return d.isoformat()
    if name == CONNECT + "Time" and t == "int32":
        ms = _int(schema, p, path)
        if not 0 <= ms < 86400000:
            _poison(path, "time %d not within a day" % ms)
        return avrolib.render_time(
            (datetime.datetime.min + datetime.timedelta(
                milliseconds=ms)).time(), 3)
    if name == CONNECT + "Timestamp" and t == "int64":
        ms = _int(schema, p, path)
        return avrolib.render_ts(
            EPOCH + datetime.timedelta(milliseconds=ms), 3)
    if t in INT_RANGE:
        return _int(schema, p, path)
    if t in ("float32", "float64"):
        return _real(schema, p, path)
    if t == "boolean":
        if not isinstance(p, bool):
            _poison(path, "not a boolean")
        return p
    if t == "string":
        if not isinstance(p, str):
            _poison(path, "not a string")
        return p
    if t == "bytes":
        return _b64(_bytes(p, path))
    if t == "array":
        if not isinstance(p, list):
            _poison(path, "not an array")
        return [_decode(schema["items"], x, path + ["[]"]) for x in p]
    if t == "map":
        if schema["keys"]["type"] == "string":
            if not isinstance(p, dict):
                _poison(path, "not an object")
            return {k: _decode(schema["values"], x, path + ["[]"])
                    for k, x in p.items()}
        if not isinstance(p, list):
            _poison(path, "not an array of pairs")
        out = []
        for x in p:
            if not isinstance(x, list) or len(x) != 2:
                _poison(path, "not a [key, value] pair")
            out.append([_decode(schema["keys"], x[0], path + ["[]"]),
                        _decode(schema["values"], x[1], path + ["[]"])])
        return out
    if t == "struct":
        if not isinstance(p, dict):
            _poison(path, "not an object")
        return {f["field"]: _decode(f, p.get(f["field"]),
                                    path + [f["field"]])
                for f in schema["fields"]}
    _poison(path, "unknown type %r" % t)


def _not_json(token):
    raise ValueError("%s is no JSON" % token)


def render(data):
    """The rendering of the payload of envelope data (bytes)."""
    try:
        env = json.loads(data.decode("utf-8"),
                         parse_constant=_not_json)
    except ValueError as e:
        raise avrolib.Poison("not JSON: %s" % e)
    if not isinstance(env, dict) or "schema" not in env or \
            "payload" not in env or env["schema"] is None:
        raise avrolib.Poison("not an envelope {schema, payload}")
    return _decode(env["schema"], env["payload"], [])

# SPDX-License-Identifier: BSD-2-Clause
"""Avro in the Schema Registry wire format, for the end-to-end tests of the
converters: the schemas tests/kafka/avroproducer.py writes, a client of the
registry's Confluent-compatible API, and the JSON renderings of
ksink-converters(7), computed with python3-avro (never avro-c), so that
what a sink stored can be compared with an independent decoding.

Functions:
  value_schema(version)     the value schema, 1 or 2 (2 adds "channel")
  KEY_SCHEMAS               {"record": ..., "string": ...}
  Registry(url)             (the ccompat base URL, .../apis/ccompat/v7)
                            .register(subject, schema) -> id,
                            .schema(id) -> parsed schema (cached),
                            .raw(id) -> the schema's text
  encode(schema, datum)     the Avro body of a datum
  wire(schema_id, body)     0x00, the 4-byte big-endian id, the body
  decode(registry, data, header_id=None)
                            (schema_id, datum) of a value; raises Poison
  render(schema, datum)     the JSON rendering of a decoded datum
  render_float(x), render_ts(datetime, digits), render_time(time, digits)
                            the renderings of a double, a timestamp and a
                            time (digits 3 or 6), for tests/kafka/cjsonlib.py
  read_committed(bootstrap, topic, timeout=120)
                            [(part, off, key, value, headers)] of every
                            committed record, in partition, offset order

Needs python3-avro and python3-confluent-kafka (Debian packages).
"""

import base64
import datetime
import decimal
import io
import json
import math
import struct
import urllib.error
import urllib.request

import avro.io
import avro.schema


_GEO = {"type": "record", "name": "Place", "fields": [
    {"name": "city", "type": "string"},
    {"name": "zip", "type": "int"}]}

_V1_FIELDS = [
    {"name": "id", "type": "string"},
    {"name": "user", "type": "string"},
    {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal",
                                "precision": 12, "scale": 2}},
    {"name": "ts", "type": {"type": "long",
                            "logicalType": "timestamp-millis"}},
    {"name": "tsu", "type": {"type": "long",
                             "logicalType": "timestamp-micros"}},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "at", "type": {"type": "int", "logicalType": "time-millis"}},
    {"name": "txid", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "note", "type": ["null", "string"], "default": None},
    {"name": "place", "type": _GEO},
    {"name": "status", "type": {"type": "enum", "name": "Status",
                                "symbols": ["NEW", "PAID", "REFUNDED"]}},
    {"name": "score", "type": "double"},
    {"name": "seq", "type": "long"},
    {"name": "paid", "type": "boolean"},
]


def value_schema(version=1):
    """The JSON text of the value schema: version 2 adds an optional
    field, a compatible evolution (BACKWARD) that gets a new id."""
    fields = list(_V1_FIELDS)
    if version >= 2:
        fields.append({"name": "channel", "type": ["null", "string"],
                       "default": None})
    return json.dumps({"type": "record", "name": "Payment",
                       "namespace": "ksink.test", "fields": fields},
                      separators=(",", ":"))


KEY_SCHEMAS = {
    "record": json.dumps({"type": "record", "name": "PaymentKey",
                          "namespace": "ksink.test",
                          "fields": [{"name": "user", "type": "string"}]},
                         separators=(",", ":")),
    "string": '"string"',
}


class Poison(Exception):
    """A value that does not decode: why, and its schema id (or None)."""

    def __init__(self, why, schema_id=None):
        Exception.__init__(self, why)
        self.why = why
        self.schema_id = schema_id


class Registry:
    def __init__(self, url, timeout=30):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._raw = {}
        self._parsed = {}

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method=method,
            headers={"Content-Type":
                     "application/vnd.schemaregistry.v1+json"})
        with urllib.request.urlopen(req, timeout=self.timeout) as r:
            return json.loads(r.read().decode())

    def register(self, subject, schema):
        """The id of SCHEMA (JSON text) under SUBJECT, registering it."""
        ans = self._call("POST", "/subjects/%s/versions"
                         % urllib.request.quote(subject, safe=""),
                         {"schema": schema})
        sid = int(ans["id"])
        self._raw[sid] = schema
        return sid

    def raw(self, sid):
        if sid not in self._raw:
            try:
                ans = self._call("GET", "/schemas/ids/%d" % sid)
            except urllib.error.HTTPError as e:
                if e.code == 404:
                    raise Poison("unknown schema id %d" % sid, sid)
                raise
            self._raw[sid] = ans["schema"]
        return self._raw[sid]

    def schema(self, sid):
        if sid not in self._parsed:
            self._parsed[sid] = avro.schema.parse(self.raw(sid))
        return self._parsed[sid]


def encode(schema, datum):
    out = io.BytesIO()
    avro.io.DatumWriter(schema).write(datum, avro.io.BinaryEncoder(out))
    return out.getvalue()


def wire(schema_id, body):
    return b"\0" + struct.pack(">I", schema_id) + body


def header_id(headers, name):
    """The schema id a header NAME gives (ASCII decimal, or 4 or 8 bytes
    big-endian), or None."""
    for k, v in headers or ():
        if k != name or v is None:
            continue
        if len(v) in (4, 8) and not v.isdigit():
            return int.from_bytes(v, "big")
        return int(v.decode())
    return None


def decode(registry, data, hid=None):
    """(schema_id, datum) of DATA, in the wire format unless HID (the id
    of a header) is given; Poison when it does not decode."""
    if hid is not None:
        sid, body = hid, data
    else:
        if len(data) < 5:
            raise Poison("%d bytes: too short for the prefix" % len(data))
        if data[0] != 0:
            raise Poison("magic byte %d" % data[0])
        sid = struct.unpack(">I", data[1:5])[0]
        body = data[5:]
    schema = registry.schema(sid)
    buf = io.BytesIO(body)
    try:
        datum = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(buf))
    except Exception as e:  # python-avro raises several kinds
        raise Poison("body does not decode: %s" % e, sid)
    if buf.tell() != len(body):
        raise Poison("%d bytes left after the datum"
                     % (len(body) - buf.tell()), sid)
    return sid, datum


def render_float(x):
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def render_ts(dt, digits):
    frac = dt.microsecond if digits == 6 else dt.microsecond // 1000
    return "%04d-%02d-%02dT%02d:%02d:%02d.%0*dZ" % (
        dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second,
        digits, frac)


def render_time(t, digits):
    frac = t.microsecond if digits == 6 else t.microsecond // 1000
    return "%02d:%02d:%02d.%0*d" % (t.hour, t.minute, t.second, digits, frac)


def render(schema, datum):
    """The JSON rendering of DATUM (python3-avro's decoding) by SCHEMA, as
    ksink-converters(7) has it."""
    lt = getattr(schema, "logical_type", None) or \
        (schema.get_prop("logicalType") if hasattr(schema, "get_prop")
         else None)
    t = schema.type
    if t == "union":
        if datum is None:
            return None
        for b in schema.schemas:
            if b.type != "null" and avro.io.validate(b, datum):
                return render(b, datum)
        raise ValueError("no branch of %s for %r" % (schema, datum))
    if lt == "decimal" and isinstance(datum, decimal.Decimal):
        scale = schema.get_prop("scale") or 0
        q = datum.quantize(decimal.Decimal(1).scaleb(-scale))
        return format(q, "f")
    if lt in ("timestamp-millis", "timestamp-micros") and \
            isinstance(datum, datetime.datetime):
        return render_ts(datum, 3 if lt == "timestamp-millis" else 6)
    if lt == "date" and isinstance(datum, datetime.date):
        return "%04d-%02d-%02d" % (datum.year, datum.month, datum.day)
    if lt in ("time-millis", "time-micros") and \
            isinstance(datum, datetime.time):
        return render_time(datum, 3 if lt == "time-millis" else 6)
    if t in ("null", "boolean", "int", "long", "string", "enum"):
        return datum
    if t in ("float", "double"):
        return render_float(datum)
    if t in ("bytes", "fixed"):
        return base64.b64encode(datum).decode()
    if t in ("record", "error"):
        return {f.name: render(f.type, datum[f.name]) for f in schema.fields}
    if t == "array":
        return [render(schema.items, x) for x in datum]
    if t == "map":
        return {k: render(schema.values, x) for k, x in datum.items()}
    raise ValueError("type %s not rendered" % t)


def read_committed(bootstrap, topic, timeout=120):
    """Every committed record of TOPIC as a read_committed consumer sees
    it: [(part, off, key, value, headers)] in partition, offset order."""
    import time
    from confluent_kafka import Consumer, KafkaError, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap,
                  "group.id": "ksink-avro-oracle",
                  "isolation.level": "read_committed",
                  "enable.auto.commit": False,
                  "enable.partition.eof": True})
    md = c.list_topics(topic, timeout=30)
    if topic not in md.topics or md.topics[topic].error is not None:
        raise SystemExit("topic %s: %s" % (topic, md.topics.get(topic)))
    parts = sorted(md.topics[topic].partitions)
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    # An empty partition at the start: offset 0 is its end too.
    eof = set()
    out = []
    deadline = time.time() + timeout
    while len(eof) < len(parts):
        if time.time() > deadline:
            raise SystemExit("partitions %s: no end reached in %d s"
                             % (sorted(set(parts) - eof), timeout))
        m = c.poll(1.0)
        if m is None:
            continue
        if m.error() is not None:
            if m.error().code() == KafkaError._PARTITION_EOF:
                eof.add(m.partition())
                continue
            raise SystemExit("consumer: %s" % m.error())
        eof.discard(m.partition())
        out.append((m.partition(), m.offset(), m.key(), m.value(),
                    m.headers() or []))
    c.close()
    out.sort(key=lambda r: (r[0], r[1]))
    return out

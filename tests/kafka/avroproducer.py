#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""A transactional producer of Avro records in the Schema Registry wire
format, for the end-to-end tests of the converters: tests/kafka/txproducer's
conventions, with Avro values whose schema is registered in a registry's
Confluent-compatible API (/apis/ccompat/v7).

usage: avroproducer.py -b BOOTSTRAP -t TOPIC (-g REGISTRY_URL | -C) -n RECORDS
           [-p PARTITIONS] [-a ABORT_PERCENT] [-m MAX_TXN_RECORDS]
           [-s SEED] [-f FIRST_SEQ] [-r RATE_PER_SEC] [-u USERS]
           [-K record|string|none] [-E EVOLVE_AT_SEQ] [-D TOMBSTONE_PERCENT]
           [-I HEADER_ID_PERCENT] [-x POISON_EACH] [-S IDS_FILE]
           [-L IDS_FILE] [-N]

The topic is created (replication factor 1, PARTITIONS partitions, default
3) unless it exists.  RECORDS records in total (committed and aborted) go
to the partition of their user (K modulo PARTITIONS, so that a key lives
in one partition), in transactions of 1..MAX_TXN_RECORDS records (default
200), about ABORT_PERCENT % of them (default 33) aborted after their
records reached the broker.  SEQ counts the records from FIRST_SEQ
(default 0; a second run on the same topic continues with -f).

Values are ksink.test.Payment records (tests/kafka/avrolib.py): id
"SEED-SEQ", user "uK" (K in 0..USERS-1, default 50), a decimal(12,2)
amount that is never zero, a timestamp-millis, a timestamp-micros, a date,
a time-millis, a uuid, an optional note (null one time in three), a nested
record, an enum, a double, seq and a boolean; a few of them are edge cases
(before 1970, amounts under 1 in absolute value).  From record
EVOLVE_AT_SEQ on (-E) the values are written with the second version of
the schema, which adds the optional field "channel": a new id.  The
schemas are registered under TOPIC-key and TOPIC-value at the start, the
key's first, then the first version (unless -E is FIRST_SEQ), then the
second (when -E falls among the records): a consumer meets the second id only from EVOLVE_AT_SEQ
on.

Keys (-K): record (default), the Avro record {"user": "uK"}; string, the
Avro string "uK"; none, no key.  -D makes about TOMBSTONE_PERCENT % of
the records tombstones (null value, the key kept).  -I puts the schema id
of about HEADER_ID_PERCENT % of the values in a header __value_schema_id
(ASCII decimal) instead of the prefix, and that of their keys in a
header __key_schema_id (4 bytes, big-endian).

-x POISON_EACH writes that many records of each of four kinds that do not
decode, each in a committed transaction: an unknown schema id, a truncated
body, a wrong magic byte (1), and a value of 3 bytes (too short for the
prefix).  Their keys are valid.

-N makes the score of every record whose SEQ is 7 modulo 40 NaN,
Infinity or -Infinity, in turns.

-S appends a line "SUBJECT<TAB>ID<TAB>SCHEMA" to IDS_FILE for every
schema registered, in order.  -L reads such a file and uses its ids
without asking the registry: records can be written while the registry
is down.

-C writes Kafka Connect's JSON with schema instead of Avro, as
JsonConverter does with schemas.enable=true, and needs no registry: keys
and values are envelopes {"schema": S, "payload": P} (tests/kafka/
cjsonlib.py), the values of the same content as the Avro ones plus the
Connect types Avro lacks; -E makes the schema add "channel" as with
Avro, -I does not apply, and the poison kinds of -x are a payload that
does not match its schema (a string for the Date "day"), an envelope cut
in the middle (not JSON), and a bare payload without its envelope.

The committed, aborted and poison counts are printed to stderr at the end;
they are informational: tests compare the sink with the oracle
(tests/kafka/avrooracle.py), a read_committed reading of the topic.  Any
error makes the program exit 1.
"""

import argparse
import datetime
import json
import decimal
import os
import random
import struct
import sys
import time
import uuid

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import avrolib  # noqa: E402
import cjsonlib  # noqa: E402

from confluent_kafka import KafkaException, Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

PROG = "avroproducer"
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
TXN_TIMEOUT = 60


def die(msg):
    print("%s: %s" % (PROG, msg), file=sys.stderr)
    sys.exit(1)


def create_topic(bootstrap, topic, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fut = admin.create_topics([NewTopic(topic, partitions, 1)])[topic]
    try:
        fut.result(30)
    except KafkaException as e:
        if "TOPIC_ALREADY_EXISTS" not in str(e) and \
                "already exists" not in str(e):
            die("cannot create topic %s: %s" % (topic, e))


class Schemas:
    """The ids of the schemas, registered when first used."""

    def __init__(self, reg, topic, ids_file, known):
        self.reg = reg
        self.topic = topic
        self.ids_file = ids_file
        self.ids = {}
        self.parsed = {}
        if known:
            with open(known) as f:
                for line in f:
                    subject, sid, text = line.rstrip("\n").split("\t", 2)
                    self.ids[(subject, text)] = int(sid)
                    self.parsed[(subject, text)] = \
                        avrolib.avro.schema.parse(text)

    def get(self, subject, text):
        k = (subject, text)
        if k not in self.ids:
            sid = self.reg.register(subject, text)
            self.ids[k] = sid
            self.parsed[k] = avrolib.avro.schema.parse(text)
            if self.ids_file:
                with open(self.ids_file, "a") as f:
                    f.write("%s\t%d\t%s\n" % (subject, sid, text))
        return self.ids[k], self.parsed[k]


def value_datum(rnd, seed, seq, users, version, o_special=False):
    user = "u%d" % rnd.randrange(users)
    cents = 0
    while cents == 0:
        cents = rnd.randrange(-99, 100) if rnd.randrange(10) == 0 \
            else rnd.randrange(-10000000, 10000000)
    if rnd.randrange(10) == 0:
        ms = rnd.randrange(-2 * 10**11, 0)      # before 1970
    else:
        ms = rnd.randrange(10**12, 2 * 10**12)  # 2001 to 2033
    us = ms * 1000 + rnd.randrange(1000)
    day = ms // 86400000
    v = {
        "id": "%d-%d" % (seed, seq),
        "user": user,
        "amount": decimal.Decimal(cents).scaleb(-2),
        "ts": EPOCH + datetime.timedelta(milliseconds=ms),
        "tsu": EPOCH + datetime.timedelta(microseconds=us),
        "day": datetime.date(1970, 1, 1) + datetime.timedelta(days=day),
        "at": (datetime.datetime.min + datetime.timedelta(
            milliseconds=rnd.randrange(86400000))).time(),
        "txid": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
        "note": None if rnd.randrange(3) == 0 else "note %d" % seq,
        "place": {"city": rnd.choice(["Lyon", "Kraków", "São Paulo",
                                      "Zürich", "Oslo"]),
                  "zip": rnd.randrange(100000)},
        "status": rnd.choice(["NEW", "PAID", "REFUNDED"]),
        "score": (float("nan"), float("inf"), float("-inf"))[seq // 40 % 3]
        if o_special and seq % 40 == 7
        else rnd.randrange(-400, 400) / 4.0,
        "seq": seq,
        "paid": rnd.randrange(2) == 1,
    }
    if version >= 2:
        v["channel"] = None if rnd.randrange(4) == 0 else \
            rnd.choice(["web", "app", "pos"])
    return user, v


def avro_poison(kind, v, schema):
    """A wire-format value that does not decode, of kind KIND; schema:
    (id, parsed) of the value schema."""
    sid, sch = schema
    body = avrolib.encode(sch, v)
    if kind == "unknown-id":
        return avrolib.wire(sid + 7777777, body)
    if kind == "truncated":
        return avrolib.wire(sid, body[:len(body) // 2])
    if kind == "magic":
        return b"\1" + avrolib.wire(sid, body)[1:]
    return b"\0\0\0"


def cjson_poison(kind, v, rnd):
    """A Connect JSON value that does not decode, of kind KIND."""
    sch = cjsonlib.value_schema(1)
    pl = cjsonlib.payload(v, rnd)
    if kind == "mismatch":
        pl["day"] = "2024-02-29"
    env = cjsonlib.envelope(sch, pl)
    if kind == "truncated":
        return env[:len(env) // 2]
    if kind == "schemaless":
        return json.dumps(pl).encode()
    return env


def main():
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-b", required=True, dest="bootstrap")
    ap.add_argument("-t", required=True, dest="topic")
    ap.add_argument("-g", default=None, dest="registry")
    ap.add_argument("-C", action="store_true", dest="cjson")
    ap.add_argument("-n", type=int, required=True, dest="records")
    ap.add_argument("-p", type=int, default=3, dest="partitions")
    ap.add_argument("-a", type=int, default=33, dest="abort_pct")
    ap.add_argument("-m", type=int, default=200, dest="max_txn")
    ap.add_argument("-s", type=int, default=None, dest="seed")
    ap.add_argument("-f", type=int, default=0, dest="first")
    ap.add_argument("-r", type=float, default=0, dest="rate")
    ap.add_argument("-u", type=int, default=50, dest="users")
    ap.add_argument("-K", choices=("record", "string", "none"),
                    default="record", dest="key")
    ap.add_argument("-E", type=int, default=None, dest="evolve_at")
    ap.add_argument("-D", type=int, default=0, dest="tombstone_pct")
    ap.add_argument("-I", type=int, default=0, dest="header_pct")
    ap.add_argument("-x", type=int, default=0, dest="poison")
    ap.add_argument("-N", action="store_true", dest="special")
    ap.add_argument("-S", default=None, dest="ids_file")
    ap.add_argument("-L", default=None, dest="known")
    o = ap.parse_args()
    if o.records < 0 or o.partitions < 1 or o.max_txn < 1 or o.users < 1:
        die("bad -n, -p, -m or -u")
    if (o.registry is None) == (not o.cjson) or (o.cjson and o.header_pct):
        die("give -g REGISTRY_URL or -C (without -I)")
    seed = o.seed if o.seed is not None else random.randrange(1, 10**6)
    rnd = random.Random(seed * 7919 + o.first)

    create_topic(o.bootstrap, o.topic, o.partitions)
    schemas = None if o.cjson else Schemas(avrolib.Registry(o.registry),
                                           o.topic, o.ids_file, o.known)
    p = Producer({"bootstrap.servers": o.bootstrap,
                  "transactional.id": "ksink-avroproducer-%s-%d-%d"
                  % (o.topic, seed, os.getpid()),
                  "enable.idempotence": True,
                  "linger.ms": 5,
                  "transaction.timeout.ms": TXN_TIMEOUT * 1000})
    p.init_transactions(TXN_TIMEOUT)

    def key_bytes(user, headers=None):
        """The key in the wire format; with HEADERS (a list), the bare
        body, its id appended to HEADERS as __key_schema_id (4 bytes)."""
        if o.key == "none":
            return None
        if o.cjson:
            return cjsonlib.envelope(cjsonlib.KEY_SCHEMAS[o.key],
                                     {"user": user} if o.key == "record"
                                     else user)
        sid, sch = schemas.get(o.topic + "-key", avrolib.KEY_SCHEMAS[o.key])
        datum = {"user": user} if o.key == "record" else user
        body = avrolib.encode(sch, datum)
        if headers is not None:
            headers.append(("__key_schema_id", struct.pack(">I", sid)))
            return body
        return avrolib.wire(sid, body)

    def partition_of(user):
        # A key lives in one partition: the last value per key is then
        # the last in that partition's order.
        return int(user[1:]) % o.partitions

    seq = o.first
    end = o.first + o.records
    if not o.cjson and (o.records > 0 or o.poison > 0):
        key_bytes("u0")
        if o.evolve_at is None or o.evolve_at > o.first or o.poison > 0:
            schemas.get(o.topic + "-value", avrolib.value_schema(1))
        if o.evolve_at is not None and o.evolve_at < end:
            schemas.get(o.topic + "-value", avrolib.value_schema(2))
    committed = aborted = 0
    kinds = ("mismatch", "truncated", "schemaless") if o.cjson else \
        ("unknown-id", "truncated", "magic", "short")
    poison_left = [(kind, i) for i in range(o.poison) for kind in kinds]
    rnd.shuffle(poison_left)
    poisoned = 0
    t0 = time.time()
    sent = 0
    while seq < end or poison_left:
        n = min(rnd.randint(1, o.max_txn), max(end - seq, 0))
        abort = rnd.randrange(100) < o.abort_pct and n > 0
        p.begin_transaction()
        for _ in range(n):
            version = 2 if o.evolve_at is not None and \
                seq >= o.evolve_at else 1
            user, v = value_datum(rnd, seed, seq, o.users, version,
                                  o.special)
            key = key_bytes(user)
            headers = None
            if rnd.randrange(100) < o.tombstone_pct:
                value = None
            elif o.cjson:
                value = cjsonlib.envelope(cjsonlib.value_schema(version),
                                          cjsonlib.payload(v, rnd),
                                          ascii=seq % 2 == 0)
            else:
                sid, sch = schemas.get(o.topic + "-value",
                                       avrolib.value_schema(version))
                body = avrolib.encode(sch, v)
                if rnd.randrange(100) < o.header_pct:
                    value = body
                    headers = [("__value_schema_id", str(sid).encode())]
                    key = key_bytes(user, headers)
                else:
                    value = avrolib.wire(sid, body)
            p.produce(o.topic, value=value, key=key,
                      partition=partition_of(user), headers=headers)
            seq += 1
            sent += 1
            if o.rate > 0:
                ahead = sent / o.rate - (time.time() - t0)
                if ahead > 0:
                    time.sleep(ahead)
            p.poll(0)
        # One poison record in a committed transaction, now and then, and
        # all that are left in the last one.
        while poison_left and not abort and \
                (seq >= end or rnd.randrange(3) == 0):
            kind, _ = poison_left.pop()
            user, v = value_datum(rnd, seed, -1, o.users, 1)
            if o.cjson:
                value = cjson_poison(kind, v, rnd)
            else:
                value = avro_poison(kind, v, schemas.get(
                    o.topic + "-value", avrolib.value_schema(1)))
            p.produce(o.topic, value=value, key=key_bytes(user),
                      partition=partition_of(user),
                      headers=[("poison", kind.encode())])
            poisoned += 1
            if seq < end:
                break
        if abort:
            p.flush(TXN_TIMEOUT)
            p.abort_transaction(TXN_TIMEOUT)
            aborted += n
        else:
            p.commit_transaction(TXN_TIMEOUT)
            committed += n
    print("%s: %d committed, %d aborted, %d poison (committed), seed %d"
          % (PROG, committed, aborted, poisoned, seed), file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KafkaException as e:
        die("kafka: %s" % e)
    except OSError as e:
        die("registry: %s" % e)

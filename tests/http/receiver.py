#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Reference receiver for the ksink HTTP sink (see ksink-http(7)).

Applies the records of each request in one SQLite transaction:

  applied(seq, topic, partition, offset, id, user, amount, key)
      one row per applied record, in the order they were applied
      (duplicates show up as several rows); column envelope holds the
      record's key, value and their encodings as received (JSON, for the
      converters' tests), null for the value body format;
  balances(user, amount)
      the sum of "amount" per "user" of the applied records.

Modes:
  idempotent  honours Idempotency-Key: the same key with the same body gets
              the stored response without being applied again; the same
              key with another body gets 422.
  offsets     the offset protocol: stores the next offset per partition in
              the same transaction, applies only records at or past it, and
              answers GET /offsets?topic=T&partition=P.
  ignore-key  applies every request it gets (at-least-once receivers).

Faults (--fault KIND=PROBABILITY,...), drawn per record request:
  500    answers 500 without applying;
  429    answers 429 with Retry-After (--retry-after seconds), unapplied;
  slow   applies, then answers only after --slow-ms milliseconds;
  close  applies, then closes the connection without an answer.

Prints the bound port on stdout, then serves until SIGTERM or SIGINT.
Python 3 standard library only.
"""

import argparse
import base64
import hashlib
import json
import os
import random
import signal
import sqlite3
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

SCHEMA = """
CREATE TABLE IF NOT EXISTS applied (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
    id TEXT, user TEXT, amount INTEGER, key TEXT, envelope TEXT);
CREATE TABLE IF NOT EXISTS balances (
    user TEXT PRIMARY KEY, amount INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY, body_sha256 TEXT NOT NULL,
    status INTEGER NOT NULL, response TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS offsets (
    topic TEXT NOT NULL, partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL, PRIMARY KEY (topic, partition));
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY, n INTEGER NOT NULL);
"""

FAULTS = ("500", "429", "slow", "close")


class BadRequest(Exception):
    pass


class Receiver:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.db = sqlite3.connect(args.db, check_same_thread=False,
                                  isolation_level=None)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.executescript(SCHEMA)
        self.rng = random.Random(args.seed)
        self.faults = parse_faults(args.fault)
        self.requests = 0
        self.log = open(args.log, "a", buffering=1) if args.log else None

    def count(self, name, n=1):
        self.db.execute(
            "INSERT INTO counters (name, n) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET n = n + excluded.n", (name, n))

    def bump(self, name):
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            self.count(name)
            self.db.execute("COMMIT")

    def draw_fault(self):
        """One fault kind, or None, for the next record request."""
        with self.lock:
            self.requests += 1
            if self.requests <= self.args.fault_after:
                return None
            x = self.rng.random()
        for kind, p in self.faults:
            if x < p:
                return kind
            x -= p
        return None

    def next_offset(self, topic, partition):
        row = self.db.execute(
            "SELECT next_offset FROM offsets WHERE topic = ? AND "
            "partition = ?", (topic, partition)).fetchone()
        return None if row is None else row[0]

    def apply(self, records, key):
        for r in records:
            v = r["value"]
            ident = user = amount = None
            if isinstance(v, dict):
                ident, user, amount = v.get("id"), v.get("user"), \
                    v.get("amount")
            self.db.execute(
                "INSERT INTO applied (topic, partition, offset, id, user, "
                "amount, key, envelope) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (r["topic"], r["partition"], r["offset"],
                 None if ident is None else str(ident), user, amount, key,
                 r.get("envelope")))
            if user is not None and isinstance(amount, int):
                self.db.execute(
                    "INSERT INTO balances (user, amount) VALUES (?, ?) "
                    "ON CONFLICT (user) DO UPDATE SET "
                    "amount = amount + excluded.amount", (user, amount))
        self.count("records_applied", len(records))

    def handle_records(self, headers, body):
        """Returns (status, response text, extra headers, fault)."""
        fault = self.draw_fault()
        if fault == "500":
            self.bump("fault_500")
            return 500, '{"error":"injected 500"}', {}, None
        if fault == "429":
            self.bump("fault_429")
            return 429, '{"error":"injected 429"}', \
                {"Retry-After": str(self.args.retry_after)}, None
        records = parse_records(headers, body)
        for r in records:
            if self.args.reject_id and isinstance(r["value"], dict) and \
                    str(r["value"].get("id")) in self.args.reject_id:
                self.bump("rejected")
                return 400, '{"error":"record %s/%d@%d rejected"}' % (
                    r["topic"], r["partition"], r["offset"]), {}, None
        key = headers.get("Idempotency-Key")
        if key is not None:
            key = key.strip()
            if len(key) >= 2 and key[0] == '"' and key[-1] == '"':
                key = key[1:-1]
        digest = hashlib.sha256(body).hexdigest()
        mode = self.args.mode
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.count("requests")
                if mode == "idempotent" and key:
                    row = self.db.execute(
                        "SELECT body_sha256, status, response FROM "
                        "idempotency WHERE key = ?", (key,)).fetchone()
                    if row is not None:
                        if row[0] != digest:
                            self.count("key_conflicts")
                            self.db.execute("COMMIT")
                            return 422, ('{"error":"Idempotency-Key reused '
                                         'with another body"}'), {}, None
                        self.count("replays")
                        self.db.execute("COMMIT")
                        return row[1], row[2], {}, fault
                if mode == "offsets":
                    topic = headers.get("Ksink-Topic")
                    try:
                        partition = int(headers.get("Ksink-Partition"))
                        last = int(headers.get("Ksink-Offset-Last"))
                    except (TypeError, ValueError):
                        raise BadRequest("Ksink-Topic, Ksink-Partition and "
                                         "Ksink-Offset-Last are required")
                    nxt = self.next_offset(topic, partition)
                    todo = [r for r in records
                            if nxt is None or r["offset"] >= nxt]
                    self.count("records_skipped", len(records) - len(todo))
                    self.apply(todo, key)
                    if nxt is None or last + 1 > nxt:
                        self.db.execute(
                            "INSERT INTO offsets (topic, partition, "
                            "next_offset) VALUES (?, ?, ?) ON CONFLICT "
                            "(topic, partition) DO UPDATE SET "
                            "next_offset = excluded.next_offset",
                            (topic, partition, last + 1))
                    response = '{"applied":%d}' % len(todo)
                else:
                    self.apply(records, key)
                    response = '{"applied":%d}' % len(records)
                    if mode == "idempotent" and key:
                        self.db.execute(
                            "INSERT INTO idempotency (key, body_sha256, "
                            "status, response) VALUES (?, ?, ?, ?)",
                            (key, digest, 200, response))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return 200, response, {}, fault

    def handle_offsets(self, query):
        q = parse_qs(query)
        try:
            topic = q["topic"][0]
            partition = int(q["partition"][0])
        except (KeyError, ValueError, IndexError):
            return 400, '{"error":"topic and partition are required"}'
        with self.lock:
            nxt = self.next_offset(topic, partition)
        if nxt is None:
            return 404, '{"error":"no offset stored"}'
        return 200, '{"next_offset": %d}' % nxt


def parse_faults(spec):
    out = []
    for item in filter(None, (spec or "").split(",")):
        kind, _, p = item.partition("=")
        if kind not in FAULTS:
            sys.exit("receiver.py: unknown fault %r (one of %s)" %
                     (kind, ", ".join(FAULTS)))
        out.append((kind, float(p)))
    return out


def decode(value, encoding):
    """A value of an envelope (ksink-record(7)): null and embedded JSON
    (no encoding member) stay as they are, strings and base64 are parsed
    as JSON when they can be."""
    if encoding is None or value is None:
        return value
    if encoding == "base64":
        value = base64.b64decode(value).decode("utf-8", "replace")
    try:
        return json.loads(value)
    except ValueError:
        return value


def parse_records(headers, body):
    ctype = (headers.get("Content-Type") or "").split(";")[0].strip()
    try:
        if ctype == "application/json":
            envs = json.loads(body)
        elif ctype == "application/x-ndjson":
            envs = [json.loads(line) for line in body.split(b"\n") if line]
        else:
            return [{"topic": headers.get("Ksink-Topic"),
                     "partition": int(headers.get("Ksink-Partition")),
                     "offset": int(headers.get("Ksink-Offset-First")),
                     "value": decode(body.decode("utf-8", "replace"),
                                     "string")}]
        return [{"topic": e["topic"], "partition": e["partition"],
                 "offset": e["offset"],
                 "value": decode(e["value"], e.get("value_encoding")),
                 "envelope": json.dumps(
                     {k: e.get(k) for k in ("key", "key_encoding", "value",
                                            "value_encoding")})}
                for e in envs]
    except (ValueError, KeyError, TypeError) as e:
        raise BadRequest("cannot parse the body: %s" % e)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ksink-receiver"

    def log_message(self, fmt, *args):
        rcv = self.server.receiver
        if rcv.log:
            rcv.log.write("%s %s\n" % (time.strftime("%H:%M:%S"),
                                       fmt % args))

    def answer(self, status, text, extra=None):
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        u = urlsplit(self.path)
        if u.path == "/offsets":
            status, text = self.server.receiver.handle_offsets(u.query)
            self.answer(status, text)
        elif u.path == "/health":
            self.answer(200, '{"ok":true}')
        else:
            self.answer(404, '{"error":"not found"}')

    def do_POST(self):
        rcv = self.server.receiver
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        if rcv.args.delay_ms:
            time.sleep(rcv.args.delay_ms / 1000.0)
        if rcv.args.require_auth and \
                self.headers.get("Authorization") != rcv.args.require_auth:
            self.answer(401, '{"error":"unauthorized"}')
            return
        try:
            status, text, extra, fault = rcv.handle_records(self.headers,
                                                            body)
        except BadRequest as e:
            self.answer(400, json.dumps({"error": str(e)}))
            return
        if fault in ("slow", "close"):
            rcv.bump("fault_" + fault)
        if fault == "close":
            # Applied, but the client never hears of it.
            self.close_connection = True
            return
        if fault == "slow":
            time.sleep(rcv.args.slow_ms / 1000.0)
        try:
            self.answer(status, text, extra)
        except OSError:
            self.close_connection = True

    do_PUT = do_POST


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--db", required=True)
    ap.add_argument("--mode", default="idempotent",
                    choices=("idempotent", "offsets", "ignore-key"))
    ap.add_argument("--fault", default="",
                    help="KIND=PROBABILITY,... with KIND in " +
                    ", ".join(FAULTS))
    ap.add_argument("--fault-after", type=int, default=0,
                    help="no fault in the first N record requests")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--slow-ms", type=int, default=3000)
    ap.add_argument("--delay-ms", type=int, default=0,
                    help="wait this long before handling each record "
                    "request (a slower receiver)")
    ap.add_argument("--retry-after", type=int, default=1)
    ap.add_argument("--reject-id", action="append", default=[],
                    help="answer 400 to a request holding this record id")
    ap.add_argument("--require-auth", default=None,
                    help="answer 401 unless Authorization is exactly this")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--tls-client-ca",
                    help="require a client certificate signed by this CA")
    ap.add_argument("--log")
    args = ap.parse_args()

    server = ThreadingHTTPServer((args.bind, args.port), Handler)
    server.daemon_threads = True
    server.receiver = Receiver(args)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.tls_client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.tls_client_ca)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

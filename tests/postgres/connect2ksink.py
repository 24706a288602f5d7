#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Translates a Kafka Connect JDBC sink configuration (a .properties file)
into a ksink connector section, line by line, by the table "JDBC sink key
-> ksink key" of man/ksink-mapping.7, which it reads: a key the table does
not list is an error, and so is a row the translation needs that the table
lacks.

usage: connect2ksink.py MAN_PAGE CONNECT.properties PASSWORD_FILE

Prints the section on stdout.  connection.password, if any, is written to
PASSWORD_FILE (mode 0600) and named by postgres.password.file, never
printed.  Exits 1 with a message on stderr for what cannot be translated.

Standard library only.
"""

import os
import re
import sys
import urllib.parse

ROW = re.compile(r"^\.It Li (\S+) Ta (?:Cm (.+)|(.+))$")


def table(man):
    """{jdbc key: [ksink keys]} from the man page's table."""
    rows, inside = {}, False
    with open(man) as f:
        for line in f:
            line = line.rstrip("\n")
            if line == ".Ss From a Kafka Connect JDBC sink":
                inside = True
            elif inside and line == ".El":
                break
            elif inside:
                m = ROW.match(line)
                if m:
                    rows.setdefault(m.group(1), []).append(
                        m.group(2) or m.group(3))
    if not rows:
        raise SystemExit("connect2ksink: no table in %s" % man)
    return rows


def properties(path):
    """The key = value lines of a .properties file, in order."""
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line[0] in "#!":
                continue
            m = re.match(r"([^=:\s]+)\s*[=:]\s*(.*)$", line)
            if not m:
                raise SystemExit("connect2ksink: %s:%d: not key=value"
                                 % (path, n))
            out.append((m.group(1), m.group(2)))
    return out


def main(argv):
    if len(argv) != 4:
        raise SystemExit(__doc__)
    rows = table(argv[1])
    props = properties(argv[2])
    conf = dict(props)
    url = conf.get("connection.url", "")
    if url.startswith("jdbc:postgresql://"):
        prefix = "postgres"
    elif url.startswith("jdbc:sqlite:"):
        prefix = "sqlite"
    else:
        raise SystemExit("connect2ksink: connection.url %r is neither "
                         "jdbc:postgresql:// nor jdbc:sqlite:" % url)

    def ksink(key, want=None):
        """The ksink key of a JDBC key by the table, with P. resolved."""
        if key not in rows:
            raise SystemExit("connect2ksink: %s: no row in the table of "
                             "ksink-mapping(7)" % key)
        cands = [r.replace("P.", prefix + ".") for r in rows[key]]
        if want is not None:
            if want not in cands:
                raise SystemExit("connect2ksink: %s: the table gives %s, "
                                 "not %s" % (key, cands, want))
            return want
        return cands[0]

    flatten = {n.strip() for n in conf.get("transforms", "").split(",")
               if conf.get("transforms.%s.type" % n.strip(), "")
               == "org.apache.kafka.connect.transforms.Flatten$Value"}
    out, conninfo, user = [], None, None
    for key, value in props:
        if key == "name":
            ksink(key, "[connector NAME]")
            out.insert(0, "[connector %s]" % value)
            out.append("kafka.group.id = connect-%s" % value)
            out.append("kafka.auto.offset.reset = earliest")
        elif key == "connector.class":
            if value != "io.confluent.connect.jdbc.JdbcSinkConnector":
                raise SystemExit("connect2ksink: connector.class %s is not "
                                 "the JDBC sink" % value)
            out.append("%s = %s" % (ksink(key), prefix))
        elif key == "tasks.max":
            continue	# a worker's batches are its partitions'
        elif key == "connection.url":
            name = ksink(key, prefix + (".path" if prefix == "sqlite"
                                        else ".conninfo"))
            if prefix == "sqlite":
                out.append("%s = %s" % (name, url[len("jdbc:sqlite:"):]))
            else:
                conninfo = "postgresql://" + url[len("jdbc:postgresql://"):]
        elif key == "connection.user":
            ksink(key, "postgres.conninfo")
            user = value
        elif key == "connection.password":
            name = ksink(key, "postgres.password.file")
            fd = os.open(argv[3], os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                         0o600)
            with os.fdopen(fd, "w") as f:
                f.write(value + "\n")
            out.append("%s = %s" % (name, argv[3]))
        elif key in ("key.converter", "value.converter"):
            ksink(key)
            if value not in ("org.apache.kafka.connect.json.JsonConverter",
                             "org.apache.kafka.connect.storage."
                             "StringConverter"):
                raise SystemExit("connect2ksink: %s %s: ksink reads "
                                 "schemaless JSON" % (key, value))
        elif key in ("key.converter.schemas.enable",
                     "value.converter.schemas.enable"):
            if value != "false":
                raise SystemExit("connect2ksink: %s = %s: ksink reads "
                                 "schemaless JSON" % (key, value))
        elif key == "transforms":
            continue
        elif key.startswith("transforms."):
            name, _, what = key[len("transforms."):].partition(".")
            if name not in flatten:
                raise SystemExit("connect2ksink: transform %s is not "
                                 "Flatten$Value" % name)
            if what == "type":
                out.append("%s = true" % ksink("transforms.NAME.type"))
            elif what == "delimiter":
                out.append("%s = %s" % (ksink("transforms.NAME.delimiter"),
                                        value))
            else:
                raise SystemExit("connect2ksink: %s: no ksink key" % key)
        elif key == "quote.sql.identifiers":
            out.append("%s = %s" % (ksink(key), {"always": "true",
                                                 "never": "false"}[value]))
        else:
            out.append("%s = %s" % (ksink(key), value))
    if conninfo is not None:
        if user is not None:
            conninfo += ("&" if "?" in conninfo else "?") + \
                "user=" + urllib.parse.quote(user)
        out.append("postgres.conninfo = %s" % conninfo)
    if not out or not out[0].startswith("[connector "):
        raise SystemExit("connect2ksink: no name")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

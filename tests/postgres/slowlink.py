#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""A relay in front of PostgreSQL that can hold a worker's transactions
back: what a stalled host or a congested link does to a worker's path to
its database, at the worst moment.

usage: slowlink.py LISTEN_HOST PORT_FILE TARGET_HOST TARGET_PORT DELAY_FILE

Listens on LISTEN_HOST (a free port, written to PORT_FILE) and relays every
connection to TARGET_HOST:TARGET_PORT, reading the frontend's messages
(the client must not ask for TLS: sslmode=disable).  While DELAY_FILE
exists and holds a number of milliseconds, a simple-query "BEGIN" -- the
start of a sink transaction -- reaches the server that much later, and
what follows it waits behind it; nothing is dropped, answers come back at
once.  While DELAY_FILE holds the word "hold", a BEGIN waits until
DELAY_FILE is removed, and DELAY_FILE.held is created while one waits so
(a test knows the worker is inside a transaction start).  Standard library
only.
"""

import os
import socket
import struct
import sys
import threading
import time


def delay_ms(path):
    """The delay in milliseconds, or -1 for "hold"."""
    try:
        with open(path) as f:
            text = f.read().strip()
        return -1 if text == "hold" else max(0, int(text or 0))
    except (OSError, ValueError):
        return 0


def hold(path):
    """Waits while path exists, with path.held there meanwhile."""
    with open(path + ".held", "w"):
        pass
    while os.path.exists(path):
        time.sleep(0.05)
    try:
        os.unlink(path + ".held")
    except OSError:
        pass


def recvn(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def relay(client, target, delay_file):
    try:
        server = socket.create_connection(target)
    except OSError:
        client.close()
        return

    def close():
        for s in (client, server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def up():
        try:
            n = struct.unpack("!i", recvn(client, 4))[0]
            server.sendall(struct.pack("!i", n) + recvn(client, n - 4))
            while True:
                kind = recvn(client, 1)
                n = struct.unpack("!i", recvn(client, 4))[0]
                body = recvn(client, n - 4)
                if kind == b"Q" and \
                        body.rstrip(b"\0").strip().upper() == b"BEGIN":
                    d = delay_ms(delay_file)
                    if d < 0:
                        hold(delay_file)
                    elif d > 0:
                        time.sleep(d / 1000.0)
                server.sendall(kind + struct.pack("!i", n) + body)
        except (EOFError, OSError):
            pass
        close()

    def down():
        try:
            while True:
                data = server.recv(65536)
                if not data:
                    break
                client.sendall(data)
        except OSError:
            pass
        close()

    threading.Thread(target=up, daemon=True).start()
    threading.Thread(target=down, daemon=True).start()


def main(argv):
    if len(argv) != 6:
        raise SystemExit(__doc__)
    host, port_file, thost, tport, delay_file = argv[1:]
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, 0))
    ls.listen(64)
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(port_file + ".tmp", port_file)
    while True:
        c, _ = ls.accept()
        relay(c, (thost, int(tport)), delay_file)


if __name__ == "__main__":
    sys.exit(main(sys.argv))

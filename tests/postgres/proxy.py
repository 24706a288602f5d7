#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""A TCP proxy in front of PostgreSQL that loses the connection around a
COMMIT, on purpose: the in-doubt commit of tests/postgres/indoubt.test.

usage: proxy.py LISTEN_PORT_FILE SERVER_PORT EVERY LOG

Listens on a free port of 127.0.0.1 (written to LISTEN_PORT_FILE) and
forwards every connection to 127.0.0.1:SERVER_PORT.  It reads the
frontend's messages (the client must not ask for TLS or GSS encryption:
sslmode=disable gssencmode=disable); of every EVERY simple-query
"COMMIT"s, one loses the connection, in turns:
  after   the COMMIT is forwarded and the server has answered (it has
          committed), but the answer is dropped and both sides closed;
  before  both sides are closed without forwarding the COMMIT (the server
          rolls the transaction back).
Each such event is appended to LOG as "after" or "before".

Standard library only.
"""

import os
import socket
import struct
import sys
import threading
import time

lock = threading.Lock()
state = {"commits": 0, "events": 0}


def recvn(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def close(*socks):
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            s.close()
        except OSError:
            pass


def handle(client, server_port, every, log):
    server = socket.create_connection(("127.0.0.1", server_port))
    swallow = threading.Event()

    def back():
        try:
            while True:
                data = server.recv(65536)
                if not data:
                    break
                if swallow.is_set():
                    continue
                client.sendall(data)
        except OSError:
            pass
        close(client, server)

    threading.Thread(target=back, daemon=True).start()
    try:
        # Startup message: length, then the rest.
        n = struct.unpack("!i", recvn(client, 4))[0]
        server.sendall(struct.pack("!i", n) + recvn(client, n - 4))
        while True:
            kind = recvn(client, 1)
            n = struct.unpack("!i", recvn(client, 4))[0]
            body = recvn(client, n - 4)
            msg = kind + struct.pack("!i", n) + body
            if kind == b"Q" and body.rstrip(b"\0").strip().upper() == b"COMMIT":
                with lock:
                    state["commits"] += 1
                    hit = state["commits"] % every == 0
                    if hit:
                        state["events"] += 1
                        mode = "after" if state["events"] % 2 else "before"
                if hit:
                    if mode == "after":
                        swallow.set()
                        server.sendall(msg)
                        time.sleep(0.5)
                    with open(log, "a") as f:
                        f.write(mode + "\n")
                    close(client, server)
                    return
            server.sendall(msg)
    except (EOFError, OSError):
        pass
    close(client, server)


def main(argv):
    if len(argv) != 5:
        raise SystemExit(__doc__)
    port_file, server_port, every, log = argv[1], int(argv[2]), int(argv[3]), argv[4]
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(tmp, port_file)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=handle, args=(c, server_port, every, log),
                         daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(sys.argv))

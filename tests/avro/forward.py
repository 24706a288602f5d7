#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""A TCP forwarder with a fixed address in front of a server whose port
changes when it restarts (tests/registry/registry.sh picks a free port at
each start): the client keeps one URL.

usage: forward.py PORT_FILE TARGET_PORT [LISTEN_PORT]

Listens on 127.0.0.1:LISTEN_PORT (default 0: a free port, written to
PORT_FILE) and forwards every connection to 127.0.0.1:TARGET_PORT.  A
connection the target refuses is closed at once.  Runs until SIGTERM;
started again with the same LISTEN_PORT it takes the same address
(SO_REUSEADDR).  Standard library only.
"""

import signal
import socket
import sys
import threading


def pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(client, target):
    try:
        up = socket.create_connection(("127.0.0.1", target), timeout=10)
    except OSError:
        client.close()
        return
    up.settimeout(None)
    threading.Thread(target=pipe, args=(up, client), daemon=True).start()
    pipe(client, up)


def main(argv):
    if len(argv) not in (3, 4):
        sys.stderr.write(__doc__)
        return 2
    target = int(argv[2])
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(argv[3]) if len(argv) == 4 else 0))
    s.listen(64)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with open(argv[1] + ".tmp", "w") as f:
        f.write("%d\n" % s.getsockname()[1])
    import os
    os.rename(argv[1] + ".tmp", argv[1])
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c, target), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""An authenticating HTTP(S) reverse proxy in front of the test registry.

Why it exists: Apicurio Registry 2.6 authenticates through Keycloak (OIDC)
only, which the tests do not run; registries in production sit behind
Basic or Bearer authentication (Confluent's, or a gateway), and what the
client must get right is the header it sends and what it does with 401
and 403.  So the authentication tests talk to this proxy, which checks the
credentials and forwards what it accepts to the real Apicurio.  It also
serves HTTPS that requires a client certificate, which Apicurio's build
cannot (Quarkus fixes quarkus.http.ssl.client-auth at build time), and can
answer one fixed status to everything (a registry failing with 503 or
429).

usage: authproxy.py --upstream URL [--basic FILE] [--bearer FILE]
                    [--tls CERT KEY] [--client-ca CA] [--status CODE]
                    [--port-file FILE] [--log FILE]

  --upstream URL   the registry, http://HOST:PORT (the request's path is
                   kept)
  --basic FILE     accept Basic authentication with the "USER:PASSWORD" on
                   FILE's first line
  --bearer FILE    accept "Authorization: Bearer TOKEN" with the token on
                   FILE's first line
                   With neither, every request is forwarded.  With either,
                   a request without an Authorization header gets 401
                   (and WWW-Authenticate), one whose credentials are wrong
                   gets 403, and neither is forwarded.
  --tls CERT KEY   serve HTTPS with this certificate and key (PEM)
  --client-ca CA   require a client certificate signed by CA (with --tls)
  --status CODE    answer CODE, with a JSON error body, to every request
  --port-file FILE write the port (a free one of 127.0.0.1) there once
                   listening
  --log FILE       append one line per request: METHOD PATH STATUS SCHEME,
                   where SCHEME is the Authorization scheme it came with
                   ("-" without one); never the credentials

Standard library only.
"""

import argparse
import base64
import hmac
import http.client
import http.server
import json
import os
import socket
import ssl
import sys
import threading
import urllib.parse


def first_line(path):
    with open(path, encoding="utf-8") as f:
        return f.readline().rstrip("\r\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def note(self, status, scheme):
        log = self.server.opts.log
        if log:
            with self.server.log_lock, open(log, "a", encoding="utf-8") as f:
                f.write("%s %s %d %s\n" % (self.command, self.path, status,
                                           scheme))

    def answer(self, status, body, ctype="application/json", extra=()):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, message, extra=()):
        self.answer(status, json.dumps({"error_code": status,
                                        "message": message}), extra=extra)

    def check(self):
        """None when the request may pass, else (status, message)."""
        o = self.server.opts
        if o.basic is None and o.bearer is None:
            return None
        auth = self.headers.get("Authorization")
        if auth is None:
            return 401, "credentials required"
        scheme, _, cred = auth.partition(" ")
        if o.basic is not None and scheme.lower() == "basic":
            try:
                got = base64.b64decode(cred.strip(), validate=True)
            except ValueError:
                return 403, "malformed Basic credentials"
            if hmac.compare_digest(got, o.basic.encode()):
                return None
            return 403, "wrong user or password"
        if o.bearer is not None and scheme.lower() == "bearer":
            if hmac.compare_digest(cred.strip().encode(), o.bearer.encode()):
                return None
            return 403, "wrong token"
        return 401, "unsupported authentication scheme"

    def handle_any(self):
        o = self.server.opts
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        auth = self.headers.get("Authorization")
        scheme = auth.partition(" ")[0] if auth else "-"
        if o.status:
            self.note(o.status, scheme)
            self.error(o.status, "the proxy answers %d to everything"
                       % o.status)
            return
        refused = self.check()
        if refused is not None:
            status, message = refused
            self.note(status, scheme)
            extra = ()
            if status == 401:
                extra = (("WWW-Authenticate",
                          'Basic realm="registry"' if o.basic is not None
                          else 'Bearer realm="registry"'),)
            self.error(status, message, extra)
            return
        up = urllib.parse.urlsplit(o.upstream)
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=30)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() in ("content-type", "accept")}
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
            status, ctype = r.status, r.getheader("Content-Type",
                                                  "application/json")
        except OSError as e:
            status, ctype = 502, "application/json"
            data = json.dumps({"error_code": 502,
                               "message": "upstream: %s" % e}).encode()
        finally:
            conn.close()
        self.note(status, scheme)
        self.answer(status, data, ctype)

    do_GET = handle_any
    do_POST = handle_any
    do_PUT = handle_any
    do_DELETE = handle_any


class Server(http.server.ThreadingHTTPServer):
    """With TLS, the handshake runs in the request's thread; a failed one
    (a missing or untrusted client certificate) is followed by reading
    what the client still sends until it closes, so that its kernel does
    not get a reset before it read the alert (TLS 1.3 clients send their
    request before the server has judged their certificate)."""

    daemon_threads = True
    ctx = None

    def finish_request(self, request, client_address):
        if self.ctx is not None:
            tls = self.ctx.wrap_socket(request, server_side=True,
                                       do_handshake_on_connect=False)
            try:
                tls.settimeout(30)
                tls.do_handshake()
            except (ssl.SSLError, OSError):
                raw = socket.socket(fileno=os.dup(tls.fileno()))
                raw.settimeout(2)
                try:
                    while raw.recv(65536):
                        pass
                except OSError:
                    pass
                raw.close()
                tls.close()
                return
            request = tls
        self.RequestHandlerClass(request, client_address, self)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--upstream", required=True)
    p.add_argument("--basic")
    p.add_argument("--bearer")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--client-ca")
    p.add_argument("--status", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--log")
    o = p.parse_args()
    o.basic = first_line(o.basic) if o.basic else None
    o.bearer = first_line(o.bearer) if o.bearer else None

    srv = Server(("127.0.0.1", 0), Handler)
    srv.opts = o
    srv.log_lock = threading.Lock()
    if o.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(o.tls[0], o.tls[1])
        if o.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(o.client_ca)
        srv.ctx = ctx
    port = srv.server_address[1]
    if o.port_file:
        tmp = o.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, o.port_file)
    else:
        print(port, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

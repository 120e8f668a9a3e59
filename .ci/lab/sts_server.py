#!/usr/bin/python3
"""The lab's HTTPS server for MTA-STS policies (RFC 8461 section 3.3).

    sts_server.py PORT SITES_DIR DEFAULT_CERT DEFAULT_KEY LOG

Listens on 127.0.0.1:PORT (TLS 1.2 minimum). Each site is a directory SITES_DIR/<host>/ named
after the host a client asks for (SNI and Host header, e.g. mta-sts.partner.test). It may hold:

    body          the bytes served for GET /.well-known/mta-sts.txt (404 when absent)
    status        the HTTP status code (default 200)
    content-type  the Content-Type header (default "text/plain")
    location      a Location header (for redirects)
    delay         seconds to wait before answering (a slow server, for timeout tests)
    cert.pem, key.pem   the certificate chain and key presented for that SNI name

Without a per-site certificate (or without SNI) DEFAULT_CERT/DEFAULT_KEY are presented. Every
request is logged to LOG as one line: host, method, path, status, bytes.

A POST (a TLS-RPT report, RFC 8460 section 5.4) to a site with a `posts` directory is kept
there as NNNNNNNNNNNNNNNNNNN-TID.body with a .meta file beside it (the path and the
Content-Type, one per line) and answered 201; a POST whose path ends in /refuse is answered
500 and not kept; a body over 1 MiB is answered 413. Any other POST is 404.
"""

import http.server
import os
import ssl
import sys
import threading
import time

POLICY_PATH = "/.well-known/mta-sts.txt"
MAX_POST = 1024 * 1024


def read(path, default=None):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return default


def context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx


def main():
    port, sites, default_cert, default_key, log_path = sys.argv[1:6]
    log = open(log_path, "a", buffering=1)
    contexts = {}
    for host in sorted(os.listdir(sites)):
        cert = os.path.join(sites, host, "cert.pem")
        if os.path.exists(cert):
            contexts[host] = context(cert, os.path.join(sites, host, "key.pem"))
    default = context(default_cert, default_key)

    def pick(sslobj, name, _ctx):
        if name is not None and name.lower() in contexts:
            sslobj.context = contexts[name.lower()]

    default.sni_callback = pick

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "mailtls-lab-sts"
        sys_version = ""
        timeout = 30

        def do_GET(self):
            host = (self.headers.get("Host") or "").split(":")[0].lower().rstrip(".")
            site = os.path.join(sites, host)
            body = None
            if self.path == POLICY_PATH and os.path.isdir(site) and "/" not in host:
                body = read(os.path.join(site, "body"))
            if body is None:
                status, ctype, body, location = 404, b"text/plain", b"not found\n", None
            else:
                status = int(read(os.path.join(site, "status"), b"200"))
                ctype = read(os.path.join(site, "content-type"), b"text/plain").strip()
                location = read(os.path.join(site, "location"))
                delay = float(read(os.path.join(site, "delay"), b"0"))
                if delay > 0:
                    time.sleep(delay)
            self.send_response(status)
            self.send_header("Content-Type", ctype.decode())
            self.send_header("Content-Length", str(len(body)))
            if location:
                self.send_header("Location", location.decode().strip())
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True
            log.write(f"{host} GET {self.path} {status} {len(body)}\n")

        def do_POST(self):
            host = (self.headers.get("Host") or "").split(":")[0].lower().rstrip(".")
            posts = os.path.join(sites, host, "posts")
            try:
                length = int(self.headers.get("Content-Length") or "-1")
            except ValueError:
                length = -1
            if length < 0 or length > MAX_POST:
                status = 413
                body = b""
            else:
                body = self.rfile.read(length)
                if "/" in host or not os.path.isdir(posts):
                    status = 404
                elif self.path.endswith("/refuse"):
                    status = 500
                else:
                    name = f"{time.time_ns():019d}-{threading.get_ident()}"
                    with open(os.path.join(posts, name + ".meta"), "w") as f:
                        f.write(f"{self.path}\n{self.headers.get('Content-Type') or ''}\n")
                    # The body last, under its final name at once: a reader never sees half.
                    tmp = os.path.join(posts, name + ".tmp")
                    with open(tmp, "wb") as f:
                        f.write(body)
                    os.rename(tmp, os.path.join(posts, name + ".body"))
                    status = 201
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            log.write(f"{host} POST {self.path} {status} {len(body)}\n")

        def log_message(self, fmt, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
    server.daemon_threads = True
    # The handshake runs in each request's thread (first read), not in accept(): a client that
    # connects and stays silent cannot stall the others.
    server.socket = default.wrap_socket(
        server.socket, server_side=True, do_handshake_on_connect=False
    )
    log.write(f"listening on 127.0.0.1:{port} with {len(contexts)} SNI certificate(s)\n")
    server.serve_forever()


if __name__ == "__main__":
    main()

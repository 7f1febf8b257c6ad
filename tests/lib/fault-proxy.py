#!/usr/bin/env python3
"""A reverse proxy on 127.0.0.1 in front of the REAL RabbitMQ management API
that injects the faults a real deployment meets behind a misconfigured
proxy. Standard library only.

usage: fault-proxy.py UPSTREAM_URL MODE_FILE

Binds a free port (port 0) and prints it alone on stdout line 1 once it
accepts connections. The mode is read from MODE_FILE on every request, so a
test switches it with `echo MODE > FILE` (no file = pass; an empty read
keeps the previous mode):

  pass      forward unchanged: method, path, body and headers, the client's
            Authorization included (UPSTREAM_URL's own user:password is
            ignored, so a wrong password stays wrong)
  html      answer 200 text/html with an HTML error page
  truncate  forward, but cut the body in half (a well-formed HTTP answer
            whose JSON stops in the middle: Content-Length of the half)
  cut       forward, announce the full Content-Length, send half the body
            and close the connection (a transfer cut off mid-way)
  hang      accept and never answer (the connection is dropped without a
            reply once the mode is no longer hang)
  500       answer 500 Internal Server Error

Started and stopped by pid by the tests; it also exits by itself when its
parent process goes away, so a crashed test cannot leave it behind.
"""
import http.client
import http.server
import os
import sys
import threading
import time
import urllib.parse

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailers", "transfer-encoding", "upgrade", "host", "content-length"}
HTML = (b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
        b"<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n")


_last_mode = "pass"


def read_mode(path):
    """The mode in the file; an empty read (`echo X > FILE` truncates before
    it writes) keeps the mode seen last."""
    global _last_mode
    try:
        with open(path) as f:
            mode = f.read().strip()
    except OSError:
        mode = "pass"
    if mode:
        _last_mode = mode
    return _last_mode


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = None   # urllib.parse.SplitResult
    mode_file = None

    def log_message(self, *args):
        pass

    def reply(self, status, headers, body, send=None):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body if send is None else send)

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port or 80, timeout=30)
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            out = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
            return resp.status, out, data
        except OSError as e:
            return 502, [("Content-Type", "text/plain")], f"fault-proxy: upstream: {e}\n".encode()
        finally:
            conn.close()

    def handle_any(self):
        mode = read_mode(self.mode_file)
        if mode == "hang":
            while read_mode(self.mode_file) == "hang":
                time.sleep(0.1)
            self.close_connection = True
            return
        if mode == "html":
            self.reply(200, [("Content-Type", "text/html")], HTML)
        elif mode == "500":
            self.reply(500, [("Content-Type", "text/plain")], b"500 Internal Server Error\n")
        else:
            status, headers, data = self.forward()
            if mode == "truncate":
                self.reply(status, headers, data[: len(data) // 2])
            elif mode == "cut":
                self.close_connection = True
                self.reply(status, headers, data, send=data[: len(data) // 2])
            else:
                self.reply(status, headers, data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = handle_any


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: fault-proxy.py UPSTREAM_URL MODE_FILE")
    Handler.upstream = urllib.parse.urlsplit(sys.argv[1])
    Handler.mode_file = sys.argv[2]
    if Handler.upstream.scheme != "http" or not Handler.upstream.hostname:
        sys.exit("fault-proxy: UPSTREAM_URL must be http://[user:pass@]host:port/")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.5)


if __name__ == "__main__":
    main()

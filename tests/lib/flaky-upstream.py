#!/usr/bin/env python3
"""An HTTP upstream the breaker tests control: answers every GET with 200
and the body {} — or 500 while the file FLAG exists — and appends the time
of each request received (ms since the epoch) as a line of HITS, so a test
counts what reached the upstream. Standard library only, 127.0.0.1 only.

  flaky-upstream.py PORT FLAG HITS
"""
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, flag, hits = int(sys.argv[1]), sys.argv[2], sys.argv[3]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        with open(hits, "a") as f:
            f.write("%d\n" % int(time.time() * 1000))
        code = 500 if os.path.exists(flag) else 200
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()

# A counting reverse proxy in front of RabbitMQ's management API, for the
# tests that count what qdeck asks of it: forwards every GET (with its
# Authorization) to UPSTREAM and writes one line "<unix time> <path>" per
# request to LOG.
#   python3 counting-proxy.py PORT UPSTREAM LOG
import http.server, sys, time, urllib.error, urllib.request

port, upstream, log = int(sys.argv[1]), sys.argv[2], open(sys.argv[3], "a", buffering=1)

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        log.write("%.3f %s\n" % (time.time(), self.path))
        req = urllib.request.Request(upstream + self.path, headers={"Authorization": self.headers.get("Authorization", "")})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                body, status, ctype = r.read(), r.status, r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            body, status, ctype = e.read(), e.code, e.headers.get("Content-Type", "")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()

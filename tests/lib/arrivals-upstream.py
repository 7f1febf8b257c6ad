# An HTTP upstream that logs the arrival time of every POST, one line of
# epoch seconds each, to the file named by argv[1], and answers {} at once.
# Prints its port (bound on 127.0.0.1, chosen by the kernel) when ready.
# Used by the fleet rate test and benchmark to count calls where a real
# provider counts them: at its side.
import http.server, sys, threading, time
log = open(sys.argv[1], "a", buffering=1)   # appends: a caller may truncate it between runs
lock = threading.Lock()
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with lock:
            log.write("%.6f\n" % time.time())
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()

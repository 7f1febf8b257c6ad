# An HTTP upstream that logs the arrival time of every POST, one line of
# epoch seconds each, to the file named by argv[1], and answers {} at once.
# Prints its port (bound on 127.0.0.1, chosen by the kernel) when ready.
# Used by the fleet rate test and benchmark to count calls where a real
# provider counts them: at its side, as they arrive.
#
# The time logged is the kernel's receive time of the request's first bytes
# (SO_TIMESTAMPNS, read with recvmsg), not the moment this server gets to
# them: on a loaded machine a server thread may run tens of milliseconds
# late, and it would then log calls that arrived apart as one bunch. One
# thread, one selector, keep-alive connections; a request is a request line,
# headers and a Content-Length body.
import selectors, socket, struct, sys, time

SO_TIMESTAMPNS = 35          # Linux; the socket module does not name it
log = open(sys.argv[1], "a", buffering=1)   # appends: a caller may truncate it between runs
ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
          b"Content-Length: 2\r\n\r\n{}")


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.arrived = None   # kernel time of the first bytes of the request in buf


warned = False


def kernel_time(ancillary):
    """The receive time the kernel stamped; our own clock, said once on
    stderr, where a kernel gives none."""
    global warned
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            return sec + nsec / 1e9
    if not warned:
        print("arrivals-upstream: no kernel receive time; logging when read", file=sys.stderr)
        warned = True
    return time.time()


def body_length(head):
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def serve(conn, sel):
    try:
        data, anc, _, _ = conn.sock.recvmsg(65536, 256)
    except (ConnectionError, BlockingIOError):
        data, anc = b"", []
    if not data:
        sel.unregister(conn.sock)
        conn.sock.close()
        return
    if not conn.buf:
        conn.arrived = kernel_time(anc)
    conn.buf += data
    while True:
        end = conn.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        need = end + 4 + body_length(conn.buf[:end])
        if len(conn.buf) < need:
            return
        if conn.buf.startswith(b"POST "):
            log.write("%.6f\n" % conn.arrived)
        conn.sock.sendall(ANSWER)
        conn.buf = conn.buf[need:]   # a pipelined request came in the same read


def main():
    sel = selectors.DefaultSelector()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)   # accepted sockets inherit it
    srv.bind(("127.0.0.1", 0))
    srv.listen(1024)
    srv.setblocking(False)
    sel.register(srv, selectors.EVENT_READ, None)
    print(srv.getsockname()[1], flush=True)
    while True:
        for key, _ in sel.select():
            if key.data is None:
                try:
                    sock, _ = srv.accept()
                except BlockingIOError:
                    continue
                sock.setblocking(True)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sel.register(sock, selectors.EVENT_READ, Conn(sock))
            else:
                serve(key.data, sel)


main()
